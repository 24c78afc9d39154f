//! Connected social accounts: connect through the plugin's OAuth (or named credentials),
//! the browser's callback, selection of offered sub-accounts, token health, refresh and
//! disconnection. Credentials never appear in any response.

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use crate::accounts::connect::{self, StartRequest};
use crate::accounts::disconnect::disconnect;
use crate::accounts::{AccountError, refresh as refresh_account};
use crate::app::App;
use crate::runtime::error::CallError;
use crate::store::accounts::{self as store, AccountRow};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get, delete))
        .routes(routes!(connect_oauth))
        .routes(routes!(connect_credentials))
        .routes(routes!(callback))
        .routes(routes!(select))
        .routes(routes!(refresh))
}

/// Query strings longer than this are not OAuth callbacks.
const MAX_CALLBACK_QUERY: usize = 16 * 1024;
const MAX_SELECT: usize = 500;

impl From<AccountError> for Problem {
    fn from(e: AccountError) -> Problem {
        let detail = e.to_string();
        match e {
            AccountError::NotFound(d) => Problem::not_found(d),
            AccountError::Forbidden(d) => Problem::new(StatusCode::FORBIDDEN, "forbidden", d),
            AccountError::Invalid { kind, detail } => Problem::unprocessable(kind, detail),
            AccountError::Conflict { kind, detail } => Problem::conflict(kind, detail),
            AccountError::State(d) => Problem::bad_request("invalid-state", d),
            AccountError::Plugin { error, .. } => match error {
                PluginError::Transient(_) => {
                    Problem::new(StatusCode::BAD_GATEWAY, "platform-unavailable", detail)
                }
                PluginError::RateLimited(_) => Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "platform-rate-limited",
                    detail,
                ),
                PluginError::Unsupported(_) => Problem::unprocessable("unsupported", detail),
                PluginError::AuthExpired(_)
                | PluginError::Permanent(_)
                | PluginError::InvalidContent(_) => {
                    Problem::bad_request("platform-refused", detail)
                }
            },
            AccountError::Call(CallError::NotInstalled(_)) => Problem::not_found(detail),
            AccountError::Call(_) => {
                tracing::warn!(error = %detail, "plugin call failed");
                Problem::new(StatusCode::BAD_GATEWAY, "plugin-failed", detail)
            }
            AccountError::Internal(err) => Problem::internal(&err),
        }
    }
}

