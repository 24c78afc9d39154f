//! Workspace members: list, change roles, remove (or leave). Only an owner grants or takes
//! away ownership, and a workspace always keeps at least one owner.

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use super::workspaces::lock_key;
use crate::app::App;
use crate::store::Tx;
use crate::store::activity::{self, Entry};
use crate::store::members::{self, MemberRow};
use axum::extract::{Path, State};
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
        .routes(routes!(list))
        .routes(routes!(update, remove))
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

impl MemberView {
    fn of(m: MemberRow) -> Option<MemberView> {
        Some(MemberView {
            role: Role::parse(&m.role)?,
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            joined_at: m.created_at,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberView>,
}

fn forbidden(kind: &str, detail: &str) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, kind, detail)
}

fn no_member(user_id: &str) -> Problem {
    Problem::not_found(format!("`{user_id}` is not a member of this workspace"))
}

fn last_owner() -> Problem {
    Problem::conflict(
        "last-owner",
        "a workspace needs at least one owner; make someone else owner first",
    )
}

/// The roles of the caller and of `target` as of this transaction (the caller's may have
/// changed since the request was authorised).
async fn roles(
    app: &App,
    tx: &mut Tx,
    member: &Member,
    target: &str,
) -> Result<(Role, Role), Problem> {
    let ws = &member.workspace_id;
    let caller = members::role_in(&app.db, tx, ws, &member.user.id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("workspace `{ws}` not found")))?;
    let target = members::role_in(&app.db, tx, ws, target)
        .await?
        .ok_or_else(|| no_member(target))?;
    Ok((caller, target))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/members", tag = "members", summary = "List the workspace's members",
    params(("workspace_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "members by join date", body = MemberList),
        (status = 401, description = "not signed in", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<MemberList>, Problem> {
    let rows = members::list(&app.db, &member.workspace_id).await?;
    Ok(axum::Json(MemberList {
        members: rows.into_iter().filter_map(MemberView::of).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    pub role: Role,
}

#[utoipa::path(patch, path = "/workspaces/{workspace_id}/members/{user_id}", tag = "members", summary = "Change a member's role (admin or owner)",
    description = "Only an owner may make someone owner or change an owner's role; the last owner cannot be demoted.",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    request_body = UpdateMember,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the member with the new role", body = MemberView),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "needs the admin role, or the owner role for ownership changes", body = Problem),
        (status = 404, description = "no such workspace of mine, or not a member", body = Problem),
        (status = 409, description = "would leave the workspace without an owner", body = Problem),
        (status = 422, description = "invalid body", body = Problem)))]
pub async fn update(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(req): Json<UpdateMember>,
) -> Result<axum::Json<MemberView>, Problem> {
    let (_, user_id) = path;
    member.require(Role::Admin)?;
    let ws = &member.workspace_id;
    let mut tx = app.db.write_tx(&lock_key(ws)).await?;
    let (caller, current) = roles(&app, &mut tx, &member, &user_id).await?;
    if caller < Role::Admin {
        return Err(forbidden(
            "forbidden",
            "this needs the admin role or higher",
        ));
    }
    if (current == Role::Owner || req.role == Role::Owner) && caller < Role::Owner {
        return Err(forbidden(
            "owner-required",
            "only an owner can grant or take away the owner role",
        ));
    }
    if current == Role::Owner
        && req.role != Role::Owner
        && members::count_owners(&app.db, &mut tx, ws).await? <= 1
    {
        return Err(last_owner());
    }
    if current != req.role {
        members::set_role(&app.db, &mut tx, ws, &user_id, req.role).await?;
        activity::record_in(
            &app.db,
            &mut tx,
            Entry {
                workspace_id: ws,
                actor_id: Some(&member.user.id),
                action: "member.role_changed",
                subject_type: "member",
                subject_id: Some(&user_id),
                details: json!({ "from": current, "to": req.role }),
            },
        )
        .await?;
        tx.commit().await?;
    }
    let row = members::get(&app.db, ws, &user_id)
        .await?
        .ok_or_else(|| no_member(&user_id))?;
    MemberView::of(row).map(axum::Json).ok_or_else(|| {
        Problem::internal(&anyhow::anyhow!("member `{user_id}` has an unknown role"))
    })
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/members/{user_id}", tag = "members", summary = "Remove a member (admin or owner), or leave (yourself)",
    description = "Only an owner may remove an owner; the last owner cannot leave.",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "removed"),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "needs the admin role, or the owner role to remove an owner", body = Problem),
        (status = 404, description = "no such workspace of mine, or not a member", body = Problem),
        (status = 409, description = "would leave the workspace without an owner", body = Problem)))]
pub async fn remove(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<impl IntoResponse, Problem> {
    let (_, user_id) = path;
    let leaving = user_id == member.user.id;
    if !leaving {
        member.require(Role::Admin)?;
    }
    let ws = &member.workspace_id;
    let mut tx = app.db.write_tx(&lock_key(ws)).await?;
    let (caller, current) = roles(&app, &mut tx, &member, &user_id).await?;
    if !leaving {
        if caller < Role::Admin {
            return Err(forbidden(
                "forbidden",
                "this needs the admin role or higher",
            ));
        }
        if current == Role::Owner && caller < Role::Owner {
            return Err(forbidden(
                "owner-required",
                "only an owner can remove an owner",
            ));
        }
    }
    if current == Role::Owner && members::count_owners(&app.db, &mut tx, ws).await? <= 1 {
        return Err(last_owner());
    }
    members::remove(&app.db, &mut tx, ws, &user_id).await?;
    activity::record_in(
        &app.db,
        &mut tx,
        Entry {
            workspace_id: ws,
            actor_id: Some(&member.user.id),
            action: if leaving {
                "member.left"
            } else {
                "member.removed"
            },
            subject_type: "member",
            subject_id: Some(&user_id),
            details: json!({ "role": current }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
