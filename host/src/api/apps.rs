//! Platform apps: the developer-app settings a plugin acts with (client id and secret,
//! instance URL, API key, redirect URI, …). A workspace's admins register their own; the
//! operator registers server-wide ones any workspace may connect through. Settings are
//! stored encrypted and answered with secret values masked.

use super::admin_plugins::check_operator;
use super::auth::{invalid_field, text_field};
use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use crate::accounts::apps::{
    MASK, MAX_APP_NAME_CHARS, MAX_SETTINGS, check_setting, masked, settings_of,
};
use crate::app::App;
use crate::crypto::credentials::SecretMap;
use crate::store::activity::{self, Entry};
use crate::store::apps::{self as store, AppRow, Owner};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(server_list, server_create))
        .routes(routes!(server_get, server_update, server_delete))
}

/// Who owns an app.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AppScope {
    /// Registered by this workspace.
    Workspace,
    /// Registered by the operator for every workspace.
    Server,
}

#[derive(Serialize, ToSchema)]
pub struct AppView {
    pub id: String,
    pub plugin: String,
    pub name: String,
    pub scope: AppScope,
    /// Setting names with their values; secret ones (names containing secret, key, token
    /// or password) show as `••••`.
    pub settings: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<AppView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// Id of an installed plugin.
    pub plugin: String,
    pub name: String,
    /// e.g. client_id, client_secret, redirect_uri, instance_url, api_key.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    pub name: Option<String>,
    /// Settings to set; `null` removes one; settings not named are kept.
    pub settings: Option<BTreeMap<String, Option<String>>>,
}

