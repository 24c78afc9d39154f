//! The HTTP API (axum). Admin routes are under `/api/v1/admin`.

pub mod admin_plugins;
pub mod health;
pub mod problem;
pub mod public_media;

use crate::app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    let admin = Router::new()
        .route(
            "/plugins",
            get(admin_plugins::list).post(admin_plugins::install),
        )
        .route(
            "/plugins/{id}",
            get(admin_plugins::get)
                .put(admin_plugins::upgrade)
                .delete(admin_plugins::remove),
        )
        .route("/plugins/{id}/rollback", post(admin_plugins::rollback))
        .route("/plugins/{id}/grants", put(admin_plugins::grant))
        .layer(DefaultBodyLimit::max(
            admin_plugins::MAX_COMPONENT_BYTES + (1 << 20),
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/media/public/{*key}", get(public_media::serve))
        .nest("/api/v1/admin", admin)
        .fallback(|| async {
            problem::Problem::not_found("no such route; the API is under /api/v1")
        })
        .with_state(app)
}