/// A connected account: profile and token health, never credentials.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub plugin: String,
    pub app_id: Option<String>,
    /// The account's id on the platform.
    pub remote_id: String,
    /// The user account a sub-account (page, organisation, channel) came with.
    pub parent_account_id: Option<String>,
    /// `user`, `page`, `organization`, `channel`, …
    pub kind: String,
    pub display_name: String,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    /// Non-secret values the plugin keeps (e.g. instance_url, limits).
    pub properties: BTreeMap<String, String>,
    /// `active`, `pending_selection` (offered, not chosen yet) or `disconnected`.
    pub status: String,
    /// When the access credential expires (none: it does not, or is not known).
    pub expires_at: Option<DateTime<Utc>>,
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// The last refresh or revocation failure.
    pub last_error: Option<String>,
    /// The platform no longer accepts the grant: connect the account again.
    pub needs_reconnect: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccountView {
    pub fn of(a: AccountRow) -> AccountView {
        AccountView {
            properties: serde_json::from_str(&a.properties).unwrap_or_default(),
            id: a.id,
            plugin: a.plugin_id,
            app_id: a.app_id,
            remote_id: a.remote_id,
            parent_account_id: a.parent_account_id,
            kind: a.kind,
            display_name: a.display_name,
            username: a.username,
            avatar_url: a.avatar_url,
            status: a.status,
            expires_at: a.expires_at,
            last_refresh_at: a.last_refresh_at,
            last_error: a.last_error,
            needs_reconnect: a.needs_reconnect,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
}

impl AccountList {
    fn of(rows: Vec<AccountRow>) -> AccountList {
        AccountList {
            accounts: rows.into_iter().map(AccountView::of).collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// The platform app to connect through; default: the workspace's only app for the
    /// plugin, else the server's only one.
    pub app_id: Option<String>,
    /// Scopes to ask for; default: the plugin's.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Where the browser goes after the callback (this server or a configured frontend
    /// origin), with `?connected=<ids>` or `?error=<kind>&error_description=…`.
    pub return_to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectStarted {
    /// Send the user's browser here.
    pub authorize_url: String,
    /// The authorization must finish before this.
    pub expires_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    pub app_id: Option<String>,
    /// The named fields the plugin describes (e.g. handle and app password).
    pub fields: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectRequest {
    /// Remote ids of the offered sub-accounts to keep; the other offers are dropped.
    pub remote_ids: Vec<String>,
}

fn account_not_found(id: &str) -> Problem {
    Problem::not_found(format!("account `{id}` not found"))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/accounts", tag = "accounts", summary = "The workspace's connected accounts with their token health",
    params(("workspace_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "user accounts each followed by their sub-accounts", body = AccountList),
        (status = 401, body = Problem),
        (status = 404, description = "not a member of this workspace", body = Problem),
    ))]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<AccountList>, Problem> {
    Ok(axum::Json(AccountList::of(
        store::list(&app.db, &member.workspace_id).await?,
    )))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/accounts/{account_id}", tag = "accounts", summary = "A connected account: profile and token health",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AccountView),
        (status = 401, body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn get(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<axum::Json<AccountView>, Problem> {
    let id = path.1;
    let row = store::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| account_not_found(&id))?;
    Ok(axum::Json(AccountView::of(row)))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/accounts/connect/{plugin}", tag = "accounts", summary = "Start connecting an account through the platform's OAuth (editor or above)",
    description = "Answers the URL to send the user's browser to. The platform redirects back to GET /api/v1/accounts/callback (or the app's own redirect_uri), which stores the account.",
    params(("workspace_id" = String, Path), ("plugin" = String, Path, description = "platform plugin id")),
    request_body = ConnectRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ConnectStarted),
        (status = 400, description = "malformed JSON, or the platform refused", body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, description = "workspace, plugin or app not found", body = Problem),
        (status = 415, body = Problem),
        (status = 422, description = "invalid field, several apps to choose from, or not an OAuth platform", body = Problem),
        (status = 502, description = "the plugin or the platform failed", body = Problem),
    ))]
pub async fn connect_oauth(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(body): Json<ConnectRequest>,
) -> Result<axum::Json<ConnectStarted>, Problem> {
    let plugin = path.1;
    member.require(Role::Editor)?;
    let started = connect::start(
        &app,
        &member.workspace_id,
        &member.user.id,
        &plugin,
        StartRequest {
            app_id: body.app_id,
            scopes: body.scopes,
            return_to: body.return_to,
        },
    )
    .await?;
    Ok(axum::Json(ConnectStarted {
        authorize_url: started.authorize_url,
        expires_at: started.expires_at,
    }))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/accounts/connect/{plugin}/credentials", tag = "accounts", summary = "Connect an account with named credentials (editor or above)",
    description = "For platforms whose auth kind is `credentials` (e.g. a handle and an app password).",
    params(("workspace_id" = String, Path), ("plugin" = String, Path, description = "platform plugin id")),
    request_body = CredentialsRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the connected account, then offered sub-accounts", body = AccountList),
        (status = 400, description = "malformed JSON, or the platform refused", body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 415, body = Problem),
        (status = 422, description = "unknown or missing fields, or not a credentials platform", body = Problem),
        (status = 502, body = Problem),
    ))]
pub async fn connect_credentials(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(body): Json<CredentialsRequest>,
) -> Result<impl IntoResponse, Problem> {
    let plugin = path.1;
    member.require(Role::Editor)?;
    if body.fields.len() > connect::MAX_FIELDS {
        return Err(Problem::unprocessable(
            "invalid-fields",
            format!("at most {} fields", connect::MAX_FIELDS),
        ));
    }
    let rows = connect::connect_with(
        &app,
        &member.workspace_id,
        &member.user.id,
        &plugin,
        body.app_id.as_deref(),
        body.fields,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(AccountList::of(rows))))
}

/// `return_to` with query parameters added.
fn back_to(return_to: &str, params: &[(&str, &str)]) -> Response {
    let location = match url::Url::parse(return_to) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            url.to_string()
        }
        Err(_) => return_to.to_string(),
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

#[utoipa::path(get, path = "/accounts/callback", tag = "accounts", summary = "Where the platform sends the browser back after authorization",
    description = "No bearer: the single-use state binds the request to the user and workspace that started it. Answers the stored accounts as JSON, or a 303 to `return_to` when one was given.",
    params(
        ("state" = String, Query, description = "the state the authorization started with"),
        ("code" = Option<String>, Query, description = "authorization code; the platform may send other parameters, all handed to the plugin"),
    ),
    security(()),
    responses(
        (status = 200, description = "the connected account, then offered sub-accounts", body = AccountList),
        (status = 303, description = "back to `return_to` with `connected=<ids>` or `error=<kind>`"),
        (status = 400, description = "unknown, used or expired state, or the authorization was refused", body = Problem),
        (status = 403, description = "the user lost the editor role meanwhile", body = Problem),
        (status = 502, body = Problem),
    ))]
