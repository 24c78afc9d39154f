//! Who is calling: bearer tokens (session access tokens `pbs_…` or personal API keys
//! `pbk_…`, both stored as SHA-256 hashes) and, for workspace routes, the caller's role
//! in the workspace named by the `{workspace_id}` path segment.

use super::problem::Problem;
use crate::app::App;
use crate::on_db;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::{Method, StatusCode, request::Parts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const SESSION_PREFIX: &str = "pbs_";
pub const REFRESH_PREFIX: &str = "pbr_";
pub const API_KEY_PREFIX: &str = "pbk_";

/// Hash under which a bearer secret is stored (never the secret itself).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random secret with a recognisable prefix.
pub fn new_token(prefix: &str) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

/// Workspace roles, weakest first: each can do everything the ones before it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// API key scopes: `read` (GET), `write` (everything but workspace administration),
/// `admin` (everything the user's role allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// An authenticated user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    /// The session the request came with (None for API keys).
    pub session_id: Option<String>,
    /// Widest scope of the API key used (None for sessions, which are unrestricted).
    pub key_scope: Option<Scope>,
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail.to_string())
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequestParts<Arc<App>> for User {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<User, Problem> {
        let token = bearer(parts).ok_or_else(|| {
            unauthorized("send `Authorization: Bearer <access token or API key>`")
        })?;
        let hash = token_hash(token);
        let now = Utc::now();
        if token.starts_with(SESSION_PREFIX) {
            let sql = app.db.sql(
                "SELECT s.id, s.user_id, s.access_expires_at FROM sessions s WHERE s.access_hash = ? AND s.revoked_at IS NULL",
            );
            let row: Option<(String, String, DateTime<Utc>)> =
                on_db!(&app.db, |p| sqlx::query_as(sql)
                    .bind(&hash)
                    .fetch_optional(p)
                    .await)
                .map_err(|e| Problem::internal(&e.into()))?;
            let (session_id, user_id, expires) = row.ok_or_else(|| {
                unauthorized("the access token is invalid or was revoked; sign in again")
            })?;
            if expires < now {
                return Err(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "token-expired",
                    "the access token has expired; use the refresh token at POST /api/v1/auth/refresh",
                ));
            }
            return Ok(User {
                id: user_id,
                session_id: Some(session_id),
                key_scope: None,
            });
        }
        if token.starts_with(API_KEY_PREFIX) {
            let sql = app
                .db
                .sql("SELECT id, user_id, scopes FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL");
            let row: Option<(String, String, String)> = on_db!(&app.db, |p| sqlx::query_as(sql)
                .bind(&hash)
                .fetch_optional(p)
                .await)
            .map_err(|e| Problem::internal(&e.into()))?;
            let (key_id, user_id, scopes) =
                row.ok_or_else(|| unauthorized("the API key is invalid or was revoked"))?;
            let touch = app
                .db
                .sql("UPDATE api_keys SET last_used_at = ? WHERE id = ?");
            on_db!(&app.db, |p| sqlx::query(touch)
                .bind(now)
                .bind(&key_id)
                .execute(p)
                .await
                .map(|_| ()))
            .map_err(|e| Problem::internal(&e.into()))?;
            let scope = scopes
                .split(',')
                .filter_map(Scope::parse)
                .max()
                .unwrap_or(Scope::Read);
            return Ok(User {
                id: user_id,
                session_id: None,
                key_scope: Some(scope),
            });
        }
        Err(unauthorized(
            "unknown token kind; use an access token (pbs_…) or an API key (pbk_…)",
        ))
    }
}

/// A member acting in the workspace of the request path. Non-members get 404, exactly as
/// if the workspace did not exist: ids of other workspaces reveal nothing.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub workspace_id: String,
    pub role: Role,
}

impl Member {
    /// Refuses (403) unless the member's role is at least `min` and, for API keys, the
    /// key's scope allows it.
    pub fn require(&self, min: Role) -> Result<(), Problem> {
        if self.role < min {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs the {} role or higher; you are {}",
                    min.as_str(),
                    self.role.as_str()
                ),
            ));
        }
        if min >= Role::Admin && self.user.key_scope.is_some_and(|s| s < Scope::Admin) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "this API key lacks the `admin` scope",
            ));
        }
        Ok(())
    }
}

impl FromRequestParts<Arc<App>> for Member {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Member, Problem> {
        let user = User::from_request_parts(parts, app).await?;
        let params = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|_| Problem::not_found("no workspace in the path"))?;
        let workspace_id = params
            .iter()
            .find(|(k, _)| *k == "workspace_id")
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| Problem::not_found("no workspace in the path"))?;
        let sql = app
            .db
            .sql("SELECT role FROM members WHERE workspace_id = ? AND user_id = ?");
        let role: Option<String> = on_db!(&app.db, |p| sqlx::query_scalar(sql)
            .bind(&workspace_id)
            .bind(&user.id)
            .fetch_optional(p)
            .await)
        .map_err(|e| Problem::internal(&e.into()))?;
        let role = role
            .as_deref()
            .and_then(Role::parse)
            .ok_or_else(|| Problem::not_found(format!("workspace `{workspace_id}` not found")))?;
        if let Some(scope) = user.key_scope {
            let writing = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if writing && scope < Scope::Write {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "insufficient-scope",
                    "this API key has only the `read` scope",
                ));
            }
        }
        Ok(Member {
            user,
            workspace_id,
            role,
        })
    }
}