fn view(app: &App, row: &AppRow) -> Result<AppView, Problem> {
    let settings = settings_of(app, row)?;
    Ok(AppView {
        id: row.id.clone(),
        plugin: row.plugin_id.clone(),
        name: row.name.clone(),
        scope: if row.workspace_id.is_some() {
            AppScope::Workspace
        } else {
            AppScope::Server
        },
        settings: masked(&settings),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn check_settings(settings: &SecretMap) -> Result<(), Problem> {
    if settings.0.len() > MAX_SETTINGS {
        return Err(invalid_field(
            "settings",
            format!("may hold at most {MAX_SETTINGS} settings"),
        ));
    }
    if settings.0.values().any(|v| v == MASK) {
        // A masked value sent back would overwrite the real secret with the mask.
        return Err(invalid_field(
            "settings",
            format!("`{MASK}` is the mask of a secret, not a value"),
        ));
    }
    let errors: Vec<serde_json::Value> = settings
        .0
        .iter()
        .filter_map(|(k, v)| {
            check_setting(k, v)
                .err()
                .map(|m| json!({"field": format!("settings.{k}"), "message": m}))
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    let detail = errors
        .iter()
        .map(|e| {
            format!(
                "`{}` {}",
                e["field"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(Problem::unprocessable("invalid-field", detail).with_errors(errors))
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("app `{id}` not found"))
}

/// The activity log belongs to workspaces: server-wide changes go to the server log.
async fn record(
    app: &App,
    tx: &mut crate::store::Tx,
    row: &AppRow,
    actor: Option<&str>,
    action: &str,
    details: serde_json::Value,
) -> Result<(), Problem> {
    match &row.workspace_id {
        Some(ws) => activity::record_in(
            &app.db,
            tx,
            Entry {
                workspace_id: ws,
                actor_id: actor,
                action,
                subject_type: "app",
                subject_id: Some(&row.id),
                details,
            },
        )
        .await
        .map_err(Problem::from),
        None => {
            tracing::info!(app = %row.id, plugin = %row.plugin_id, action, "server-wide platform app changed");
            Ok(())
        }
    }
}

fn lock_key(owner: Owner<'_>) -> String {
    match owner {
        Owner::Workspace(ws) => format!("apps:{ws}"),
        Owner::Server => "apps:server".into(),
    }
}

async fn create_in(
    app: &App,
    owner: Owner<'_>,
    actor: Option<&str>,
    body: CreateApp,
) -> Result<AppView, Problem> {
    let name = text_field("name", &body.name, MAX_APP_NAME_CHARS)?;
    if app.runtime.registry.get(&body.plugin).is_none() {
        return Err(Problem::not_found(format!(
            "plugin `{}` is not installed",
            body.plugin
        )));
    }
    let settings = SecretMap(body.settings);
    check_settings(&settings)?;
    let now = Utc::now();
    let row = AppRow {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: match owner {
            Owner::Workspace(ws) => Some(ws.to_string()),
            Owner::Server => None,
        },
        plugin_id: body.plugin,
        name,
        settings: app.cipher.seal_json(&settings)?,
        created_at: now,
        updated_at: now,
    };
    let mut tx = app.db.write_tx(&lock_key(owner)).await?;
    store::insert(&app.db, &mut tx, &row).await?;
    let names: Vec<&String> = settings.0.keys().collect();
    record(
        app,
        &mut tx,
        &row,
        actor,
        "app.created",
        json!({"plugin": row.plugin_id, "name": row.name, "settings": names}),
    )
    .await?;
    tx.commit().await?;
    view(app, &row)
}

async fn update_in(
    app: &App,
    owner: Owner<'_>,
    actor: Option<&str>,
    id: &str,
    body: UpdateApp,
) -> Result<AppView, Problem> {
    let mut row = store::get(&app.db, owner, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if let Some(name) = &body.name {
        row.name = text_field("name", name, MAX_APP_NAME_CHARS)?;
    }
    let mut changed: Vec<String> = Vec::new();
    if let Some(patch) = body.settings {
        let mut settings = settings_of(app, &row)?;
        for (k, v) in patch {
            match v {
                Some(v) => settings.0.insert(k.clone(), v),
                None => settings.0.remove(&k),
            };
            changed.push(k);
        }
        check_settings(&settings)?;
        row.settings = app.cipher.seal_json(&settings)?;
    }
    row.updated_at = Utc::now();
    let mut tx = app.db.write_tx(&lock_key(owner)).await?;
    store::update(&app.db, &mut tx, &row).await?;
    record(
        app,
        &mut tx,
        &row,
        actor,
        "app.updated",
        json!({"plugin": row.plugin_id, "name": row.name, "settings_changed": changed}),
    )
    .await?;
    tx.commit().await?;
    view(app, &row)
}

async fn delete_in(
    app: &App,
    owner: Owner<'_>,
    actor: Option<&str>,
    id: &str,
) -> Result<(), Problem> {
    let row = store::get(&app.db, owner, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let mut tx = app.db.write_tx(&lock_key(owner)).await?;
    let in_use = store::accounts_using(&app.db, &mut tx, id).await?;
    if in_use > 0 {
        return Err(Problem::conflict(
            "app-in-use",
            format!("{in_use} connected account(s) act through app `{id}`; disconnect them first"),
        ));
    }
    store::delete(&app.db, &mut tx, id).await?;
    record(
        app,
        &mut tx,
        &row,
        actor,
        "app.deleted",
        json!({"plugin": row.plugin_id, "name": row.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- workspace apps

#[utoipa::path(get, path = "/workspaces/{workspace_id}/apps", tag = "apps", summary = "The workspace's platform apps and the server-wide ones it may use",
    params(("workspace_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "workspace apps first, then server-wide ones; secret settings masked", body = AppList),
        (status = 401, body = Problem),
        (status = 404, description = "not a member of this workspace", body = Problem),
    ))]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<AppList>, Problem> {
    let mut rows = store::list(&app.db, Owner::Workspace(&member.workspace_id)).await?;
    rows.extend(store::list(&app.db, Owner::Server).await?);
    let apps = rows
        .iter()
        .map(|r| view(&app, r))
        .collect::<Result<_, _>>()?;
    Ok(axum::Json(AppList { apps }))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/apps", tag = "apps", summary = "Register a platform app (admin or owner)",
    params(("workspace_id" = String, Path)),
    request_body = CreateApp,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "secret settings masked", body = AppView),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, description = "workspace or plugin not found", body = Problem),
        (status = 415, body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn create(
    State(app): State<Arc<App>>,
    member: Member,
    Json(body): Json<CreateApp>,
) -> Result<impl IntoResponse, Problem> {
    member.require(Role::Admin)?;
    let v = create_in(
        &app,
        Owner::Workspace(&member.workspace_id),
        Some(&member.user.id),
        body,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/apps/{app_id}", tag = "apps", summary = "A platform app of the workspace (or a server-wide one)",
    params(("workspace_id" = String, Path), ("app_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AppView),
        (status = 401, body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn get(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<axum::Json<AppView>, Problem> {
    let id = path.1;
    let row = store::get_usable(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(view(&app, &row)?))
}

#[utoipa::path(patch, path = "/workspaces/{workspace_id}/apps/{app_id}", tag = "apps", summary = "Rename a platform app or change its settings (admin or owner)",
    params(("workspace_id" = String, Path), ("app_id" = String, Path)),
    request_body = UpdateApp,
    security(("bearer" = [])),
    responses(
        (status = 200, body = AppView),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, description = "not an app of this workspace", body = Problem),
        (status = 415, body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn update(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(body): Json<UpdateApp>,
) -> Result<axum::Json<AppView>, Problem> {
    let id = path.1;
    member.require(Role::Admin)?;
    Ok(axum::Json(
        update_in(
            &app,
            Owner::Workspace(&member.workspace_id),
            Some(&member.user.id),
            &id,
            body,
        )
        .await?,
    ))
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/apps/{app_id}", tag = "apps", summary = "Delete a platform app no connected account uses (admin or owner)",
    params(("workspace_id" = String, Path), ("app_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, description = "not an app of this workspace", body = Problem),
        (status = 409, description = "accounts still act through it", body = Problem),
    ))]
pub async fn delete(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let id = path.1;
    member.require(Role::Admin)?;
    delete_in(
        &app,
        Owner::Workspace(&member.workspace_id),
        Some(&member.user.id),
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- server-wide apps

#[utoipa::path(get, path = "/admin/apps", tag = "admin", summary = "Server-wide platform apps",
    security(("bearer" = [])),
    responses((status = 200, body = AppList), (status = 401, body = Problem)))]
pub async fn server_list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<axum::Json<AppList>, Problem> {
    check_operator(&app, &headers)?;
    let rows = store::list(&app.db, Owner::Server).await?;
    let apps = rows
        .iter()
        .map(|r| view(&app, r))
        .collect::<Result<_, _>>()?;
    Ok(axum::Json(AppList { apps }))
}

#[utoipa::path(post, path = "/admin/apps", tag = "admin", summary = "Register a server-wide platform app",
    request_body = CreateApp,
    security(("bearer" = [])),
    responses(
        (status = 201, body = AppView),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 404, description = "plugin not installed", body = Problem),
        (status = 415, body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn server_create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(body): Json<CreateApp>,
) -> Result<impl IntoResponse, Problem> {
    check_operator(&app, &headers)?;
    let v = create_in(&app, Owner::Server, None, body).await?;
    Ok((StatusCode::CREATED, axum::Json(v)))
}

#[utoipa::path(get, path = "/admin/apps/{app_id}", tag = "admin", summary = "A server-wide platform app",
    params(("app_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = AppView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn server_get(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<axum::Json<AppView>, Problem> {
    check_operator(&app, &headers)?;
    let row = store::get(&app.db, Owner::Server, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(view(&app, &row)?))
}

#[utoipa::path(patch, path = "/admin/apps/{app_id}", tag = "admin", summary = "Change a server-wide platform app",
    params(("app_id" = String, Path)),
    request_body = UpdateApp,
    security(("bearer" = [])),
    responses(
        (status = 200, body = AppView),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 404, body = Problem),
        (status = 415, body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn server_update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<UpdateApp>,
) -> Result<axum::Json<AppView>, Problem> {
    check_operator(&app, &headers)?;
    Ok(axum::Json(
        update_in(&app, Owner::Server, None, &id, body).await?,
    ))
}

#[utoipa::path(delete, path = "/admin/apps/{app_id}", tag = "admin", summary = "Delete a server-wide platform app no connected account uses",
    params(("app_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "accounts still act through it", body = Problem),
    ))]
pub async fn server_delete(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    check_operator(&app, &headers)?;
    delete_in(&app, Owner::Server, None, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
