//! Metric samples as time series: one row per (account or post target, metric, moment).

use super::{Db, Tx};
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Utc};

/// One sample.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Sample {
    pub target_id: Option<String>,
    pub name: String,
    pub value: f64,
    pub captured_at: DateTime<Utc>,
}

/// Adds the samples of one refresh of an account (`target_id` None) or post target.
pub async fn insert(
    db: &Db,
    tx: &mut Tx,
    workspace_id: &str,
    account_id: &str,
    samples: &[Sample],
) -> Result<()> {
    for s in samples {
        let sql = db.sql(
            "INSERT INTO metric_samples (workspace_id, account_id, target_id, name, value, captured_at) VALUES (?, ?, ?, ?, ?, ?)",
        );
        on_tx!(tx, |c| sqlx::query(sql)
            .bind(workspace_id)
            .bind(account_id)
            .bind(&s.target_id)
            .bind(&s.name)
            .bind(s.value)
            .bind(s.captured_at)
            .execute(&mut **c)
            .await
            .map(|_| ())?);
    }
    Ok(())
}

/// Most samples one query returns: bounds the memory of a wide date range.
pub const MAX_SAMPLES: i64 = 50_000;

/// The account's own samples in `[from, to)`, oldest first (the newest [`MAX_SAMPLES`] when
/// there are more, so the latest values are never the ones cut off).
pub async fn of_account(
    db: &Db,
    workspace_id: &str,
    account_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Sample>> {
    let sql = db.sql(
        "SELECT target_id, name, value, captured_at FROM metric_samples \
         WHERE workspace_id = ? AND account_id = ? AND target_id IS NULL AND captured_at >= ? AND captured_at < ? \
         ORDER BY captured_at DESC LIMIT ?",
    );
    let mut samples: Vec<Sample> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(account_id)
        .bind(from)
        .bind(to)
        .bind(MAX_SAMPLES)
        .fetch_all(p)
        .await?);
    samples.reverse();
    Ok(samples)
}

/// The samples of a post's targets in `[from, to)`, oldest first (the newest
/// [`MAX_SAMPLES`] when there are more).
pub async fn of_post(
    db: &Db,
    workspace_id: &str,
    post_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Sample>> {
    let sql = db.sql(
        "SELECT m.target_id, m.name, m.value, m.captured_at FROM metric_samples m \
         JOIN post_targets t ON t.id = m.target_id \
         WHERE m.workspace_id = ? AND t.post_id = ? AND m.captured_at >= ? AND m.captured_at < ? \
         ORDER BY m.captured_at DESC LIMIT ?",
    );
    let mut samples: Vec<Sample> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(post_id)
        .bind(from)
        .bind(to)
        .bind(MAX_SAMPLES)
        .fetch_all(p)
        .await?);
    samples.reverse();
    Ok(samples)
}
