//! Invitations: an admin invites an email with a role and gets a single-use token
//! (`pbi_…`, stored hashed, valid 7 days) to pass on; the invited person, signed in with
//! that email, accepts it and joins.

use super::auth::{NO_STORE, email_field, invalid_field, require_scope};
use super::caller::{Member, Role, Scope, User, new_token, token_hash};
use super::json::Json;
use super::problem::Problem;
use super::workspaces::{WorkspaceView, lock_key};
use crate::app::App;
use crate::store::activity::{self, Entry};
use crate::store::invitations::{self, INVITATION_TTL, InvitationRow};
use crate::store::{members, users, workspaces};
use anyhow::Context;
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
        .routes(routes!(list, create))
        .routes(routes!(revoke))
        .routes(routes!(accept))
}

pub const INVITATION_PREFIX: &str = "pbi_";

/// Where the invited person sends the token. The token travels in the body, never in a
/// URL, so it stays out of access logs and browser history.
pub const ACCEPT_PATH: &str = "/api/v1/invitations/accept";

#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// User id of the admin who invited.
    pub invited_by: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl InvitationView {
    fn of(i: InvitationRow) -> Option<InvitationView> {
        Some(InvitationView {
            role: Role::parse(&i.role)?,
            id: i.id,
            email: i.email,
            invited_by: i.invited_by,
            expires_at: i.expires_at,
            created_at: i.created_at,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedInvitation {
    pub invitation: InvitationView,
    /// The single-use token (`pbi_…`), shown only in this response: pass it to the
    /// invited person.
    pub token: String,
    /// `POST {"token": …}` here, signed in as the invited email, to join.
    pub accept_path: String,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    pub invitations: Vec<InvitationView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    pub email: String,
    /// `admin`, `editor` or `viewer` (owners are made by promoting a member).
    pub role: Role,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/invitations", tag = "invitations", summary = "Invite someone by email (admin or owner)",
    params(("workspace_id" = String, Path)),
    request_body = CreateInvitation,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "invited; `token` is shown once", body = CreatedInvitation),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "needs the admin role", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem),
        (status = 409, description = "already a member, or already invited", body = Problem),
        (status = 422, description = "invalid field", body = Problem)))]
pub async fn create(
    State(app): State<Arc<App>>,
    member: Member,
    Json(req): Json<CreateInvitation>,
) -> Result<impl IntoResponse, Problem> {
    member.require(Role::Admin)?;
    let email = email_field("email", &req.email)?;
    if req.role == Role::Owner {
        return Err(invalid_field(
            "role",
            "cannot be owner; invite as admin and make them owner once they joined",
        ));
    }
    let ws = &member.workspace_id;
    let invitee = users::by_email(&app.db, &email).await?;
    let mut tx = app.db.write_tx(&lock_key(ws)).await?;
    if let Some(invitee) = &invitee
        && members::role_in(&app.db, &mut tx, ws, &invitee.id)
            .await?
            .is_some()
    {
        return Err(Problem::conflict(
            "already-member",
            format!("{email} is already a member"),
        ));
    }
    if invitations::has_pending(&app.db, &mut tx, ws, &email).await? {
        return Err(Problem::conflict(
            "already-invited",
            format!("{email} already has a pending invitation; revoke it to send a new one"),
        ));
    }
    let token = new_token(INVITATION_PREFIX);
    let now = Utc::now();
    let row = InvitationRow {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: ws.clone(),
        email,
        role: req.role.as_str().to_string(),
        invited_by: member.user.id.clone(),
        expires_at: now + INVITATION_TTL,
        accepted_at: None,
        revoked_at: None,
        created_at: now,
    };
    invitations::insert(&app.db, &mut tx, &row, &token_hash(&token)).await?;
    activity::record_in(
        &app.db,
        &mut tx,
        Entry {
            workspace_id: ws,
            actor_id: Some(&member.user.id),
            action: "invitation.created",
            subject_type: "invitation",
            subject_id: Some(&row.id),
            details: json!({ "email": row.email, "role": row.role }),
        },
    )
    .await?;
    tx.commit().await?;
    let body = CreatedInvitation {
        invitation: InvitationView::of(row).context("invitation role")?,
        token,
        accept_path: ACCEPT_PATH.to_string(),
    };
    Ok((StatusCode::CREATED, NO_STORE, axum::Json(body)))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/invitations", tag = "invitations", summary = "List pending invitations (admin or owner)",
    params(("workspace_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "invitations that can still be accepted, newest first", body = InvitationList),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "needs the admin role", body = Problem),
        (status = 404, description = "no such workspace of mine", body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<InvitationList>, Problem> {
    member.require(Role::Admin)?;
    let rows = invitations::pending(&app.db, &member.workspace_id).await?;
    Ok(axum::Json(InvitationList {
        invitations: rows.into_iter().filter_map(InvitationView::of).collect(),
    }))
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/invitations/{invitation_id}", tag = "invitations", summary = "Revoke a pending invitation (admin or owner)",
    params(("workspace_id" = String, Path), ("invitation_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked; its token no longer works"),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "needs the admin role", body = Problem),
        (status = 404, description = "no such workspace of mine, or no such invitation in it", body = Problem),
        (status = 409, description = "already accepted, revoked or expired", body = Problem)))]
pub async fn revoke(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<impl IntoResponse, Problem> {
    let (_, invitation_id) = path;
    member.require(Role::Admin)?;
    let ws = &member.workspace_id;
    let mut tx = app.db.write_tx(&lock_key(ws)).await?;
    let row = invitations::get_in(&app.db, &mut tx, ws, &invitation_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("invitation `{invitation_id}` not found")))?;
    if !row.is_pending(Utc::now()) {
        return Err(Problem::conflict(
            "invitation-not-pending",
            "the invitation was already accepted, revoked or has expired",
        ));
    }
    invitations::mark_revoked(&app.db, &mut tx, &row.id).await?;
    activity::record_in(
        &app.db,
        &mut tx,
        Entry {
            workspace_id: ws,
            actor_id: Some(&member.user.id),
            action: "invitation.revoked",
            subject_type: "invitation",
            subject_id: Some(&row.id),
            details: json!({ "email": row.email, "role": row.role }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The `pbi_…` token from the invitation.
    pub token: String,
}

fn gone(kind: &str, detail: &str) -> Problem {
    Problem::new(StatusCode::GONE, kind, detail)
}

#[utoipa::path(post, path = "/invitations/accept", tag = "invitations", summary = "Accept an invitation and join its workspace",
    description = "Signed in with the invited email. Each token works once.",
    request_body = AcceptInvitation,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "joined; the workspace with your new role", body = WorkspaceView),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "the invitation is for another email, or an API key without the write scope", body = Problem),
        (status = 404, description = "no such invitation", body = Problem),
        (status = 409, description = "already a member", body = Problem),
        (status = 410, description = "the invitation was used, revoked or has expired", body = Problem),
        (status = 422, description = "invalid body", body = Problem)))]