pub async fn callback(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > MAX_CALLBACK_QUERY {
        return Problem::bad_request("invalid-state", "the callback's query string is too long")
            .into_response();
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    match connect::finish(&app, params).await {
        Ok(done) => match done.return_to {
            Some(to) => {
                let ids = done
                    .accounts
                    .iter()
                    .map(|a| a.id.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                back_to(&to, &[("connected", &ids)])
            }
            None => axum::Json(AccountList::of(done.accounts)).into_response(),
        },
        Err(failure) => {
            let problem = Problem::from(failure.error);
            match failure.return_to {
                Some(to) => {
                    let kind = problem
                        .kind
                        .rsplit('/')
                        .next()
                        .unwrap_or("error")
                        .to_string();
                    back_to(
                        &to,
                        &[("error", &kind), ("error_description", &problem.detail)],
                    )
                }
                None => problem.into_response(),
            }
        }
    }
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/accounts/{account_id}/select", tag = "accounts", summary = "Choose which offered sub-accounts to keep (editor or above)",
    params(("workspace_id" = String, Path), ("account_id" = String, Path, description = "the user account the offers came with")),
    request_body = SelectRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the sub-accounts now active", body = AccountList),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 415, body = Problem),
        (status = 422, description = "a remote id that was not offered", body = Problem),
    ))]
pub async fn select(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(body): Json<SelectRequest>,
) -> Result<axum::Json<AccountList>, Problem> {
    let id = path.1;
    member.require(Role::Editor)?;
    if body.remote_ids.len() > MAX_SELECT {
        return Err(Problem::unprocessable(
            "invalid-field",
            format!("`remote_ids` takes at most {MAX_SELECT} ids"),
        ));
    }
    let rows = connect::select(
        &app,
        &member.workspace_id,
        &member.user.id,
        &id,
        &body.remote_ids,
    )
    .await?;
    Ok(axum::Json(AccountList::of(rows)))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/accounts/{account_id}/refresh", tag = "accounts", summary = "Refresh the account's credentials now (editor or above)",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "refreshed; health updated", body = AccountView),
        (status = 400, description = "the platform refused: the account needs a reconnect", body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "the account is not active, or acts with its parent's credentials", body = Problem),
        (status = 422, description = "the platform's credentials cannot be refreshed", body = Problem),
        (status = 502, description = "the plugin or the platform failed; recorded as last_error", body = Problem),
    ))]
pub async fn refresh(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<axum::Json<AccountView>, Problem> {
    let id = path.1;
    member.require(Role::Editor)?;
    store::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| account_not_found(&id))?;
    Ok(axum::Json(AccountView::of(
        refresh_account(&app, &id).await?,
    )))
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/accounts/{account_id}", tag = "accounts", summary = "Disconnect an account (admin or owner)",
    description = "Revokes the grant at the platform (best effort: a failure shows in last_error), wipes the credentials and keeps the account as disconnected; its sub-accounts go with it.",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the disconnected account", body = AccountView),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn delete(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<axum::Json<AccountView>, Problem> {
    let id = path.1;
    member.require(Role::Admin)?;
    disconnect(&app, &member.workspace_id, &member.user.id, &id).await?;
    let row = store::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| account_not_found(&id))?;
    Ok(axum::Json(AccountView::of(row)))
}
