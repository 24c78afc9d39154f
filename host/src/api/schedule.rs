//! Scheduling posts: at a local time in an IANA zone (or now), cancelling, and resolving
//! targets whose outcome is in doubt.

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::jobs::queue::{self, NewJob, kinds};
use crate::on_db;
use crate::posts::schedule::{enqueue_publish, mark_scheduled, parse_zone, resolve};
use crate::store::posts;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(schedule))
        .routes(routes!(cancel))
        .routes(routes!(resolve_target))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// Local date and time without offset, e.g. `2026-03-29T09:30`; omit to publish now.
    pub at: Option<chrono::NaiveDateTime>,
    /// IANA zone, e.g. `Europe/Berlin`; default the workspace's zone.
    pub timezone: Option<String>,
    /// Targets to schedule; default every target not yet published.
    pub targets: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Scheduled {
    pub post_id: String,
    /// The instant the targets publish at.
    pub at: chrono::DateTime<chrono::Utc>,
    pub timezone: String,
    pub local: Option<String>,
    /// Set when the local time was adjusted (daylight-saving gap or repeat).
    pub note: Option<String>,
    pub targets: Vec<String>,
}

/// The workspace's IANA zone, the default of every schedule made in it.
pub async fn workspace_zone(app: &App, workspace_id: &str) -> Result<String, Problem> {
    let sql = app.db.sql("SELECT timezone FROM workspaces WHERE id = ?");
    let tz: Option<String> = on_db!(&app.db, |p| sqlx::query_scalar(sql)
        .bind(workspace_id)
        .fetch_optional(p)
        .await)?;
    Ok(tz.unwrap_or_else(|| "UTC".into()))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/posts/{post_id}/schedule", tag = "posts", summary = "Schedule (or publish now)",
    description = "Validates every target first; a post with problems is refused with them (422). Rescheduling a scheduled post moves it.",
    params(("workspace_id" = String, Path), ("post_id" = String, Path)), request_body = ScheduleInput, security(("bearer" = [])),
    responses((status = 200, body = Scheduled), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn schedule(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, id)): Path<(String, String)>,
    Json(input): Json<ScheduleInput>,
) -> Result<axum::Json<Scheduled>, Problem> {
    member.require(Role::Editor)?;
    let post = posts::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("post `{id}` not found")))?;
    let zone_name = match input.timezone {
        Some(z) => z,
        None => workspace_zone(&app, &member.workspace_id).await?,
    };
    let zone = parse_zone(&zone_name).map_err(|m| Problem::unprocessable("invalid-timezone", m))?;
    let (at, note, local) = match input.at {
        Some(local) => {
            let r = resolve(local, zone);
            (
                r.at,
                r.note,
                Some(local.format("%Y-%m-%dT%H:%M:%S").to_string()),
            )
        }
        None => (chrono::Utc::now(), None, None),
    };
    let chosen: Vec<&posts::Target> = post
        .targets
        .iter()
        .filter(|t| input.targets.as_ref().is_none_or(|ids| ids.contains(&t.id)))
        .collect();
    if let Some(ids) = &input.targets
        && let Some(missing) = ids
            .iter()
            .find(|id| !post.targets.iter().any(|t| &t.id == *id))
    {
        return Err(Problem::unprocessable(
            "unknown-target",
            format!("`{missing}` is not a target of this post"),
        ));
    }
    if chosen.is_empty() {
        return Err(Problem::unprocessable(
            "no-targets",
            "the post has no targets to schedule",
        ));
    }
    if let Some(busy) = chosen.iter().find(|t| {
        !matches!(
            t.status.as_str(),
            "draft" | "scheduled" | "queued" | "failed"
        )
    }) {
        return Err(Problem::conflict(
            "target-not-schedulable",
            format!(
                "target `{}` is {}; only draft, scheduled, queued or failed targets can be (re)scheduled",
                busy.id, busy.status
            ),
        ));
    }
    let mut problems = Vec::new();
    for t in &chosen {
        for p in crate::posts::check::target(&app, &member.workspace_id, &post, t).await? {
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
    // All targets move together; their jobs follow once that is committed.
    let mut tx = app.db.write_tx(&member.workspace_id).await?;
    for t in &chosen {
        mark_scheduled(&app.db, &mut tx, &t.id, at, &zone_name, local.as_deref()).await?;
    }
    tx.commit().await?;
    for t in &chosen {
        enqueue_publish(&app, &member.workspace_id, &t.id, at).await?;
    }
    app.jobs_waker.wake();
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "post.scheduled",
        "post",
        Some(&id),
        serde_json::json!({"at": at, "timezone": zone_name, "targets": chosen.len()}),
    )
    .await?;
    Ok(axum::Json(Scheduled {
        post_id: id,
        at,
        timezone: zone_name,
        local,
        note,
        targets: chosen.iter().map(|t| t.id.clone()).collect(),
    }))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/posts/{post_id}/cancel", tag = "posts", summary = "Cancel scheduled targets (back to draft)",
    params(("workspace_id" = String, Path), ("post_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn cancel(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, id)): Path<(String, String)>,
) -> Result<axum::Json<serde_json::Value>, Problem> {
    member.require(Role::Editor)?;
    let post = posts::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("post `{id}` not found")))?;
    let mut cancelled = Vec::new();
    for t in &post.targets {
        let sql = app.db.sql("UPDATE post_targets SET status = 'draft', deferred_reason = NULL, updated_at = ? WHERE id = ? AND status IN ('scheduled', 'queued', 'paused')");
        let n: u64 = on_db!(&app.db, |p| sqlx::query(sql)
            .bind(chrono::Utc::now())
            .bind(&t.id)
            .execute(p)
            .await?
            .rows_affected());
        if n == 1 {
            queue::cancel_for(&app.db, &t.id).await?;
            cancelled.push(t.id.clone());
        }
    }
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "post.cancelled",
        "post",
        Some(&id),
        serde_json::json!({"targets": cancelled}),
    )
    .await?;
    Ok(axum::Json(serde_json::json!({ "cancelled": cancelled })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, tag = "action", rename_all = "snake_case")]
