//! X (Twitter) API v2, simulated: OAuth 2.0 with PKCE and OAuth 1.0a user context,
//! media upload (simple and chunked, with processing), alt text, posts and reply chains,
//! the per-user post rate limit, and X's error envelopes.
//!
//! # Deliberate protocol choices
//!
//! - **Rate limit (⚠ in the reference)**: X documents both 200 `POST /2/tweets` per 15
//!   minutes per user and 300 per 3 hours per user and app. The simulator enforces the
//!   15-minute window ([`XConfig::tweet_rate_limit`], default 200), aligned to the epoch,
//!   and every `/2/tweets` answer carries its `x-rate-limit-limit`, `-remaining` and
//!   `-reset` (epoch seconds) headers, as X's do; the 3-hour app cap is not simulated.
//! - **One host.** X splits the API (`api.x.com`) from the consent page (`x.com`); here
//!   both are served on one address, so a client points both its API and web base at it.
//! - **Authorization is automatic**: `/i/oauth2/authorize` and `/oauth/authorize`
//!   approve at once as [`XConfig::username`] and redirect to the callback.
//! - **The app is a confidential client**: `/2/oauth2/token` requires HTTP Basic with
//!   the client id and secret. PKCE is S256 only and mandatory; codes live 30 seconds
//!   and are single-use. Access tokens expire after
//!   [`XConfig::access_token_ttl_secs`]; refresh tokens (with `offline.access`) rotate:
//!   a refresh spends the one it used, so only the newest works.
//! - **OAuth 1.0a** signatures are recomputed here (HMAC-SHA1 over query, form body and
//!   protocol parameters with the URL `base_url + path`); timestamps must be within five
//!   minutes and a `(timestamp, nonce)` pair is accepted once. An OAuth 1.0a user token
//!   carries the app's full permissions (no scopes) and never expires.
//! - **Weighted length** counts every code point outside twitter-text's light ranges as 2
//!   (see `text`), so an emoji sequence weighs more here than at X: never more lenient.
//! - **Media**: simple upload takes images only (`tweet_image`); video (`tweet_video`,
//!   `amplify_video`) and GIF (`tweet_gif`) must use the chunked upload, whose segments
//!   (≤ [`XConfig::max_segment_bytes`], index 0–999) must be contiguous and add up to
//!   `total_bytes` at FINALIZE, and whose first bytes must match `media_type`. Video and
//!   GIFs are in processing for [`XConfig::media_processing_ms`] after FINALIZE; posting
//!   them earlier is 400 "Your media IDs are invalid." A re-sent segment index replaces
//!   the earlier one (as X keeps the last APPEND of an index).
//! - **Not simulated**: polls, quotes of other users, tagged users, edits, search, the
//!   3-hour app cap, media expiry (24 h) and the v1.1 endpoints.
//!
//! # Faults and recordings
//!
//! Every client request (not `/__sim/`) is recorded in arrival order, then meets the
//! first queued [`Fault`] matching its method and path (`*` matches one segment), if any.
//! The same controls exist over HTTP under `/__sim/` (`GET requests`, `GET tweets`,
//! `POST faults`, `DELETE faults`, `POST expire_tokens`).

mod auth;
mod config;
mod error;
mod faults;
mod media;
mod oauth;
mod record;
mod state;
mod text;
mod tweets;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::XConfig;
pub use faults::{Fault as XFault, FaultAction as XFaultAction};
pub use media::{Media as XMedia, MediaKind as XMediaKind};
pub use record::{RecordedPart as XRecordedPart, RecordedRequest as XRecordedRequest};
pub use state::USER_ID as X_USER_ID;
pub use tweets::RecordedTweet;

use faults::{Fault, FaultAction};
use record::RecordedRequest;
use state::Sim;

const ADMIN_PREFIX: &str = "/__sim/";

/// A running simulated X. Dropping it stops the server.
pub struct XSim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl XSim {
    /// Binds `127.0.0.1:config.port` (0 picks a free port) and starts serving.
    pub async fn start(config: XConfig) -> anyhow::Result<XSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let app = router(Arc::clone(&sim));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the X simulator stopped");
            }
        });
        Ok(XSim { sim, server })
    }

    /// `http://127.0.0.1:PORT`: the base of both the API and the consent pages.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    pub fn config(&self) -> &XConfig {
        &self.sim.config
    }

    /// Every client request so far, in arrival order.
    pub fn requests(&self) -> Vec<XRecordedRequest> {
        self.sim.lock().requests.clone()
    }

    /// `METHOD path` of every client request so far, ids replaced by `{id}`.
    pub fn sequence(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| {
                let path: Vec<String> = r
                    .path
                    .split('/')
                    .map(|s| {
                        if s.len() > 6 && s.bytes().all(|b| b.is_ascii_digit()) {
                            "{id}".to_owned()
                        } else {
                            s.to_owned()
                        }
                    })
                    .collect();
                format!("{} {}", r.method, path.join("/"))
            })
            .collect()
    }

    /// Every post created so far, oldest first, deleted ones included.
    pub fn tweets(&self) -> Vec<RecordedTweet> {
        self.sim.lock().tweets.clone()
    }

    /// An uploaded media object by id.
    pub fn media(&self, id: &str) -> Option<XMedia> {
        self.sim.lock().media.get(id).cloned()
    }

    /// Queues `fault` behind those already queued.
    pub fn inject(&self, fault: XFault) {
        self.sim.lock().inject(fault);
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        self.sim.lock().faults.clear();
    }

    /// Lets every OAuth 2.0 access token issued so far expire now.
    pub fn expire_tokens(&self) {
        for token in self.sim.lock().tokens.values_mut() {
            token.expires = Instant::now();
        }
    }

    /// Stops serving.
    pub async fn shutdown(mut self) {
        self.server.abort();
        // The only possible error is the cancellation just asked for.
        let _ = (&mut self.server).await;
    }
}

