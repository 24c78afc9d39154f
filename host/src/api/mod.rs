//! The HTTP API (axum) under `/api/v1`, described by an OpenAPI document generated from
//! the handlers (`/api/openapi.json`, browsable offline at `/api/docs`).

pub mod accounts;
pub mod activity;
pub mod admin_plugins;
pub mod ai;
pub mod analytics;
pub mod api_keys;
pub mod apps;
pub mod auth;
pub mod caller;
pub mod events;
pub mod health;
pub mod import;
pub mod inbound;
pub mod inbox;
pub mod invitations;
pub mod json;
pub mod media;
pub mod media_studio;
pub mod members;
pub mod metrics;
pub mod posts;
pub mod problem;
pub mod public_media;
pub mod recurrence;
pub mod schedule;
pub mod slots;
pub mod uploads;
pub mod webhooks;
pub mod workspaces;

use crate::app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::Html;
use axum::routing::get;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

/// Largest JSON body accepted by ordinary endpoints; uploads have their own limits.
pub const MAX_JSON_BODY: usize = 1 << 20;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Plugboard",
        description = "Social publishing with sandboxed WebAssembly platform and AI plugins. Errors are application/problem+json.",
        license(name = "Apache-2.0")
    ),
    components(schemas(problem::Problem)),
    // Served outside the documented router (a wildcard path, the recorder), documented here.
    paths(public_media::serve, metrics::render, openapi_json, docs_page),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// All documented routes, with their OpenAPI description.
pub fn api() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(inbound::routes())
        .nest("/api/v1/admin", admin_plugins::routes())
        .nest("/api/v1", media::routes())
        .nest("/api/v1", media_studio::routes())
        .nest("/api/v1", uploads::routes())
        .nest("/api/v1", auth::routes())
        .nest("/api/v1", api_keys::routes())
        .nest("/api/v1", workspaces::routes())
        .nest("/api/v1", members::routes())
        .nest("/api/v1", invitations::routes())
        .nest("/api/v1", activity::routes())
        .nest("/api/v1", apps::routes())
        .nest("/api/v1", accounts::routes())
        .nest("/api/v1", posts::routes())
        .nest("/api/v1", schedule::routes())
        .nest("/api/v1", slots::routes())
        .nest("/api/v1", recurrence::routes())
        .nest("/api/v1", import::routes())
        .nest("/api/v1", events::routes())
        .nest("/api/v1", webhooks::routes())
        .nest("/api/v1", inbox::routes())
        .nest("/api/v1", analytics::routes())
        .nest("/api/v1", ai::routes())
}

/// The OpenAPI document of this server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

pub fn router(app: Arc<App>) -> Router {
    let (api, _) = api().split_for_parts();
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .route("/media/public/{*key}", get(public_media::serve))
        .route("/metrics", get(metrics::render))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs_page))
        .fallback(|| async {
            problem::Problem::not_found("no such route; the API is under /api/v1 (see /api/docs)")
        })
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(uploads::PreflightCors(cors(&app.config.cors_origins)))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(app)
}

/// CORS for the configured frontend origins (none: same-origin only).
fn cors(origins: &[String]) -> CorsLayer {
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::HeaderName::from_static("tus-resumable"),
            header::HeaderName::from_static("upload-offset"),
            header::HeaderName::from_static("upload-length"),
            header::HeaderName::from_static("upload-metadata"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("upload-offset"),
            header::HeaderName::from_static("upload-length"),
            header::HeaderName::from_static("upload-expires"),
            header::HeaderName::from_static("tus-resumable"),
            header::HeaderName::from_static("tus-version"),
            header::HeaderName::from_static("tus-extension"),
            header::HeaderName::from_static("tus-max-size"),
            header::HeaderName::from_static(uploads::MEDIA_ID_HEADER),
        ])
}

/// This document, generated once from the handlers.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, description = "the OpenAPI document", body = Object)))]
async fn openapi_json() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    axum::Json(DOC.get_or_init(openapi))
}

/// The API reference page: renders `/api/openapi.json` with no external resources.
#[utoipa::path(get, path = "/api/docs", tag = "operations", responses((status = 200, description = "HTML", content_type = "text/html")))]
async fn docs_page() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
