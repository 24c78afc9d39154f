//! Liveness and readiness probes.

use crate::app::App;
use crate::on_db;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers; lists the active plugin versions.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "ready", body = Object),
    (status = 503, description = "database unreachable", body = Object)))]
pub async fn readyz(State(app): State<Arc<App>>) -> impl IntoResponse {
    let db_ok: Result<i32, sqlx::Error> = on_db!(&app.db, |p| sqlx::query_scalar("SELECT 1")
        .fetch_one(p)
        .await);
    let plugins: Vec<String> = app
        .runtime
        .registry
        .list()
        .iter()
        .map(|p| format!("{} {}", p.manifest.id, p.manifest.version))
        .collect();
    let body = serde_json::json!({
        "database": db_ok.is_ok(),
        "plugins": plugins,
    });
    let status = if db_ok.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}
