//! Analytics: metrics of accounts and posts as time series over a date range, optionally
//! one point per hour or day, with the latest values; refreshes on demand.

use super::caller::{Member, Role};
use super::problem::Problem;
use crate::analytics::series::{self, Bucket, Series};
use crate::app::App;
use crate::store::metrics;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::Feature;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(account_metrics))
        .routes(routes!(post_metrics))
        .routes(routes!(refresh))
}

/// The widest range one query covers.
const MAX_RANGE_DAYS: i64 = 400;
const DEFAULT_RANGE_DAYS: i64 = 30;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Start, inclusive (RFC 3339); default 30 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End, exclusive (RFC 3339); default now.
    pub to: Option<DateTime<Utc>>,
    /// `hour` or `day`: one point per period, its last value. Default: every sample.
    pub bucket: Option<Bucket>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MetricsView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub series: Vec<Series>,
}

/// A checked range: from, to, bucket.
type Range = (DateTime<Utc>, DateTime<Utc>, Option<Bucket>);

fn range(
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Range, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q
        .from
        .unwrap_or(to - chrono::Duration::days(DEFAULT_RANGE_DAYS));
    if from >= to {
        return Err(Problem::bad_request(
            "invalid-range",
            "`from` must be before `to`",
        ));
    }
    if to - from > chrono::Duration::days(MAX_RANGE_DAYS) {
        return Err(Problem::bad_request(
            "invalid-range",
            format!("a range covers at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok((from, to, q.bucket))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/accounts/{account_id}/metrics", tag = "analytics", summary = "An account's metrics over time",
    params(("workspace_id" = String, Path), ("account_id" = String, Path), RangeQuery), security(("bearer" = [])),
    responses((status = 200, body = MetricsView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn account_metrics(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, account_id)): Path<(String, String)>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<MetricsView>, Problem> {
    let (from, to, bucket) = range(query)?;
    crate::store::accounts::get(&app.db, &member.workspace_id, &account_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("account `{account_id}` not found")))?;
    let samples = metrics::of_account(&app.db, &member.workspace_id, &account_id, from, to).await?;
    Ok(axum::Json(MetricsView {
        from,
        to,
        series: series::build(samples, bucket),
    }))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/posts/{post_id}/metrics", tag = "analytics", summary = "A post's metrics over time, per target",
    params(("workspace_id" = String, Path), ("post_id" = String, Path), RangeQuery), security(("bearer" = [])),
    responses((status = 200, body = MetricsView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn post_metrics(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, post_id)): Path<(String, String)>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<MetricsView>, Problem> {
    let (from, to, bucket) = range(query)?;
    crate::store::posts::get(&app.db, &member.workspace_id, &post_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("post `{post_id}` not found")))?;
    let samples = metrics::of_post(&app.db, &member.workspace_id, &post_id, from, to).await?;
    Ok(axum::Json(MetricsView {
        from,
        to,
        series: series::build(samples, bucket),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RefreshQueued {
    pub job_id: String,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/accounts/{account_id}/metrics/refresh", tag = "analytics", summary = "Refresh an account's metrics now",
    description = "Queues a `refresh-metrics` job: the account's metrics and those of its posts published in the last 30 days.",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)), security(("bearer" = [])),
    responses((status = 202, body = RefreshQueued), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn refresh(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, account_id)): Path<(String, String)>,
) -> Result<(StatusCode, axum::Json<RefreshQueued>), Problem> {
    member.require(Role::Editor)?;
    let account = crate::store::accounts::get(&app.db, &member.workspace_id, &account_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("account `{account_id}` not found")))?;
    if account.status != crate::store::accounts::ACTIVE {
        return Err(Problem::conflict(
            "account-not-active",
            format!("account `{account_id}` is {}", account.status),
        ));
    }
    if !crate::analytics::has_feature(&app, &account.plugin_id, Feature::Metrics).await {
        return Err(Problem::unprocessable(
            "unsupported",
            format!("`{}` reports no metrics", account.plugin_id),
        ));
    }
    let job_id = crate::analytics::enqueue(&app, &member.workspace_id, &account.id, 0)
        .await?
        .ok_or_else(|| {
            Problem::conflict(
                "refresh-in-flight",
                "a refresh of this account is already queued",
            )
        })?;
    Ok((StatusCode::ACCEPTED, axum::Json(RefreshQueued { job_id })))
}
