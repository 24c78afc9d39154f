//! Recurring posts: a post becomes the template of a series (an RRULE subset from a local
//! DTSTART in an IANA zone); each occurrence is published as a copy of it. See
//! `posts::recurrence` for how occurrences are made.

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use super::schedule::workspace_zone;
use super::slots::check_targets;
use crate::app::App;
use crate::posts::recurrence::rrule::{Rule, RuleError};
use crate::posts::recurrence::{self, Series};
use crate::posts::schedule::{parse_local, parse_zone};
use crate::store::posts;
use crate::store::recurrences as store;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(create, get, stop))
}

/// Longest rule text accepted.
const MAX_RULE_CHARS: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurrenceInput {
    /// RFC 5545 RRULE subset: FREQ=DAILY|WEEKLY|MONTHLY, INTERVAL, BYDAY (weekly),
    /// BYMONTHDAY (monthly), COUNT or UNTIL.
    #[schema(example = "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10")]
    pub rrule: String,
    /// DTSTART: local date and time without offset, e.g. `2027-03-01T09:00`.
    pub start_local: String,
    /// IANA zone; default the workspace's.
    pub timezone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OccurrenceView {
    pub at: DateTime<Utc>,
    /// Local time in the series' zone, `YYYY-MM-DDTHH:MM:SS` (the same time of day every
    /// time).
    pub local: String,
    /// Set when daylight saving adjusted the local time.
    pub note: Option<String>,
    /// The post made for this occurrence, once it is made.
    pub post_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecurrenceView {
    pub id: String,
    /// The template post.
    pub post_id: String,
    /// The rule in its normal form.
    pub rrule: String,
    pub start_local: String,
    pub timezone: String,
    /// No occurrence is left.
    pub ended: bool,
    pub upcoming: Vec<OccurrenceView>,
}

async fn view(
    app: &App,
    series: &Series,
    from: DateTime<Utc>,
    limit: usize,
) -> Result<RecurrenceView, Problem> {
    let made: HashMap<i64, String> = store::occurrences(&app.db, &series.row.id)
        .await?
        .into_iter()
        .collect();
    let upcoming: Vec<OccurrenceView> = series
        .after(from)
        .take(limit)
        .map(|o| OccurrenceView {
            post_id: made.get(&o.at.timestamp_millis()).cloned(),
            at: o.at,
            local: o.local.format("%Y-%m-%dT%H:%M:%S").to_string(),
            note: o.note,
        })
        .collect();
    Ok(RecurrenceView {
        id: series.row.id.clone(),
        post_id: series.row.template_post_id.clone(),
        rrule: series.row.rrule.clone(),
        start_local: series.row.start_local.clone(),
        timezone: series.row.timezone.clone(),
        ended: series.after(Utc::now()).next().is_none(),
        upcoming,
    })
}

fn rule_problem(e: RuleError) -> Problem {
    let kind = match e {
        RuleError::Unsupported { .. } => "unsupported-rrule",
        RuleError::Invalid { .. } => "invalid-rrule",
    };
    let part = e.part().to_string();
    Problem::unprocessable(kind, e.to_string())
        .with_errors(vec![serde_json::json!({"field": "rrule", "part": part})])
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/posts/{post_id}/recurrence", tag = "scheduling", summary = "Make a post recur",
    description = "The post becomes the template of a series and stays a draft; each occurrence is published as a copy of it made when the previous one is due, at the same local time of day whatever daylight saving does. Unsupported RRULE parts are refused (422) with the part named.",
    params(("workspace_id" = String, Path), ("post_id" = String, Path)), request_body = RecurrenceInput, security(("bearer" = [])),
    responses((status = 201, body = RecurrenceView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "the post already recurs, or a target left draft", body = Problem),
        (status = 422, description = "an invalid or unsupported rule, start or zone; no targets; platform problems; no occurrence after now", body = Problem)))]
pub async fn create(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, post_id)): Path<(String, String)>,
    Json(input): Json<RecurrenceInput>,
) -> Result<(StatusCode, axum::Json<RecurrenceView>), Problem> {
    member.require(Role::Editor)?;
    let post = posts::get(&app.db, &member.workspace_id, &post_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("post `{post_id}` not found")))?;
    if input.rrule.chars().count() > MAX_RULE_CHARS {
        return Err(Problem::unprocessable(
            "invalid-rrule",
            format!("the rule is longer than {MAX_RULE_CHARS} characters"),
        ));
    }
    let rule: Rule = input.rrule.parse().map_err(rule_problem)?;
    let start =
        parse_local(&input.start_local).map_err(|m| Problem::unprocessable("invalid-start", m))?;
    let timezone = match input.timezone {
        Some(z) => z,
        None => workspace_zone(&app, &member.workspace_id).await?,
    };
    let zone = parse_zone(&timezone).map_err(|m| Problem::unprocessable("invalid-timezone", m))?;
    if rule
        .occurrences(start, zone)
        .take(recurrence::MAX_SCAN)
        .find(|o| o.at > Utc::now())
        .is_none()
    {
        return Err(Problem::unprocessable(
            "no-occurrences",
            "the rule has no occurrence after now",
        ));
    }
    if store::for_template(&app.db, &member.workspace_id, &post_id)
        .await?
        .is_some()
    {
        return Err(Problem::conflict(
            "recurrence-exists",
            "the post already recurs; stop it (DELETE) before giving it another rule",
        ));
    }
    check_targets(&app, &member.workspace_id, &post, &["draft"]).await?;
    let (series, first) =
        recurrence::start(&app, &post, &member.user.id, rule, start, &timezone).await?;
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "post.recurrence_set",
        "post",
        Some(&post_id),
        serde_json::json!({"rrule": series.row.rrule, "start_local": series.row.start_local, "timezone": timezone, "first_post": first}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(view(&app, &series, Utc::now(), 10).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UpcomingQuery {
    /// Occurrences after this instant (RFC 3339); default now.
    pub from: Option<DateTime<Utc>>,
    /// 1–100, default 10.
    pub limit: Option<usize>,
}

async fn series_of(app: &App, member: &Member, post_id: &str) -> Result<Series, Problem> {
    posts::get(&app.db, &member.workspace_id, post_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("post `{post_id}` not found")))?;
    recurrence::for_template(app, &member.workspace_id, post_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("post `{post_id}` does not recur")))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/posts/{post_id}/recurrence", tag = "scheduling", summary = "A post's rule and upcoming occurrences",
    params(("workspace_id" = String, Path), ("post_id" = String, Path), UpcomingQuery), security(("bearer" = [])),
    responses((status = 200, body = RecurrenceView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, post_id)): Path<(String, String)>,
    query: Result<Query<UpcomingQuery>, QueryRejection>,
) -> Result<axum::Json<RecurrenceView>, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(Problem::bad_request(
            "invalid-query",
            "`limit` must be 1 to 100",
        ));
    }
    let series = series_of(&app, &member, &post_id).await?;
    Ok(axum::Json(
        view(&app, &series, q.from.unwrap_or_else(Utc::now), limit).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stopped {
    /// Occurrence posts that were scheduled and are now deleted.
    pub cancelled: Vec<String>,
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/posts/{post_id}/recurrence", tag = "scheduling", summary = "Stop a post recurring",
    description = "No further occurrences are made; occurrences made but not yet publishing are cancelled and deleted. Published ones stay.",
    params(("workspace_id" = String, Path), ("post_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Stopped), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn stop(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, post_id)): Path<(String, String)>,
) -> Result<axum::Json<Stopped>, Problem> {
    member.require(Role::Editor)?;
    let series = series_of(&app, &member, &post_id).await?;
    let cancelled = recurrence::stop(&app, &series).await?;
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "post.recurrence_stopped",
        "post",
        Some(&post_id),
        serde_json::json!({"cancelled": cancelled}),
    )
    .await?;
    Ok(axum::Json(Stopped { cancelled }))
}
