//! LinkedIn's REST API (Posts, Images, Videos, organization ACLs), OpenID userinfo and
//! OAuth 2, simulated.
//!
//! # Deliberate protocol choices (⚠ points of the reference)
//!
//! - **Versions.** `Linkedin-Version: YYYYMM` is required on every `/rest/` call; a
//!   missing one is 400 `VERSION_MISSING`, one older than
//!   [`LinkedinConfig::active_version_months`] (12, LinkedIn's support window) or in the
//!   future is 426 `NONEXISTENT_VERSION` ("Requested version … is not active"), as
//!   LinkedIn answers. `X-Restli-Protocol-Version: 2.0.0` is required too (400 otherwise).
//! - **Expired tokens** answer 401 `EXPIRED_ACCESS_TOKEN` with serviceErrorCode 65602,
//!   revoked ones `REVOKED_ACCESS_TOKEN` 65601, unknown ones `INVALID_ACCESS_TOKEN` 65600.
//! - **Refresh tokens** are issued only when [`LinkedinConfig::refresh_tokens`] says the
//!   app is approved for them (default yes); a refresh returns the same refresh token,
//!   whose 365 days keep running from the first authorization.
//! - **Commentary** is little text: every reserved character (`| { } @ [ ] ( ) < > # \ *
//!   _ ~`) must be escaped with a backslash, else 422. Real LinkedIn silently drops text
//!   after a malformed template; refusing is stricter and makes a missing escape visible.
//!   Mentions and hashtag templates are not simulated. The 3,000-character limit counts
//!   Unicode scalar values of the rendered (unescaped) text.
//! - **Throttling.** Each author may create [`LinkedinConfig::daily_post_limit`] posts per
//!   UTC day (150, LinkedIn's member limit); beyond it 429 with `Retry-After` = seconds to
//!   midnight UTC, when LinkedIn's daily windows reset. LinkedIn does not document the
//!   header; the simulator sends it so a client can learn the reset, and the plugin falls
//!   back to midnight UTC without it.
//! - **Duplicates**: a post with the same author, commentary and media as an existing one
//!   is 422 `DUPLICATE_POST` "Content is a duplicate of urn:li:…".
//! - **Video parts** are [`LinkedinConfig::video_part_bytes`] (4,194,304 by default; tests
//!   shrink it); a part PUT must carry exactly its range (else 400) and answers an `ETag`;
//!   finalize needs every ETag in order. Part URLs are pre-signed (`sig`), image upload
//!   URLs take the bearer token. A finalized video is `PROCESSING` for
//!   [`LinkedinConfig::video_processing_ms`], then `AVAILABLE`, or `PROCESSING_FAILED` when
//!   the file is not an MP4 (`ftyp` box). Durations are not checked.
//! - **Reading posts** (`GET /rest/posts?q=author`) takes `r_member_social` for members (a
//!   closed permission few apps hold) and `r_organization_social` for organizations.
//! - **URNs**: text and single-image posts are `urn:li:share:…`, video and multi-image
//!   posts `urn:li:ugcPost:…`.
//! - **Pulling media by URL** does not exist at LinkedIn: every upload is pushed.
//! - **Authorization is automatic** as [`LinkedinConfig::member_sub`]; an empty
//!   [`LinkedinConfig::redirect_uris`] accepts any http(s) redirect URL.
//!
//! # Faults and recordings
//!
//! Every request but `/__sim/` is recorded in arrival order, then meets the first queued
//! [`Fault`] matching its method and path prefix. `/__sim/` offers the same controls over
//! HTTP: `GET requests`, `GET posts`, `POST reset`, `POST|DELETE faults`,
//! `POST expire_tokens`.

mod config;
mod error;
mod faults;
mod media;
mod oauth;
mod record;
mod rest;
mod state;
mod text;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::{LinkedinConfig, SimOrganization};
pub use faults::{Fault as LinkedinFault, FaultAction as LinkedinFaultAction};
pub use record::RecordedRequest as LinkedinRequest;
pub use state::RecordedPost as LinkedinPost;

