//! Workspaces: created by a user who becomes their owner; settings (name, IANA time zone,
//! brand voice) changed by admins; deleted by an owner.

use super::auth::{invalid_field, require_scope, text_field};
use super::caller::{Member, Role, Scope, User};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::store::activity::{self, Entry};
use crate::store::{members, workspaces, workspaces::WorkspaceRow};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

pub const MAX_WORKSPACE_NAME_CHARS: usize = 100;
/// Room for a paragraph of guidance for the AI writers, not a whole style guide.
pub const MAX_BRAND_VOICE_CHARS: usize = 2000;

/// The lock key under which changes to one workspace's members and settings serialise.
pub fn lock_key(workspace_id: &str) -> String {
    format!("workspace:{workspace_id}")
}

#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    /// IANA time zone name (e.g. `Europe/Paris`) used for schedules.
    pub timezone: String,
    /// Guidance for AI-written text (tone, words to use or avoid).
    pub brand_voice: String,
    pub created_at: DateTime<Utc>,
    /// The caller's role in this workspace.
    pub role: Role,
}

impl WorkspaceView {
    pub fn of(w: WorkspaceRow, role: Role) -> WorkspaceView {
        WorkspaceView {
            id: w.id,
            name: w.name,
            timezone: w.timezone,
            brand_voice: w.brand_voice,
            created_at: w.created_at,
            role,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WorkspaceList {
    pub workspaces: Vec<WorkspaceView>,
}

fn timezone_field(raw: &str) -> Result<String, Problem> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            invalid_field(
                "timezone",
                "is not an IANA time zone name (e.g. Europe/Paris, America/New_York, UTC)",
            )
        })
}

fn brand_voice_field(raw: &str) -> Result<String, Problem> {
    let value = raw.trim();
    if value.chars().count() > MAX_BRAND_VOICE_CHARS {
        return Err(invalid_field(
            "brand_voice",
            format!("must be at most {MAX_BRAND_VOICE_CHARS} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid_field(
            "brand_voice",
            "must not contain control characters",
        ));
    }
    Ok(value.to_string())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    pub name: String,
    /// IANA time zone name, e.g. `Europe/Paris`.
    pub timezone: String,
    pub brand_voice: Option<String>,
}

#[utoipa::path(post, path = "/workspaces", tag = "workspaces", summary = "Create a workspace (you become its owner)",
    request_body = CreateWorkspace,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "created", body = WorkspaceView),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "API key without the write scope", body = Problem),
        (status = 422, description = "invalid field", body = Problem)))]
pub async fn create(
    State(app): State<Arc<App>>,
    user: User,
    Json(req): Json<CreateWorkspace>,
) -> Result<impl IntoResponse, Problem> {
    require_scope(&user, Scope::Write)?;
    let row = WorkspaceRow {
        id: uuid::Uuid::now_v7().to_string(),
        name: text_field("name", &req.name, MAX_WORKSPACE_NAME_CHARS)?,
        timezone: timezone_field(&req.timezone)?,
        brand_voice: brand_voice_field(req.brand_voice.as_deref().unwrap_or(""))?,
        created_at: Utc::now(),
    };
    let mut tx = app.db.write_tx(&lock_key(&row.id)).await?;
    workspaces::insert(&app.db, &mut tx, &row).await?;
    members::insert(&app.db, &mut tx, &row.id, &user.id, Role::Owner).await?;
    activity::record_in(
        &app.db,
        &mut tx,
        Entry {
            workspace_id: &row.id,
            actor_id: Some(&user.id),
            action: "workspace.created",
            subject_type: "workspace",
            subject_id: Some(&row.id),
            details: json!({ "name": row.name, "timezone": row.timezone }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(WorkspaceView::of(row, Role::Owner)),
    ))
}

#[utoipa::path(get, path = "/workspaces", tag = "workspaces", summary = "List my workspaces with my role in each",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "oldest first", body = WorkspaceList),
        (status = 401, description = "not signed in", body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    user: User,
) -> Result<axum::Json<WorkspaceList>, Problem> {
    let mine = workspaces::of_user(&app.db, &user.id).await?;
    let workspaces = mine
        .into_iter()
        .filter_map(|m| Role::parse(&m.role).map(|role| WorkspaceView::of(m.workspace, role)))
        .collect();
    Ok(axum::Json(WorkspaceList { workspaces }))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}", tag = "workspaces", summary = "A workspace and its settings",
    params(("workspace_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the workspace", body = WorkspaceView),
        (status = 401, description = "not signed in", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem)))]