pub async fn accept(
    State(app): State<Arc<App>>,
    user: User,
    Json(req): Json<AcceptInvitation>,
) -> Result<axum::Json<WorkspaceView>, Problem> {
    require_scope(&user, Scope::Write)?;
    let not_found = || Problem::not_found("no invitation has this token");
    if !req.token.starts_with(INVITATION_PREFIX) {
        return Err(not_found());
    }
    let me = users::by_id(&app.db, &user.id)
        .await?
        .ok_or_else(|| Problem::not_found("the account no longer exists"))?;
    let hash = token_hash(&req.token);
    let mut tx = app.db.write_tx(&format!("invitation:{hash}")).await?;
    let inv = invitations::by_token_hash(&app.db, &mut tx, &hash)
        .await?
        .ok_or_else(not_found)?;
    if inv.accepted_at.is_some() {
        return Err(gone(
            "invitation-used",
            "this invitation was already accepted",
        ));
    }
    if inv.revoked_at.is_some() {
        return Err(gone(
            "invitation-revoked",
            "this invitation was revoked; ask for a new one",
        ));
    }
    if inv.expires_at <= Utc::now() {
        return Err(gone(
            "invitation-expired",
            "this invitation has expired; ask for a new one",
        ));
    }
    if inv.email != me.email {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "invitation-for-someone-else",
            "this invitation was sent to another email address; sign in with that one",
        ));
    }
    let role = Role::parse(&inv.role).context("stored invitation role")?;
    let ws = &inv.workspace_id;
    if members::role_in(&app.db, &mut tx, ws, &me.id)
        .await?
        .is_some()
    {
        return Err(Problem::conflict(
            "already-member",
            "you are already a member of this workspace",
        ));
    }
    let workspace = workspaces::get_in(&app.db, &mut tx, ws)
        .await?
        .ok_or_else(not_found)?;
    members::insert(&app.db, &mut tx, ws, &me.id, role).await?;
    invitations::mark_accepted(&app.db, &mut tx, &inv.id).await?;
    activity::record_in(
        &app.db,
        &mut tx,
        Entry {
            workspace_id: ws,
            actor_id: Some(&me.id),
            action: "member.joined",
            subject_type: "member",
            subject_id: Some(&me.id),
            details: json!({ "role": role, "invitation_id": inv.id, "invited_by": inv.invited_by }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(WorkspaceView::of(workspace, role)))
}