use error::ApiError;
use faults::{Fault, FaultAction};
use record::RecordedRequest;
use state::{RecordedPost, Sim};

const ADMIN_PREFIX: &str = "/__sim/";

/// A running simulated LinkedIn. Dropping it stops the server.
pub struct LinkedinSim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl LinkedinSim {
    /// Binds `127.0.0.1:config.port` (0 picks a free port) and starts serving.
    pub async fn start(config: LinkedinConfig) -> anyhow::Result<LinkedinSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let app = router(Arc::clone(&sim));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the linkedin simulator stopped");
            }
        });
        Ok(LinkedinSim { sim, server })
    }

    /// `http://127.0.0.1:PORT`: the API, OAuth and upload origin at once.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    /// Every client request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.lock().requests.clone()
    }

    /// Every post that exists, oldest first.
    pub fn posts(&self) -> Vec<RecordedPost> {
        self.sim.lock().posts.clone()
    }

    /// Queues `fault` behind those already queued.
    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            self.sim.lock().faults.push_back(fault);
        }
    }

    /// Makes every access token issued so far expired (refresh tokens stay good).
    pub fn expire_tokens(&self) {
        expire_all(&self.sim);
    }

    /// Forgets everything but the configuration.
    pub fn reset(&self) {
        self.sim.reset();
    }

    pub async fn shutdown(mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for LinkedinSim {
    fn drop(&mut self) {
        self.server.abort();
    }
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
            "/posts",
            get(|State(sim): State<Arc<Sim>>| async move { Json(sim.lock().posts.clone()) }),
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
        .route("/oauth/v2/authorization", get(oauth::authorize))
        .route("/oauth/v2/accessToken", post(oauth::access_token))
        .route("/v2/userinfo", get(rest::userinfo))
        .route("/rest/organizationAcls", get(rest::organization_acls))
        .route("/rest/organizations/{id}", get(rest::organization))
        .route(
            "/rest/posts",
            post(rest::create_post).get(rest::posts_by_author),
        )
        .route(
            "/rest/posts/{urn}",
            axum::routing::delete(rest::delete_post),
        )
        .route("/rest/images", post(media::images))
        .route("/rest/videos", post(media::videos))
        .route("/rest/videos/{urn}", get(media::video))
        .route("/dms-uploads/image/{id}", put(media::upload_image))
        .route("/dms-uploads/video/{id}/part/{n}", put(media::upload_part))
        .nest(ADMIN_PREFIX.trim_end_matches('/'), admin)
        .fallback(|| async { ApiError::not_found("Resource not found") })
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), intercept))
        .layer(DefaultBodyLimit::disable())
        .with_state(sim)
}

/// Records the request, then applies the first matching fault.
async fn intercept(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(ADMIN_PREFIX) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let limit = usize::try_from(sim.config.max_video_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            0,
            "REQUEST_TOO_LARGE",
            "Request entity too large",
        )
        .into_response();
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
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    let response = match fault {
        Some(FaultAction::RateLimited { reset_after_secs }) => ApiError::throttled(
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            reset_after_secs,
        )
        .into_response(),
        Some(FaultAction::ServerError { status, body }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response(),
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(request).await
        }
        Some(action @ (FaultAction::ExpireToken | FaultAction::RevokeToken)) => {
            {
                let mut state = sim.lock();
                let token = state::bearer(request.headers()).map(str::to_owned);
                if let Some(t) = token.and_then(|t| state.tokens.get_mut(&t)) {
                    match action {
                        FaultAction::ExpireToken => {
                            t.expires_at = Utc::now() - chrono::Duration::seconds(1)
                        }
                        _ => t.revoked = true,
                    }
                }
            }
            next.run(request).await
        }
        None => next.run(request).await,
    };
    let status = response.status().as_u16();
    if let Some(r) = sim.lock().requests.iter_mut().rev().find(|r| r.seq == seq) {
        r.status = Some(status);
    }
    response
}
