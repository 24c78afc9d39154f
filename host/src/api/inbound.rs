//! `/webhooks/{plugin}[/{app_id}]`: platforms' webhook deliveries and verification
//! handshakes, passed unchanged to the plugin (see `crate::inbound`). No bearer token:
//! the plugin authenticates the platform by its signature.

use super::problem::Problem;
use crate::app::App;
use crate::inbound::{self, Delivery, InboundError, MAX_BODY};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(verify, deliver))
        .routes(routes!(verify_for_app, deliver_for_app))
}

impl From<InboundError> for Problem {
    fn from(e: InboundError) -> Problem {
        match &e {
            InboundError::NotFound(m) => Problem::not_found(m.clone()),
            InboundError::AppRequired(m) => Problem::conflict("app-required", m.clone()),
            InboundError::TooMany(_) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-webhooks",
                e.to_string(),
            ),
            InboundError::Rejected(PluginError::InvalidContent(_)) => {
                Problem::bad_request("invalid-webhook", e.to_string())
            }
            InboundError::Rejected(PluginError::Unsupported(_)) => {
                Problem::new(StatusCode::NOT_FOUND, "webhooks-unsupported", e.to_string())
            }
            InboundError::Rejected(PluginError::RateLimited(_)) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-webhooks",
                e.to_string(),
            ),
            InboundError::Rejected(PluginError::Transient(_)) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "webhook-unavailable",
                e.to_string(),
            ),
            // A signature or verify token that does not match, or a payload the plugin
            // refuses outright.
            InboundError::Rejected(_) => {
                Problem::new(StatusCode::UNAUTHORIZED, "webhook-rejected", e.to_string())
            }
            InboundError::Call(_) | InboundError::Internal(_) => {
                Problem::internal(&anyhow::anyhow!("{e}"))
            }
        }
    }
}

/// Headers a plugin never needs and that must not pass into a sandbox.
const WITHHELD: &[&str] = &["authorization", "cookie", "proxy-authorization"];
/// Headers of the plugin's reply the server sets itself.
const HOP_BY_HOP: &[&str] = &["content-length", "transfer-encoding", "connection"];

async fn handle(
    app: Arc<App>,
    plugin: String,
    app_id: Option<String>,
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("webhook bodies are at most {MAX_BODY} bytes"),
        )
    })?;
    let query = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let headers = headers
        .iter()
        .filter(|(name, _)| !WITHHELD.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let answer = inbound::receive(
        &app,
        &plugin,
        app_id.as_deref(),
        Delivery {
            method: method.to_string(),
            query,
            headers,
            body: body.to_vec(),
        },
    )
    .await?;
    tracing::info!(
        plugin,
        status = answer.status,
        taken = answer.taken,
        ignored = answer.ignored,
        "inbound webhook"
    );
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = (status, answer.body).into_response();
    for (name, value) in answer.headers {
        if HOP_BY_HOP.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            resp.headers_mut().insert(n, v);
        }
    }
    Ok(resp)
}

#[utoipa::path(get, path = "/webhooks/{plugin}", tag = "inbound-webhooks", summary = "A platform's webhook verification handshake",
    description = "Answered by the plugin (e.g. Meta's `hub.challenge`), verified with the server-wide app of the plugin.",
    params(("plugin" = String, Path)),
    responses((status = 200, description = "the plugin's answer"), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn verify(
    State(app): State<Arc<App>>,
    Path(plugin): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    handle(app, plugin, None, method, query, headers, body).await
}

#[utoipa::path(post, path = "/webhooks/{plugin}", tag = "inbound-webhooks", summary = "A platform's webhook delivery",
    description = "The raw body goes unchanged to the plugin, which verifies its signature with the server-wide app of the plugin. Replayed events are ignored.",
    params(("plugin" = String, Path)), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "the plugin's answer"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 429, body = Problem)))]
pub async fn deliver(
    State(app): State<Arc<App>>,
    Path(plugin): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    handle(app, plugin, None, method, query, headers, body).await
}

#[utoipa::path(get, path = "/webhooks/{plugin}/{app_id}", tag = "inbound-webhooks", summary = "A webhook verification handshake for one app",
    description = "As `GET /webhooks/{plugin}`, verified with this app's settings (a workspace's own app or a server-wide one).",
    params(("plugin" = String, Path), ("app_id" = String, Path)),
    responses((status = 200, description = "the plugin's answer"), (status = 401, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn verify_for_app(
    State(app): State<Arc<App>>,
    Path((plugin, app_id)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    handle(app, plugin, Some(app_id), method, query, headers, body).await
}

#[utoipa::path(post, path = "/webhooks/{plugin}/{app_id}", tag = "inbound-webhooks", summary = "A webhook delivery for one app",
    description = "As `POST /webhooks/{plugin}`, verified with this app's settings; events reach the accounts of the app's workspace only.",
    params(("plugin" = String, Path), ("app_id" = String, Path)), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "the plugin's answer"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem), (status = 429, body = Problem)))]
pub async fn deliver_for_app(
    State(app): State<Arc<App>>,
    Path((plugin, app_id)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    handle(app, plugin, Some(app_id), method, query, headers, body).await
}
