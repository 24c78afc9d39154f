//! Personal API keys (`pbk_…`) for scripts and integrations: created with scopes, shown
//! once, listed without secrets, revoked.

use super::auth::{MAX_NAME_CHARS, NO_STORE, invalid_field, require_session, text_field};
use super::caller::{API_KEY_PREFIX, User, new_token, token_hash};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::store::api_keys::{self, ApiKeyRow};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// Active keys one user may hold: enough for every integration, few enough that a runaway
/// script cannot fill the table.
pub const MAX_KEYS_PER_USER: i64 = 50;

/// Characters of the key kept in clear for display.
const DISPLAY_PREFIX_CHARS: usize = 8;

/// What a key may do: `read` (GET only), `write` (changes, but no workspace
/// administration), `admin` (everything the user's role allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    Read,
    Write,
    Admin,
}

impl KeyScope {
    fn as_str(self) -> &'static str {
        match self {
            KeyScope::Read => "read",
            KeyScope::Write => "write",
            KeyScope::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<KeyScope> {
        match s {
            "read" => Some(KeyScope::Read),
            "write" => Some(KeyScope::Write),
            "admin" => Some(KeyScope::Admin),
            _ => None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<KeyScope>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(k: ApiKeyRow) -> ApiKeyView {
        ApiKeyView {
            scopes: k.scopes.split(',').filter_map(KeyScope::parse).collect(),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            last_used_at: k.last_used_at,
            created_at: k.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The key itself (`pbk_…`). Shown only in this response: store it now.
    pub key: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// At least one of `read`, `write`, `admin`.
    pub scopes: Vec<KeyScope>,
}

#[utoipa::path(post, path = "/me/api-keys", tag = "api-keys", summary = "Create a personal API key",
    description = "Needs a signed-in session (an API key cannot create keys). The key is in this response only.",
    request_body = CreateApiKey,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "created; `key` is shown once", body = CreatedApiKey),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "called with an API key", body = Problem),
        (status = 409, description = "too many active keys", body = Problem),
        (status = 422, description = "invalid field", body = Problem)))]
pub async fn create(
    State(app): State<Arc<App>>,
    user: User,
    Json(req): Json<CreateApiKey>,
) -> Result<impl IntoResponse, Problem> {
    require_session(&user)?;
    let name = text_field("name", &req.name, MAX_NAME_CHARS)?;
    let mut scopes = req.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(invalid_field(
            "scopes",
            "must name at least one of read, write, admin",
        ));
    }
    if api_keys::count_active(&app.db, &user.id).await? >= MAX_KEYS_PER_USER {
        return Err(Problem::conflict(
            "too-many-api-keys",
            format!("you already have {MAX_KEYS_PER_USER} active API keys; revoke one first"),
        ));
    }
    let key = new_token(API_KEY_PREFIX);
    let prefix: String = key.chars().take(DISPLAY_PREFIX_CHARS).collect();
    let stored_scopes = scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let row = api_keys::create(
        &app.db,
        &user.id,
        &name,
        &token_hash(&key),
        &prefix,
        &stored_scopes,
    )
    .await?;
    let body = CreatedApiKey {
        api_key: row.into(),
        key,
    };
    Ok((StatusCode::CREATED, NO_STORE, axum::Json(body)))
}

#[utoipa::path(get, path = "/me/api-keys", tag = "api-keys", summary = "List my active API keys (without secrets)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "newest first", body = ApiKeyList),
        (status = 401, description = "not signed in", body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    user: User,
) -> Result<axum::Json<ApiKeyList>, Problem> {
    let rows = api_keys::list(&app.db, &user.id).await?;
    Ok(axum::Json(ApiKeyList {
        api_keys: rows.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(delete, path = "/me/api-keys/{key_id}", tag = "api-keys", summary = "Revoke one of my API keys",
    params(("key_id" = String, Path, description = "the key's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked; the key answers 401 from now on"),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "called with an API key", body = Problem),
        (status = 404, description = "no such active key of mine", body = Problem)))]
pub async fn revoke(
    State(app): State<Arc<App>>,
    user: User,
    Path(key_id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    require_session(&user)?;
    if !api_keys::revoke(&app.db, &user.id, &key_id).await? {
        return Err(Problem::not_found(format!("no active API key `{key_id}`")));
    }
    Ok(StatusCode::NO_CONTENT)
}
