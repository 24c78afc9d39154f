//! The workspace's activity log, readable by every member: a paged list (newest first,
//! filtered by action or actor), the latest entries, and counts per action.

use super::auth::invalid_field;
use super::caller::Member;
use super::problem::Problem;
use crate::app::App;
use crate::store::activity::{self, Activity, Filter};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(recent))
        .routes(routes!(stats))
}

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;
/// How many entries `…/activity/recent` answers.
pub const RECENT: i64 = 20;
/// The window of `…/activity/stats` when `since` is not given.
const DEFAULT_STATS_DAYS: i64 = 30;
/// Longer filter values cannot match anything we record.
const MAX_FILTER_CHARS: usize = 100;

#[derive(Serialize, ToSchema)]
pub struct ActivityView {
    pub id: String,
    /// The user who acted (none for the system).
    pub actor_id: Option<String>,
    /// `noun.verb`, e.g. `member.role_changed`.
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<Activity> for ActivityView {
    fn from(a: Activity) -> ActivityView {
        ActivityView {
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
            id: a.id,
            actor_id: a.actor_id,
            action: a.action,
            subject_type: a.subject_type,
            subject_id: a.subject_id,
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActivityPage {
    pub items: Vec<ActivityView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<String>,
}

fn bad_query(e: QueryRejection) -> Problem {
    Problem::bad_request("invalid-query", e.body_text())
}

fn filter_value(field: &str, v: Option<String>) -> Result<Option<String>, Problem> {
    match v {
        Some(v) if v.is_empty() || v.chars().count() > MAX_FILTER_CHARS => Err(invalid_field(
            field,
            format!("must be 1 to {MAX_FILTER_CHARS} characters"),
        )),
        v => Ok(v),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// Only entries older than this entry id (`next_before` of the previous page).
    pub before: Option<String>,
    /// Only this action, e.g. `member.removed`.
    pub action: Option<String>,
    /// Only entries by this user id.
    pub actor: Option<String>,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/activity", tag = "activity", summary = "The activity log, newest first",
    params(("workspace_id" = String, Path), ActivityQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "one page", body = ActivityPage),
        (status = 400, description = "malformed query", body = Problem),
        (status = 401, description = "not signed in", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem),
        (status = 422, description = "invalid parameter", body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
    query: Result<Query<ActivityQuery>, QueryRejection>,
) -> Result<axum::Json<ActivityPage>, Problem> {
    let Query(q) = query.map_err(bad_query)?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid_field(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let filter = Filter {
        before: filter_value("before", q.before)?,
        action: filter_value("action", q.action)?,
        actor_id: filter_value("actor", q.actor)?,
        // One more than asked tells whether another page follows.
        limit: i64::from(limit) + 1,
    };
    let mut rows = activity::list(&app.db, &member.workspace_id, &filter).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_before = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    Ok(axum::Json(ActivityPage {
        items: rows.into_iter().map(Into::into).collect(),
        next_before,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RecentActivity {
    pub items: Vec<ActivityView>,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/activity/recent", tag = "activity", summary = "The 20 latest entries",
    params(("workspace_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "newest first", body = RecentActivity),
        (status = 401, description = "not signed in", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem)))]
pub async fn recent(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<RecentActivity>, Problem> {
    let filter = Filter {
        limit: RECENT,
        ..Filter::default()
    };
    let rows = activity::list(&app.db, &member.workspace_id, &filter).await?;
    Ok(axum::Json(RecentActivity {
        items: rows.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// RFC 3339 time to count from (default: 30 days ago).
    pub since: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ActivityStats {
    pub since: DateTime<Utc>,
    pub total: i64,
    /// Entries per action.
    pub counts: BTreeMap<String, i64>,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/activity/stats", tag = "activity", summary = "How many entries of each action since a time",
    params(("workspace_id" = String, Path), StatsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "counts per action", body = ActivityStats),
        (status = 400, description = "malformed query", body = Problem),
        (status = 401, description = "not signed in", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem),
        (status = 422, description = "`since` is not an RFC 3339 time", body = Problem)))]
pub async fn stats(
    State(app): State<Arc<App>>,
    member: Member,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<axum::Json<ActivityStats>, Problem> {
    let Query(q) = query.map_err(bad_query)?;
    let since = match q.since {
        Some(s) => DateTime::parse_from_rfc3339(&s)
            .map_err(|_| {
                invalid_field(
                    "since",
                    "must be an RFC 3339 time, e.g. 2026-01-31T09:00:00Z",
                )
            })?
            .with_timezone(&Utc),
        None => Utc::now() - chrono::Duration::days(DEFAULT_STATS_DAYS),
    };
    let counts: BTreeMap<String, i64> =
        activity::counts_since(&app.db, &member.workspace_id, since)
            .await?
            .into_iter()
            .collect();
    Ok(axum::Json(ActivityStats {
        since,
        total: counts.values().sum(),
        counts,
    }))
}