pub async fn get(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<WorkspaceView>, Problem> {
    let row = workspaces::get(&app.db, &member.workspace_id)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!("workspace `{}` not found", member.workspace_id))
        })?;
    Ok(axum::Json(WorkspaceView::of(row, member.role)))
}

/// Settings to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    pub name: Option<String>,
    /// IANA time zone name.
    pub timezone: Option<String>,
    /// An empty string clears it.
    pub brand_voice: Option<String>,
}

#[utoipa::path(patch, path = "/workspaces/{workspace_id}", tag = "workspaces", summary = "Change a workspace's settings (admin or owner)",
    params(("workspace_id" = String, Path)),
    request_body = UpdateWorkspace,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the updated workspace", body = WorkspaceView),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "needs the admin role", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem),
        (status = 422, description = "invalid field", body = Problem)))]
pub async fn update(
    State(app): State<Arc<App>>,
    member: Member,
    Json(req): Json<UpdateWorkspace>,
) -> Result<axum::Json<WorkspaceView>, Problem> {
    member.require(Role::Admin)?;
    let name = req
        .name
        .as_deref()
        .map(|n| text_field("name", n, MAX_WORKSPACE_NAME_CHARS))
        .transpose()?;
    let timezone = req.timezone.as_deref().map(timezone_field).transpose()?;
    let brand_voice = req
        .brand_voice
        .as_deref()
        .map(brand_voice_field)
        .transpose()?;
    let ws = &member.workspace_id;
    let mut tx = app.db.write_tx(&lock_key(ws)).await?;
    let mut row = workspaces::get_in(&app.db, &mut tx, ws)
        .await?
        .ok_or_else(|| Problem::not_found(format!("workspace `{ws}` not found")))?;
    let mut changed = serde_json::Map::new();
    for (field, current, new) in [
        ("name", &mut row.name, name),
        ("timezone", &mut row.timezone, timezone),
        ("brand_voice", &mut row.brand_voice, brand_voice),
    ] {
        if let Some(new) = new
            && *current != new
        {
            changed.insert(field.to_string(), json!({ "from": current, "to": new }));
            *current = new;
        }
    }
    if !changed.is_empty() {
        workspaces::update(&app.db, &mut tx, &row).await?;
        activity::record_in(
            &app.db,
            &mut tx,
            Entry {
                workspace_id: ws,
                actor_id: Some(&member.user.id),
                action: "workspace.updated",
                subject_type: "workspace",
                subject_id: Some(ws),
                details: json!({ "changed": changed }),
            },
        )
        .await?;
        tx.commit().await?;
    }
    Ok(axum::Json(WorkspaceView::of(row, member.role)))
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}", tag = "workspaces", summary = "Delete a workspace and everything in it (owner only)",
    params(("workspace_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "needs the owner role", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<impl IntoResponse, Problem> {
    member.require(Role::Owner)?;
    let ws = &member.workspace_id;
    let mut tx = app.db.write_tx(&lock_key(ws)).await?;
    if !workspaces::delete(&app.db, &mut tx, ws).await? {
        return Err(Problem::not_found(format!("workspace `{ws}` not found")));
    }
    tx.commit().await?;
    // The workspace's own activity log went with it; the server log keeps the trace.
    tracing::info!(workspace = %ws, actor = %member.user.id, "workspace deleted");
    Ok(StatusCode::NO_CONTENT)
}