pub enum Resolution {
    /// It was posted (the user checked): record it as published.
    MarkPublished {
        remote_id: Option<String>,
        url: Option<String>,
    },
    /// It was not posted: publish again now.
    Retry,
    /// Leave it: mark failed.
    Abandon,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/posts/{post_id}/targets/{target_id}/resolve", tag = "posts", summary = "Decide about a target in doubt",
    params(("workspace_id" = String, Path), ("post_id" = String, Path), ("target_id" = String, Path)), request_body = Resolution, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn resolve_target(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, post_id, target_id)): Path<(String, String, String)>,
    Json(res): Json<Resolution>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), Problem> {
    member.require(Role::Editor)?;
    let post = posts::get(&app.db, &member.workspace_id, &post_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("post `{post_id}` not found")))?;
    if !post.targets.iter().any(|t| t.id == target_id) {
        return Err(Problem::not_found(format!(
            "target `{target_id}` not found"
        )));
    }
    let t = crate::publish::targets::load(&app, &target_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("target `{target_id}` not found")))?;
    if t.status != "in_doubt" && t.status != "paused" {
        return Err(Problem::conflict(
            "target-not-in-doubt",
            format!("the target is {}, not in doubt or paused", t.status),
        ));
    }
    use crate::publish::targets::{Change, transition};
    let from = ["in_doubt", "paused"];
    let status = match res {
        Resolution::MarkPublished { remote_id, url } => {
            transition(
                &app,
                &t,
                &from,
                "published",
                Change {
                    remote_id: remote_id.as_deref(),
                    remote_url: url.as_deref(),
                    published: true,
                    ..Default::default()
                },
            )
            .await?;
            "published"
        }
        Resolution::Abandon => {
            transition(
                &app,
                &t,
                &from,
                "failed",
                Change {
                    error: Some("abandoned by the user"),
                    ..Default::default()
                },
            )
            .await?;
            "failed"
        }
        Resolution::Retry => {
            transition(&app, &t, &from, "queued", Change::default()).await?;
            queue::enqueue(
                &app.db,
                NewJob {
                    workspace_id: Some(member.workspace_id.clone()),
                    subject_id: Some(t.id.clone()),
                    dedupe_key: Some(format!("publish:{}", t.id)),
                    ..NewJob::now(kinds::PUBLISH, serde_json::json!({"resolved": true}))
                },
            )
            .await?;
            app.jobs_waker.wake();
            "queued"
        }
    };
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "target.resolved",
        "post",
        Some(&post_id),
        serde_json::json!({"target": target_id, "status": status}),
    )
    .await?;
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({ "status": status })),
    ))
}
