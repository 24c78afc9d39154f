//! Queue slots: each account's posting times per weekday in an IANA zone, the upcoming
//! slot times, and "add to queue" (every target of a post to its account's next free slot).

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use super::schedule::workspace_zone;
use crate::app::App;
use crate::posts::schedule::{SCHEDULABLE, parse_zone};
use crate::posts::slots::{self, QueueError, Slot, Slots};
use crate::store::posts::{self, Post};
use crate::store::slots::{self as store, SlotSet};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_slots, put_slots))
        .routes(routes!(upcoming))
        .routes(routes!(queue))
}

/// An account's queue slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotSetView {
    pub account_id: String,
    /// IANA zone the slot times are read in.
    pub timezone: String,
    /// Sorted by weekday (Monday first), then time.
    pub slots: Vec<Slot>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotSetInput {
    /// IANA zone, e.g. `Europe/Berlin`; default the workspace's.
    pub timezone: Option<String>,
    /// The whole set (replaces the previous one; empty clears it).
    pub slots: Vec<Slot>,
}

async fn account(app: &App, member: &Member, account_id: &str) -> Result<(), Problem> {
    if store::account_exists(&app.db, &member.workspace_id, account_id).await? {
        Ok(())
    } else {
        Err(Problem::not_found(format!(
            "account `{account_id}` not found"
        )))
    }
}

/// The account's slot set; an account without one has no slots, in the workspace's zone.
async fn slot_set(app: &App, workspace_id: &str, account_id: &str) -> Result<SlotSet, Problem> {
    Ok(match store::get(&app.db, workspace_id, account_id).await? {
        Some(set) => set,
        None => SlotSet {
            timezone: workspace_zone(app, workspace_id).await?,
            slots: Vec::new(),
        },
    })
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/accounts/{account_id}/slots", tag = "scheduling", summary = "An account's queue slots",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = SlotSetView), (status = 404, body = Problem)))]
pub async fn get_slots(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, account_id)): Path<(String, String)>,
) -> Result<axum::Json<SlotSetView>, Problem> {
    account(&app, &member, &account_id).await?;
    let set = slot_set(&app, &member.workspace_id, &account_id).await?;
    Ok(axum::Json(SlotSetView {
        account_id,
        timezone: set.timezone,
        slots: set.slots,
    }))
}

