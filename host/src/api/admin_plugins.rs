//! Operator API for plugins: list, inspect, install, upgrade, roll back, grant, remove.
//! Protected by the operator token.

use super::problem::Problem;
use crate::app::App;
use crate::runtime::grants::Grants;
use crate::runtime::manifest::Manifest;
use crate::runtime::plugin::LoadedPlugin;
use crate::runtime::registry::{InstallMode, RegistryError};
use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Serialize;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, install))
        .routes(routes!(get, upgrade, remove))
        .routes(routes!(rollback))
        .routes(routes!(grant))
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_COMPONENT_BYTES + (1 << 20),
        ))
}

/// Largest component accepted (bytes).
pub const MAX_COMPONENT_BYTES: usize = 64 << 20;

pub fn check_operator(app: &App, headers: &HeaderMap) -> Result<(), Problem> {
    use subtle::ConstantTimeEq;
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if given.is_empty() || !bool::from(given.as_bytes().ct_eq(app.admin_token.as_bytes())) {
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the admin API needs `Authorization: Bearer <operator token>` (see DATA_DIR/admin-token or PLUGBOARD_ADMIN_TOKEN)",
        ));
    }
    Ok(())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PluginView {
    pub id: String,
    pub version: String,
    pub world: &'static str,
    pub name: Option<String>,
    pub description: Option<String>,
    pub contract: String,
    pub content_hash: String,
    pub requested: Requested,
    #[schema(value_type = Object)]
    pub grants: Grants,
    #[schema(value_type = Object)]
    pub limits: crate::runtime::limits::Limits,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Requested {
    pub hosts: Vec<String>,
    pub secrets: Vec<String>,
    pub storage_quota: u64,
}

impl PluginView {
    pub fn of(p: &LoadedPlugin) -> PluginView {
        let m = &p.manifest;
        PluginView {
            id: m.id.clone(),
            version: m.version.clone(),
            world: m.world.as_str(),
            name: m.name.clone(),
            description: m.description.clone(),
            contract: m.contract.clone(),
            content_hash: p.content_hash.clone(),
            requested: Requested {
                hosts: m.hosts.clone(),
                secrets: m.secrets.clone(),
                storage_quota: m.storage_quota,
            },
            grants: p.grants.clone(),
            limits: p.limits,
        }
    }
}

impl From<RegistryError> for Problem {
    fn from(e: RegistryError) -> Problem {
        match e {
            RegistryError::NotInstalled(_) => Problem::not_found(e.to_string()),
            RegistryError::AlreadyInstalled { .. } | RegistryError::VersionConflict { .. } => {
                Problem::new(StatusCode::CONFLICT, "plugin-conflict", e.to_string())
            }
            RegistryError::NothingToRollBack(_) => {
                Problem::new(StatusCode::CONFLICT, "nothing-to-roll-back", e.to_string())
            }
            RegistryError::Manifest(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-plugin",
                e.to_string(),
            ),
            RegistryError::Grants(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-grants",
                e.to_string(),
            ),
            RegistryError::Invalid { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "plugin-validation-failed",
                e.to_string(),
            ),
            RegistryError::Internal(err) => Problem::internal(&err),
        }
    }
}

#[utoipa::path(get, path = "/plugins", tag = "admin", summary = "List installed plugins", security(("bearer" = [])), responses((status = 200, body = Object), (status = 401, body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, Problem> {
    check_operator(&app, &headers)?;
    let all: Vec<PluginView> = app
        .runtime
        .registry
        .list()
        .iter()
        .map(|p| PluginView::of(p))
        .collect();
    Ok(Json(serde_json::json!({ "plugins": all })))
}

#[utoipa::path(get, path = "/plugins/{id}", tag = "admin", summary = "A plugin with its version history", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    check_operator(&app, &headers)?;
    let p = app
        .runtime
        .registry
        .get(&id)
        .ok_or_else(|| Problem::not_found(format!("plugin `{id}` is not installed")))?;
    let history = app
        .runtime
        .registry
        .history(&id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let versions: Vec<serde_json::Value> = history
        .iter()
        .map(|v| serde_json::json!({"version": v.version, "content_hash": v.content_hash, "installed_at": v.installed_at}))
        .collect();
    Ok(Json(
        serde_json::json!({ "plugin": PluginView::of(&p), "versions": versions }),
    ))
}

