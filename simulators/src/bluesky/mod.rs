//! A Bluesky PDS (and its entryway, bsky.social), simulated: app-password
//! sessions with rotating refresh JWTs, handle resolution, blob uploads, post
//! records with the lexicon's checks, reading records back, write-point rate
//! limits and the XRPC error envelope.
//!
//! # Deliberate protocol choices (the ⚠ notes of the reference)
//!
//! - **Sessions**: `createSession` takes the handle (or DID) and the app
//!   password and answers HS256 JWTs — an access JWT (2 h) and a refresh JWT
//!   (90 days) — with a DID document whose `#atproto_pds` service is this
//!   server, so clients find the PDS as with a real entryway.
//!   `refreshSession` spends its refresh JWT (no grace period: a reused one is
//!   `ExpiredToken` "Token has been revoked"). Expired access JWTs answer 400
//!   `ExpiredToken`, bad ones 400 `InvalidToken`, none 401 `AuthMissing`.
//! - **Blobs**: `uploadBlob` needs the real Content-Type, checked against the
//!   bytes for images; an image over 1,000,000 bytes is refused at upload
//!   (413 `BlobTooLarge`) rather than at record creation.
//! - **Records**: only `app.bsky.feed.post` with `app.bsky.embed.images` is
//!   simulated. Text ≤ 300 graphemes and ≤ 3,000 bytes; facet ranges must be
//!   whole UTF-8 characters inside the text; reply `root`/`parent` must be
//!   strong refs (uri + cid) of existing records; images ≤ 4, each with `alt`
//!   and a blob this PDS stored. A caller-chosen `rkey` is honoured, and a
//!   second create with it is refused ("Record already exists"): what makes
//!   an interrupted chain resumable without double posts.
//! - **Rate limits**: a created record costs 3 points of 5,000 per hour and
//!   35,000 per day per DID; past them, 429 `RateLimitExceeded` with
//!   `ratelimit-limit`, `-remaining`, `-reset` (Unix seconds) and `-policy`.
//! - **Not simulated**: OAuth (PAR, DPoP), video, deletes, other collections,
//!   the AppView (`app.bsky.*` queries), labels, handle DNS checks.
//!
//! Every XRPC request is recorded in arrival order, then meets the first
//! queued [`Fault`] for its NSID (after the matching requests it lets through).

mod admin;
mod config;
mod error;
mod faults;
mod jwt;
mod post;
mod state;
mod xrpc;

use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::BlueskyConfig;
pub use faults::{Fault as BlueskyFault, FaultAction as BlueskyFaultAction};
pub use state::{RecordedRequest as BlueskyRequest, StoredRecord};

use state::Sim;

/// A running simulated PDS. Dropping it stops the server.
pub struct BlueskySim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl BlueskySim {
    pub async fn start(config: BlueskyConfig) -> anyhow::Result<BlueskySim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let app = Router::new()
            .route("/xrpc/{nsid}", any(xrpc::handle))
            .nest("/__sim", admin::router())
            // Blobs up to 50 MB reach the handler, which applies the image limit.
            .layer(DefaultBodyLimit::max(50 << 20))
            .with_state(Arc::clone(&sim));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "bluesky simulator stopped");
            }
        });
        Ok(BlueskySim { sim, server })
    }

    /// `http://127.0.0.1:PORT`: entryway and PDS at once.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    pub fn config(&self) -> &BlueskyConfig {
        &self.sim.config
    }

    pub fn requests(&self) -> Vec<BlueskyRequest> {
        self.sim.lock().requests.clone()
    }

    /// `METHOD nsid` of every request so far.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.nsid))
            .collect()
    }

    /// The repo's records, oldest first.
    pub fn records(&self) -> Vec<StoredRecord> {
        self.sim.lock().records.clone()
    }

    pub fn inject(&self, fault: BlueskyFault) {
        self.sim.lock().inject(fault);
    }

    pub fn clear(&self) {
        self.sim.lock().faults.clear();
    }

    pub fn reset(&self) {
        self.sim.reset();
    }

    pub async fn shutdown(mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for BlueskySim {
    fn drop(&mut self) {
        self.server.abort();
    }
}
