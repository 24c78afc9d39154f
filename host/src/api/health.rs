//! Liveness and readiness probes.

use crate::app::App;
use crate::on_db;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::Arc;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers; reports the active plugins.
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