/// An upload: the component file and how to grant.
struct Upload {
    bytes: Vec<u8>,
    grants: Option<Grants>,
    grant_requested: bool,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, Problem> {
    let mut upload = Upload {
        bytes: Vec::new(),
        grants: None,
        grant_requested: false,
    };
    let bad = |e: axum::extract::multipart::MultipartError| {
        Problem::bad_request("invalid-multipart", e.body_text())
    };
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "component" => upload.bytes = field.bytes().await.map_err(bad)?.to_vec(),
            "grants" => {
                let text = field.text().await.map_err(bad)?;
                let grants: Grants = serde_json::from_str(&text).map_err(|e| {
                    Problem::bad_request("invalid-grants", format!("`grants` is not valid: {e}"))
                })?;
                upload.grants = Some(grants);
            }
            "grant_requested" => {
                upload.grant_requested = field.text().await.map_err(bad)?.trim() == "true"
            }
            other => {
                return Err(Problem::bad_request(
                    "invalid-multipart",
                    format!(
                        "unknown form field `{other}`; expected component, grants, grant_requested"
                    ),
                ));
            }
        }
    }
    if upload.bytes.is_empty() {
        return Err(Problem::bad_request(
            "invalid-multipart",
            "the `component` file field is missing or empty",
        ));
    }
    Ok(upload)
}

async fn change(
    app: &App,
    upload: Upload,
    mode: InstallMode,
) -> Result<impl IntoResponse + use<>, Problem> {
    let grants = if upload.grant_requested {
        let m = Manifest::from_component(&upload.bytes).map_err(RegistryError::from)?;
        Some(Grants::requested(&m))
    } else {
        upload.grants
    };
    let report = app
        .runtime
        .registry
        .install(&upload.bytes, grants, mode)
        .await?;
    let status = if mode == InstallMode::Install {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)))
}

#[utoipa::path(post, path = "/plugins", tag = "admin", summary = "Install a plugin", description = "multipart/form-data: `component` (the .wasm file), optional `grants` (JSON) or `grant_requested=true`.", request_body(content_type = "multipart/form-data", content = Object), security(("bearer" = [])), responses((status = 201, body = Object), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn install(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: Multipart,
) -> Result<impl IntoResponse, Problem> {
    check_operator(&app, &headers)?;
    let upload = read_upload(form).await?;
    change(&app, upload, InstallMode::Install).await
}

#[utoipa::path(put, path = "/plugins/{id}", tag = "admin", summary = "Upgrade a plugin to a new version", params(("id" = String, Path)), request_body(content_type = "multipart/form-data", content = Object), security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn upgrade(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Multipart,
) -> Result<impl IntoResponse, Problem> {
    check_operator(&app, &headers)?;
    let upload = read_upload(form).await?;
    let m = Manifest::from_component(&upload.bytes).map_err(RegistryError::from)?;
    if m.id != id {
        return Err(Problem::bad_request(
            "plugin-id-mismatch",
            format!("the component is plugin `{}`, not `{id}`", m.id),
        ));
    }
    change(&app, upload, InstallMode::Upgrade).await
}

#[utoipa::path(post, path = "/plugins/{id}/rollback", tag = "admin", summary = "Make the previous version active again", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rollback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    check_operator(&app, &headers)?;
    Ok(Json(app.runtime.registry.rollback(&id).await?))
}

#[utoipa::path(put, path = "/plugins/{id}/grants", tag = "admin", summary = "Replace a plugin's grants", params(("id" = String, Path)), request_body(content = Object, content_type = "application/json"), security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn grant(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, Problem> {
    check_operator(&app, &headers)?;
    let grants: Grants = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(
            "invalid-grants",
            format!("the body is not a valid grants object: {e}"),
        )
    })?;
    Ok(Json(app.runtime.registry.grant(&id, grants).await?))
}

#[utoipa::path(delete, path = "/plugins/{id}", tag = "admin", summary = "Remove a plugin, its versions and storage", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 204), (status = 404, body = Problem)))]
pub async fn remove(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    check_operator(&app, &headers)?;
    app.runtime.registry.remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