impl Drop for XSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn router(sim: Arc<Sim>) -> Router {
    let admin = Router::new()
        .route("/requests", get(admin_requests))
        .route("/tweets", get(admin_tweets))
        .route("/faults", post(admin_inject).delete(admin_clear))
        .route("/expire_tokens", post(admin_expire));
    Router::new()
        .route("/i/oauth2/authorize", get(oauth::authorize))
        .route("/2/oauth2/token", post(oauth::token))
        .route("/2/oauth2/revoke", post(oauth::revoke))
        .route("/oauth/request_token", post(oauth::request_token))
        .route("/oauth/authorize", get(oauth::authorize_oauth1))
        .route("/oauth/access_token", post(oauth::access_token))
        .route("/2/users/me", get(oauth::me))
        .route("/2/users/{id}/tweets", get(tweets::timeline))
        .route("/2/tweets", post(tweets::create))
        .route("/2/tweets/{id}", delete(tweets::delete))
        .route("/2/media/upload", post(media::upload).get(media::status))
        .route("/2/media/upload/initialize", post(media::initialize))
        .route("/2/media/upload/{id}/append", post(media::append))
        .route("/2/media/upload/{id}/finalize", post(media::finalize))
        .route("/2/media/metadata", post(media::metadata))
        .nest(ADMIN_PREFIX.trim_end_matches('/'), admin)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), intercept))
        .layer(DefaultBodyLimit::disable())
        .with_state(sim)
}

async fn not_found() -> Response {
    error::ApiError::not_found("Sorry, that page does not exist").into_response()
}

/// Records the request, then applies the first matching fault.
async fn intercept(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(ADMIN_PREFIX) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // Room for the largest segment plus multipart framing.
    let limit = sim
        .config
        .max_segment_bytes
        .max(sim.config.image_size_limit as usize)
        + (1 << 20);
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large").into_response();
    };
    let seq = {
        let mut state = sim.lock();
        state.seq += 1;
        state.seq
    };
    let record = RecordedRequest::capture(seq, &parts, &body).await;
    let fault = {
        let mut state = sim.lock();
        let fault = state.take_fault(&parts.method, parts.uri.path());
        state.requests.push(RecordedRequest {
            fault: fault.clone(),
            ..record
        });
        fault
    };
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let request = Request::from_parts(parts, Body::from(body));
    let response = match fault {
        Some(FaultAction::RateLimited { reset_after_secs }) => {
            let mut response = error::ApiError::too_many_requests().into_response();
            let reset = chrono::Utc::now().timestamp() as u64 + reset_after_secs;
            tweets::rate_headers(&mut response, sim.config.tweet_rate_limit, 0, reset);
            response
        }
        Some(FaultAction::ServerError { status, body }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "application/json")],
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
        Some(FaultAction::RevokeUser) => {
            sim.lock().revoke_user();
            next.run(request).await
        }
        None => next.run(request).await,
    };
    if let Some(recorded) = sim.lock().requests.iter_mut().rev().find(|r| r.seq == seq) {
        recorded.status = Some(response.status().as_u16());
    }
    response
}

async fn admin_requests(State(sim): State<Arc<Sim>>) -> Json<Vec<XRecordedRequest>> {
    Json(sim.lock().requests.clone())
}

async fn admin_tweets(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedTweet>> {
    Json(sim.lock().tweets.clone())
}

async fn admin_inject(State(sim): State<Arc<Sim>>, Json(fault): Json<Fault>) -> StatusCode {
    sim.lock().inject(fault);
    StatusCode::NO_CONTENT
}

async fn admin_clear(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.lock().faults.clear();
    StatusCode::NO_CONTENT
}

async fn admin_expire(State(sim): State<Arc<Sim>>) -> StatusCode {
    for token in sim.lock().tokens.values_mut() {
        token.expires = Instant::now();
    }
    StatusCode::NO_CONTENT
}
