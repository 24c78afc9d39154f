//! TikTok Content Posting API, simulated: OAuth (authorize, token, rotating refresh
//! tokens), creator info, direct video posts by FILE_UPLOAD (chunk rules, `Content-Range`)
//! and PULL_FROM_URL (the simulator fetches the URL), photo posts, inbox drafts, and
//! status fetch through processing to PUBLISH_COMPLETE, SEND_TO_USER_INBOX or FAILED.
//!
//! # Deliberate protocol choices
//!
//! - **Chunk minimum (configurable)**: TikTok requires chunks of 5–64 MB (the last up to
//!   128 MB) and files under 5 MB in one piece; [`TikTokConfig::min_chunk_bytes`] defaults
//!   to 5 MB and tests lower it so small files exercise several chunks. `total_chunk_count`
//!   must be `floor(video_size / chunk_size)`; the remainder rides in the last chunk.
//! - **Chunks in order (⚠ upload_url lifetime)**: every PUT must start at the first byte
//!   not yet received, with `Content-Range: bytes first-last/total` and a body of exactly
//!   the chunk's length; anything else is 416 with the range expected. The upload URL does
//!   not expire here (TikTok: about an hour).
//! - **PULL_FROM_URL** fetches the URL at once in the background (no domain verification
//!   is simulated); a fetch that fails or is not MP4 (video) or JPEG/WebP (photo) ends in
//!   FAILED with `video_pull_failed` / `photo_pull_failed` / `file_format_check_failed`.
//! - **Processing** takes [`TikTokConfig::processing_ms`] after the last byte arrived.
//!   `publicaly_available_post_id` lists the post only when it is not `SELF_ONLY`.
//! - **Unaudited apps** ([`TikTokConfig::audited`] false) get only `SELF_ONLY` in creator
//!   info, and any other privacy is 403 `unaudited_client_can_only_post_to_private_accounts`.
//! - **Rate limits** are not counted; the `rate_limited` fault answers 429
//!   `rate_limit_exceeded` with the wait in `Retry-After` (TikTok documents no reset header).
//! - **Refresh tokens rotate**: a refresh spends the token it used.
//! - **Not simulated**: user info, video list/query, webhooks delivery, content moderation.

mod api;
mod config;
mod state;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::TikTokConfig;
pub use state::{
    Fault as TikTokFault, FaultAction as TikTokFaultAction, OPEN_ID as TIKTOK_OPEN_ID, Publish,
    RecordedRequest as TikTokRecordedRequest,
};

use state::{FaultAction, RecordedRequest, Sim};

/// A running simulated TikTok. Dropping it stops the server.
pub struct TikTokSim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl TikTokSim {
    pub async fn start(config: TikTokConfig) -> anyhow::Result<TikTokSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let app = router(Arc::clone(&sim));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the TikTok simulator stopped");
            }
        });
        Ok(TikTokSim { sim, server })
    }

    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    pub fn config(&self) -> &TikTokConfig {
        &self.sim.config
    }

    pub fn requests(&self) -> Vec<TikTokRecordedRequest> {
        self.sim.lock().requests.clone()
    }

    /// `METHOD path` of every request so far.
    pub fn sequence(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub fn publishes(&self) -> Vec<Publish> {
        self.sim.lock().publishes.clone()
    }

    pub fn inject(&self, fault: TikTokFault) {
        self.sim.lock().faults.push_back(fault);
    }

    pub async fn shutdown(mut self) {
        self.server.abort();
        // The only possible error is the cancellation just asked for.
        let _ = (&mut self.server).await;
    }
}

impl Drop for TikTokSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/v2/auth/authorize/", get(api::authorize))
        .route("/v2/oauth/token/", post(api::token))
        .route(
            "/v2/post/publish/creator_info/query/",
            post(api::creator_info),
        )
        .route("/v2/post/publish/video/init/", post(api::video))
        .route("/v2/post/publish/inbox/video/init/", post(api::inbox_video))
        .route("/v2/post/publish/content/init/", post(api::content_init))
        .route("/v2/post/publish/status/fetch/", post(api::status))
        .route("/upload/", put(api::upload))
        .route("/__sim/requests", get(admin_requests))
        .route("/__sim/publishes", get(admin_publishes))
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), intercept))
        .layer(DefaultBodyLimit::disable())
        .with_state(sim)
}

async fn admin_requests(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedRequest>> {
    Json(sim.lock().requests.clone())
}

async fn admin_publishes(State(sim): State<Arc<Sim>>) -> Json<Vec<Publish>> {
    Json(sim.lock().publishes.clone())
}

async fn intercept(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__sim/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let limit = usize::try_from(sim.config.max_last_chunk_bytes).unwrap_or(usize::MAX) + (1 << 20);
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large").into_response();
    };
    let text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = text(header::CONTENT_TYPE);
    let textual = content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/"));
    let (fault, index) = {
        let mut state = sim.lock();
        let fault = state.take_fault(&parts.method, parts.uri.path());
        state.requests.push(RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            content_range: text(header::CONTENT_RANGE),
            content_type,
            body: textual.then(|| String::from_utf8_lossy(&body).into_owned()),
            size: body.len(),
            status: None,
            fault: fault.clone(),
        });
        (fault, state.requests.len() - 1)
    };
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let request = Request::from_parts(parts, Body::from(body));
    let response = match fault {
        Some(FaultAction::RateLimited { reset_after_secs }) => api::rate_limited(reset_after_secs),
        Some(FaultAction::ServerError { status, body }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response(),
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(request).await
        }
        Some(FaultAction::ExpireToken) => {
            if let Some(token) = bearer
                && let Some(t) = sim.lock().tokens.get_mut(&token)
            {
                t.expires = Instant::now();
            }
            next.run(request).await
        }
        None => next.run(request).await,
    };
    if let Some(recorded) = sim.lock().requests.get_mut(index) {
        recorded.status = Some(response.status().as_u16());
    }
    response
}
