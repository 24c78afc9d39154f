//! Token usage: one row per provider call, summed per calendar month (UTC) against the
//! workspace's budget. The budget is checked before a call; the call that crosses it
//! finishes (its cost is only known at the end), the next one is refused.

use super::{AiError, Tokens};
use crate::app::App;
use crate::on_db;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::Serialize;

/// One call to record.
pub struct Call<'a> {
    pub workspace_id: &'a str,
    pub user_id: Option<&'a str>,
    pub purpose: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub tokens: Tokens,
}

pub async fn record(app: &App, call: &Call<'_>) -> Result<(), AiError> {
    let sql = app.db.sql(
        "INSERT INTO ai_usage (id, workspace_id, user_id, purpose, provider, model, input_tokens, output_tokens, estimated, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    on_db!(&app.db, |p| sqlx::query(sql)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(call.workspace_id)
        .bind(call.user_id)
        .bind(call.purpose)
        .bind(call.provider)
        .bind(call.model)
        .bind(i64::from(call.tokens.input_tokens))
        .bind(i64::from(call.tokens.output_tokens))
        .bind(call.tokens.estimated)
        .bind(crate::media::ingest::now())
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(())
}

/// The start of the month `at` falls in, and of the next one.
pub fn month_of(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists");
    let (y, m) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists");
    (start, next)
}

/// Usage of one purpose, provider and model in a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageLine {
    pub purpose: String,
    pub provider: String,
    pub model: String,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// A workspace's usage this month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Input plus output: what counts against the limit.
    pub total_tokens: i64,
    pub monthly_token_limit: Option<i64>,
    /// Tokens left this month (none: unlimited).
    pub remaining_tokens: Option<i64>,
    pub by_purpose: Vec<UsageLine>,
}

type LineRow = (String, String, String, i64, i64, i64);

pub async fn this_month(app: &App, workspace_id: &str) -> Result<Usage, AiError> {
    let (start, end) = month_of(Utc::now());
    let sql = app.db.sql(
        "SELECT purpose, provider, model, COUNT(*), CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) FROM ai_usage WHERE workspace_id = ? AND created_at >= ? AND created_at < ? GROUP BY purpose, provider, model ORDER BY purpose, provider, model",
    );
    let rows: Vec<LineRow> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(start)
        .bind(end)
        .fetch_all(p)
        .await?);
    let by_purpose: Vec<UsageLine> = rows
        .into_iter()
        .map(
            |(purpose, provider, model, calls, input_tokens, output_tokens)| UsageLine {
                purpose,
                provider,
                model,
                calls,
                input_tokens,
                output_tokens,
            },
        )
        .collect();
    let calls = by_purpose.iter().map(|l| l.calls).sum();
    let input_tokens: i64 = by_purpose.iter().map(|l| l.input_tokens).sum();
    let output_tokens: i64 = by_purpose.iter().map(|l| l.output_tokens).sum();
    let total_tokens = input_tokens + output_tokens;
    let limit = super::providers::get(app, workspace_id)
        .await?
        .monthly_token_limit;
    Ok(Usage {
        period_start: start,
        period_end: end,
        calls,
        input_tokens,
        output_tokens,
        total_tokens,
        monthly_token_limit: limit,
        remaining_tokens: limit.map(|l| (l - total_tokens).max(0)),
        by_purpose,
    })
}

/// Refuses when the workspace has used its monthly budget.
pub async fn check_budget(app: &App, workspace_id: &str) -> Result<(), AiError> {
    let Some(limit) = super::providers::get(app, workspace_id)
        .await?
        .monthly_token_limit
    else {
        return Ok(());
    };
    let (start, end) = month_of(Utc::now());
    let sql = app.db.sql(
        "SELECT CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) FROM ai_usage WHERE workspace_id = ? AND created_at >= ?",
    );
    let used: i64 = on_db!(&app.db, |p| sqlx::query_scalar(sql)
        .bind(workspace_id)
        .bind(start)
        .fetch_one(p)
        .await?);
    if used >= limit {
        return Err(AiError::LimitExceeded {
            used,
            limit,
            renews: end.format("%Y-%m-%d").to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_roll_over_the_year() {
        let at = Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap();
        let (start, next) = month_of(at);
        assert_eq!(start, Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let (start, next) = month_of(Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap());
        assert_eq!(start, Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap());
        assert_eq!(next, Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap());
    }
}
