//! YouTube Data API v3 (`channels.list`, `videos.insert` over the resumable upload
//! protocol, `videos.list`) and Google's OAuth 2, simulated.
//!
//! # Deliberate protocol choices (⚠ points of the reference)
//!
//! - **Quota**: the project may call `videos.insert` [`YoutubeConfig::daily_uploads`]
//!   times per Pacific day (100: the current page's own bucket at cost 1, not the older
//!   1,600 units). Each session start counts, whether its upload finishes or not. Beyond
//!   it 403 `quotaExceeded`, without a `Retry-After`: Google's quotas reset at midnight
//!   Pacific time, which is what the client has to wait for.
//! - **Chunks**: every chunk but the last must be a multiple of
//!   [`YoutubeConfig::chunk_granularity`] (256 KiB) and start at the first byte the
//!   session has not received; otherwise 400 (Google's documentation only says such a
//!   chunk "fails"). A status query is `PUT` with an empty body and
//!   `Content-Range: bytes */TOTAL` → 308 with `Range: bytes=0-N` (none before the first
//!   byte), or the video resource once complete. A full upload in one PUT without
//!   `Content-Range` works too. Unknown sessions are 404.
//! - **Interrupted transfers** ([`FaultAction::InterruptUpload`]) keep a granularity
//!   multiple of the chunk's bytes and answer 503 `backendError`, as a broken connection
//!   behind Google's front end looks: the client must query the session to learn what
//!   arrived.
//! - **Processing**: a finished upload is `uploadStatus: uploaded` /
//!   `processingStatus: processing` for [`YoutubeConfig::processing_ms`], then
//!   `processed`/`succeeded`, or `failed` (`failureReason: codec`) when the file is not
//!   an MP4.
//! - **Refresh tokens** are issued only with `access_type=offline`, are not rotated, and
//!   do not expire by themselves (the 7-day death of "Testing" apps is not simulated).
//!   Access tokens expire after [`YoutubeConfig::access_token_ttl_secs`];
//!   [`YoutubeSim::expire_tokens`] ends them early.
//! - **Metadata checks**: title 1–100 characters without `<` `>` (`invalidTitle`),
//!   description ≤ 5,000 bytes without `<` `>` (`invalidDescription`), tags ≤ 500
//!   characters counting commas between tags and quotes around tags with spaces
//!   (`invalidTags`), a known `categoryId`, `privacyStatus` public/unlisted/private, and a
//!   future `publishAt` only with `private` (`invalidPublishAt`).
//! - **Pulling media by URL** does not exist at YouTube: uploads are pushed.
//! - **Authorization is automatic**; an empty [`YoutubeConfig::redirect_uris`] accepts any
//!   http(s) redirect URI.
//!
//! # Faults and recordings
//!
//! Every request but `/__sim/` is recorded, then meets the first queued [`Fault`]
//! matching its method and path prefix. `/__sim/` offers `GET requests`, `GET videos`,
//! `POST reset`, `POST|DELETE faults` and `POST expire_tokens`.

mod config;
mod error;
mod faults;
mod oauth;
mod record;
mod state;
mod videos;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::YoutubeConfig;
pub use faults::{Fault as YoutubeFault, FaultAction as YoutubeFaultAction};
pub use record::RecordedRequest as YoutubeRequest;
pub use state::{RecordedVideo, VideoMetadata};

use error::ApiError;
use faults::{Fault, FaultAction};
use record::RecordedRequest;
use state::Sim;

const ADMIN_PREFIX: &str = "/__sim/";

