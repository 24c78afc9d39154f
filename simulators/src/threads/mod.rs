//! Threads (graph.threads.net), simulated: OAuth with the one-hour and 60-day
//! tokens and their refresh, media containers that pull their media by URL and
//! process for a while, publishing with the 24-hour quotas, reading posts back,
//! the Graph error envelope and throttling headers.
//!
//! # Deliberate protocol choices (the ⚠ notes of the reference)
//!
//! - **PKCE is not part of Threads OAuth** (not documented): `/oauth/authorize`
//!   ignores `code_challenge`, and the exchange takes the app secret instead.
//!   Authorization is approved at once as [`ThreadsConfig::username`]; the code
//!   lasts 10 minutes and is spent by one exchange. Meta's `#_` fragment is added
//!   to the redirect.
//! - **Tokens**: the exchange gives a one-hour token, `th_exchange_token` a
//!   60-day one; `th_refresh_token` takes a long-lived token that has not
//!   expired and is at least [`ThreadsConfig::refresh_min_age_secs`] old (24 h;
//!   tests lower it) and gives a new one. Old tokens stay valid until they
//!   expire. Expired tokens answer 190/463, revoked ones 190/460, unknown ones
//!   190 — with HTTP 400, as Graph does.
//! - **Throttling answers HTTP 429** with Graph error code 4/17/32/613 and the
//!   `X-App-Usage` and `X-Business-Use-Case-Usage` headers, whose
//!   `estimated_time_to_regain_access` (minutes) is the reset time. Graph has
//!   answered throttling with 400 and 403 too; a client must go by the code.
//! - **The 24-hour quotas** (250 posts, 1,000 replies) are enforced at
//!   `threads_publish` (and at creation with `auto_publish_text`), code 9
//!   subcode 2207042.
//! - **Text** is counted in characters with each emoji counted as its UTF-8
//!   bytes (500); over it is code 100 at container creation.
//! - **Media is pulled at container creation** from `image_url`/`video_url`
//!   and checked by its bytes (JPEG or PNG ≤ 8 MB; MP4/MOV ≤ 1 GB, ≤ 5 min read
//!   from the `mvhd` box). A failed download or check does not fail the
//!   request: the container reports `ERROR` with Threads' `error_message`
//!   (`FAILED_DOWNLOADING_VIDEO`, `INVALID_DURATION`, …). Containers stay
//!   `IN_PROGRESS` for the configured processing time (images 1 s, video 30 s
//!   by default); publishing earlier is code 9007 subcode 2207027. Carousels
//!   are `FINISHED` when every child is.
//! - **Containers expire** 24 hours after creation if unpublished.
//! - **Reading back**: `GET /{user}/threads` lists top-level posts newest
//!   first (`since`/`until` in Unix seconds, `limit`, `after` cursor);
//!   `GET /{id}` answers a container's status or a post's fields.
//! - **Not simulated**: insights, replies management, deletion, polls,
//!   quotes, location tags, webhooks, `appsecret_proof` (accepted, unchecked).
//!
//! Every client request (not `/__sim/`) is recorded in arrival order, then
//! meets the first queued [`Fault`] whose method matches and whose text occurs
//! in the path.

mod admin;
mod api;
mod config;
mod error;
mod faults;
mod media;
mod oauth;
mod params;
mod posts;
mod record;
mod state;
mod text;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::ThreadsConfig;
pub use faults::{Fault as ThreadsFault, FaultAction as ThreadsFaultAction};
pub use record::RecordedRequest as ThreadsRequest;
pub use state::{FetchedMedia, MediaType as ThreadsMediaType, ThreadsPost};

use state::{Sim, TokenKind};

/// A running simulated Threads API. Dropping it stops the server.
pub struct ThreadsSim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl ThreadsSim {
    pub async fn start(config: ThreadsConfig) -> anyhow::Result<ThreadsSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let app = Router::new()
            .nest("/__sim", admin::router())
            .fallback(api::handle)
            .layer(DefaultBodyLimit::max(1 << 20))
            .with_state(Arc::clone(&sim));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "threads simulator stopped");
            }
        });
        Ok(ThreadsSim { sim, server })
    }

    /// `http://127.0.0.1:PORT`: the Graph host and the OAuth dialog host at once.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    pub fn config(&self) -> &ThreadsConfig {
        &self.sim.config
    }

    /// Every client request so far, in arrival order.
    pub fn requests(&self) -> Vec<ThreadsRequest> {
        self.sim.lock().requests.clone()
    }

    /// `METHOD /path` of every request so far (see [`ThreadsRequest::endpoint`]).
    pub fn endpoints(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(ThreadsRequest::endpoint)
            .collect()
    }

    /// Every published post and reply, oldest first.
    pub fn posts(&self) -> Vec<ThreadsPost> {
        self.sim.lock().posts.clone()
    }

    pub fn inject(&self, fault: ThreadsFault) {
        self.sim.lock().inject(fault);
    }

    pub fn clear(&self) {
        self.sim.lock().faults.clear();
    }

    /// Forgets everything: recordings, faults, codes, tokens, containers, posts.
    pub fn reset(&self) {
        self.sim.reset();
    }

    /// Processing time of later image and video containers.
    pub fn set_processing_ms(&self, image_ms: u64, video_ms: u64) {
        let mut state = self.sim.lock();
        state.image_processing = Duration::from_millis(image_ms);
        state.video_processing = Duration::from_millis(video_ms);
    }

    /// A long-lived token with `scopes` (comma-separated), skipping the browser.
    pub fn seed_token(&self, scopes: &str) -> String {
        seed(&self.sim, scopes)
    }

    /// Revokes every token issued so far.
    pub fn revoke_all_tokens(&self) {
        for token in self.sim.lock().tokens.values_mut() {
            token.revoked = true;
        }
    }

    pub async fn shutdown(mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for ThreadsSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn seed(sim: &Sim, scopes: &str) -> String {
    let scopes = scopes
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let lifetime = sim.config.long_lived_token_secs;
    sim.lock()
        .issue_token(TokenKind::LongLived, scopes, lifetime)
        .0
}