#[utoipa::path(put, path = "/workspaces/{workspace_id}/accounts/{account_id}/slots", tag = "scheduling", summary = "Set an account's queue slots",
    description = "Posting times per weekday, local to the zone: a 09:00 slot is 09:00 in winter and in summer. Times are `HH:MM`; at most 200 slots.",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)), request_body = SlotSetInput, security(("bearer" = [])),
    responses((status = 200, body = SlotSetView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_slots(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, account_id)): Path<(String, String)>,
    Json(input): Json<SlotSetInput>,
) -> Result<axum::Json<SlotSetView>, Problem> {
    member.require(Role::Editor)?;
    account(&app, &member, &account_id).await?;
    let timezone = match input.timezone {
        Some(z) => z,
        None => workspace_zone(&app, &member.workspace_id).await?,
    };
    parse_zone(&timezone).map_err(|m| Problem::unprocessable("invalid-timezone", m))?;
    let checked =
        Slots::parse(&input.slots).map_err(|m| Problem::unprocessable("invalid-slots", m))?;
    let set = SlotSet {
        timezone,
        slots: checked.views(),
    };
    store::put(&app.db, &member.workspace_id, &account_id, &set).await?;
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "account.slots_set",
        "account",
        Some(&account_id),
        serde_json::json!({"timezone": set.timezone, "slots": set.slots.len()}),
    )
    .await?;
    Ok(axum::Json(SlotSetView {
        account_id,
        timezone: set.timezone,
        slots: set.slots,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UpcomingQuery {
    /// Slot times after this instant (RFC 3339); default now.
    pub from: Option<DateTime<Utc>>,
    /// 1–100, default 10.
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpcomingSlot {
    pub at: DateTime<Utc>,
    /// The slot's local time, `YYYY-MM-DDTHH:MM:SS`.
    pub local: String,
    /// Set when daylight saving adjusted the local time.
    pub note: Option<String>,
    /// A target of this account is scheduled at this instant.
    pub taken: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpcomingSlots {
    pub account_id: String,
    pub timezone: String,
    pub slots: Vec<UpcomingSlot>,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/accounts/{account_id}/slots/upcoming", tag = "scheduling", summary = "The account's next slot times, free or taken",
    params(("workspace_id" = String, Path), ("account_id" = String, Path), UpcomingQuery), security(("bearer" = [])),
    responses((status = 200, body = UpcomingSlots), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn upcoming(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, account_id)): Path<(String, String)>,
    query: Result<Query<UpcomingQuery>, QueryRejection>,
) -> Result<axum::Json<UpcomingSlots>, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(Problem::bad_request(
            "invalid-query",
            "`limit` must be 1 to 100",
        ));
    }
    account(&app, &member, &account_id).await?;
    let set = slot_set(&app, &member.workspace_id, &account_id).await?;
    let zone = parse_zone(&set.timezone).map_err(anyhow::Error::msg)?;
    let checked = Slots::parse(&set.slots).map_err(anyhow::Error::msg)?;
    let from = q.from.unwrap_or_else(Utc::now);
    let taken = store::taken_now(
        &app.db,
        &member.workspace_id,
        &account_id,
        from.timestamp_millis(),
    )
    .await?;
    let slots = checked
        .upcoming(zone, from)
        .take(limit)
        .map(|s| UpcomingSlot {
            taken: taken.contains(&s.at.timestamp_millis()),
            at: s.at,
            local: s.local.format("%Y-%m-%dT%H:%M:%S").to_string(),
            note: s.note,
        })
        .collect();
    Ok(axum::Json(UpcomingSlots {
        account_id,
        timezone: set.timezone,
        slots,
    }))
}

/// Refuses a post whose targets cannot be scheduled: none, one in a status outside
/// `allowed` (409), or one its platform would refuse (422, with the problems).
pub async fn check_targets(
    app: &App,
    workspace_id: &str,
    post: &Post,
    allowed: &[&str],
) -> Result<(), Problem> {
    if post.targets.is_empty() {
        return Err(Problem::unprocessable(
            "no-targets",
            "the post has no targets",
        ));
    }
    if let Some(busy) = post
        .targets
        .iter()
        .find(|t| !allowed.contains(&t.status.as_str()))
    {
        return Err(Problem::conflict(
            "target-not-schedulable",
            format!(
                "target `{}` is {}; this needs every target {}",
                busy.id,
                busy.status,
                allowed.join(", ")
            ),
        ));
    }
    let mut problems = Vec::new();
    for t in &post.targets {
        for p in crate::posts::check::target(app, workspace_id, post, t).await? {
            problems.push(serde_json::json!({"target_id": t.id, "account_id": t.account_id, "field": p.field, "code": p.code, "message": p.message}));
        }
    }
    if !problems.is_empty() {
        return Err(Problem::unprocessable(
            "post-invalid",
            "some targets would be refused by their platform; fix these first",
        )
        .with_errors(problems));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueInput {
    /// Only slots after this instant (RFC 3339); default (and at the earliest) now.
    pub after: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedTarget {
    pub target_id: String,
    pub account_id: String,
    /// The slot's instant.
    pub at: DateTime<Utc>,
    pub timezone: String,
    /// The slot's local time, `YYYY-MM-DDTHH:MM:SS`.
    pub local: String,
    /// Set when daylight saving adjusted the local time.
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedPost {
    pub post_id: String,
    pub targets: Vec<QueuedTarget>,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/posts/{post_id}/queue", tag = "scheduling", summary = "Add a post to the queue",
    description = "Schedules every target at its account's next free slot (a slot is taken when a target of the account is scheduled for that instant). Targets are validated first, as for scheduling. Queuing a scheduled post again moves it to the next free slots.",
    params(("workspace_id" = String, Path), ("post_id" = String, Path)), request_body = QueueInput, security(("bearer" = [])),
    responses((status = 200, body = QueuedPost), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "a target is not schedulable, or an account has no free slot", body = Problem),
        (status = 422, description = "no targets, an account without slots, or platform problems", body = Problem)))]
pub async fn queue(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, post_id)): Path<(String, String)>,
    Json(input): Json<QueueInput>,
) -> Result<axum::Json<QueuedPost>, Problem> {
    member.require(Role::Editor)?;
    let post = posts::get(&app.db, &member.workspace_id, &post_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("post `{post_id}` not found")))?;
    check_targets(&app, &member.workspace_id, &post, &SCHEDULABLE).await?;
    let after = input.after.map_or_else(Utc::now, |a| a.max(Utc::now()));
    let queued = slots::queue(&app, &member.workspace_id, &post, after)
        .await
        .map_err(|e| match e {
            QueueError::NoSlots(_) => Problem::unprocessable("no-slots", e.to_string()),
            QueueError::Full(_) => Problem::conflict("queue-full", e.to_string()),
            QueueError::Changed(_) => Problem::conflict("target-changed", e.to_string()),
            QueueError::Other(e) => Problem::internal(&e),
        })?;
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "post.queued",
        "post",
        Some(&post_id),
        serde_json::json!({"targets": queued.iter().map(|q| serde_json::json!({"target": q.target_id, "at": q.slot.at})).collect::<Vec<_>>()}),
    )
    .await?;
    Ok(axum::Json(QueuedPost {
        post_id,
        targets: queued
            .into_iter()
            .map(|q| QueuedTarget {
                target_id: q.target_id,
                account_id: q.account_id,
                at: q.slot.at,
                timezone: q.timezone,
                local: q.slot.local.format("%Y-%m-%dT%H:%M:%S").to_string(),
                note: q.slot.note,
            })
            .collect(),
    }))
}