/// A running simulated YouTube. Dropping it stops the server.
pub struct YoutubeSim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl YoutubeSim {
    pub async fn start(config: YoutubeConfig) -> anyhow::Result<YoutubeSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let app = router(Arc::clone(&sim));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the youtube simulator stopped");
            }
        });
        Ok(YoutubeSim { sim, server })
    }

    /// `http://127.0.0.1:PORT`: OAuth, token, API and upload origin at once.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.lock().requests.clone()
    }

    /// Every video whose upload completed, oldest first.
    pub fn videos(&self) -> Vec<RecordedVideo> {
        recorded(&self.sim)
    }

    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            self.sim.lock().faults.push_back(fault);
        }
    }

    /// Ends every access token issued so far (refresh tokens stay good).
    pub fn expire_tokens(&self) {
        expire_all(&self.sim);
    }

    pub fn reset(&self) {
        self.sim.reset();
    }

    pub async fn shutdown(mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for YoutubeSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn recorded(sim: &Sim) -> Vec<RecordedVideo> {
    sim.lock()
        .videos
        .iter()
        .map(|v| RecordedVideo {
            id: v.id.clone(),
            metadata: v.metadata.clone(),
            size: v.size,
        })
        .collect()
}

fn expire_all(sim: &Sim) {
    let past = Utc::now() - chrono::Duration::seconds(1);
    for token in sim.lock().tokens.values_mut() {
        token.expires_at = past;
    }
}

fn router(sim: Arc<Sim>) -> Router {
    let admin = Router::new()
        .route(
            "/requests",
            get(|State(sim): State<Arc<Sim>>| async move { Json(sim.lock().requests.clone()) }),
        )
        .route(
            "/videos",
            get(|State(sim): State<Arc<Sim>>| async move { Json(recorded(&sim)) }),
        )
        .route(
            "/reset",
            post(|State(sim): State<Arc<Sim>>| async move {
                sim.reset();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/faults",
            post(
                |State(sim): State<Arc<Sim>>, Json(fault): Json<Fault>| async move {
                    sim.lock().faults.push_back(fault);
                    StatusCode::NO_CONTENT
                },
            )
            .delete(|State(sim): State<Arc<Sim>>| async move {
                sim.lock().faults.clear();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/expire_tokens",
            post(|State(sim): State<Arc<Sim>>| async move {
                expire_all(&sim);
                StatusCode::NO_CONTENT
            }),
        );
    Router::new()
        .route("/o/oauth2/v2/auth", get(oauth::authorize))
        .route("/token", post(oauth::token))
        .route("/youtube/v3/channels", get(videos::channels))
        .route("/youtube/v3/videos", get(videos::list))
        .route(
            "/upload/youtube/v3/videos",
            post(videos::insert).put(upload_chunk),
        )
        .nest(ADMIN_PREFIX.trim_end_matches('/'), admin)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "global", "notFound", "Not Found")
        })
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), intercept))
        .layer(DefaultBodyLimit::disable())
        .with_state(sim)
}

async fn upload_chunk(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    videos::put(&sim, &headers, &q, &body, None)
}

/// Records the request, then applies the first matching fault.
async fn intercept(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(ADMIN_PREFIX) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::bad_request("The request body could not be read").into_response();
    };
    let seq = sim.next_seq();
    let mut record = RecordedRequest::capture(seq, &parts, &body);
    let fault = {
        let mut state = sim.lock();
        let fault = state.take_fault(&parts.method, parts.uri.path());
        record.fault = fault.clone();
        state.requests.push(record);
        fault
    };
    let response = match fault {
        Some(FaultAction::QuotaExceeded) => ApiError::quota_exceeded().into_response(),
        Some(FaultAction::RateLimited { retry_after_secs }) => {
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "youtube.quota",
                "rateLimitExceeded",
                "The request cannot be completed because you have exceeded your rate limit.",
            )
            .into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after_secs));
            r
        }
        Some(FaultAction::ServerError { status, reason }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            ApiError::new(status, "global", &reason, "Backend Error").into_response()
        }
        Some(FaultAction::InterruptUpload { keep_bytes }) => {
            let q: HashMap<String, String> = parts
                .uri
                .query()
                .map(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default();
            videos::put(&sim, &parts.headers, &q, &body, Some(keep_bytes))
        }
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(Request::from_parts(parts, axum::body::Body::from(body)))
                .await
        }
        Some(FaultAction::ExpireToken) => {
            {
                let mut state = sim.lock();
                let token = state::bearer(&parts.headers).map(str::to_owned);
                if let Some(t) = token.and_then(|t| state.tokens.get_mut(&t)) {
                    t.expires_at = Utc::now() - chrono::Duration::seconds(1);
                }
            }
            next.run(Request::from_parts(parts, axum::body::Body::from(body)))
                .await
        }
        None => {
            next.run(Request::from_parts(parts, axum::body::Body::from(body)))
                .await
        }
    };
    let status = response.status().as_u16();
    let range = response
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(r) = sim.lock().requests.iter_mut().rev().find(|r| r.seq == seq) {
        r.status = Some(status);
        r.range = range;
    }
    response
}
