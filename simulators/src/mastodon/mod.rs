//! A Mastodon 4.3 instance, simulated: OAuth app registration and
//! authorization, media uploads with asynchronous processing, statuses,
//! rate limits, and the error envelopes of each.
//!
//! # Deliberate protocol choices
//!
//! Where Mastodon's behaviour depends on a person, a setting or a detail the
//! tests have no use for, the simulator decides as follows.
//!
//! - **Authorization is automatic.** `GET /oauth/authorize` approves at once
//!   as [`MastodonConfig::username`] and redirects (302) to
//!   `redirect_uri?code=…&state=…`, `state` passed through unchanged.
//!   Unknown `client_id`s and unregistered `redirect_uri`s get 400 JSON
//!   (`invalid_client`, `invalid_redirect_uri`); every other error is a 302 to
//!   the redirect URI with `error` and `error_description`. With the
//!   out-of-band URI the code is shown on an HTML page. Requested scopes
//!   must be a subset of the app's; without `scope`, Doorkeeper's default
//!   (`read` narrowed to the app's scopes) applies, so an app registered
//!   without `read` has to name its scopes or gets `invalid_scope`.
//! - **PKCE is S256 only.** A `code_challenge` needs
//!   `code_challenge_method=S256` (`plain` or none: `invalid_request`). A code
//!   issued with a challenge is only redeemed with a `code_verifier` whose
//!   unpadded base64url SHA-256 matches; a missing or wrong verifier, or a
//!   verifier for a code issued without a challenge, is 400 `invalid_grant`.
//!   A failed exchange leaves the code usable; a successful one spends it.
//!   Codes expire after 10 minutes.
//! - **Tokens never expire**, as by default in Mastodon; they end only when
//!   revoked (`/oauth/revoke`, a fault, or the handle). `client_credentials`
//!   tokens act for the app alone: user endpoints answer them 422 `This method
//!   requires an authenticated user`.
//! - **Apps report `scopes` as an array** (Mastodon 4.3's CredentialApplication),
//!   with `redirect_uri` as one string and `redirect_uris` as an array.
//! - **`verify_credentials` is lenient**: besides `profile`, `read` and
//!   `read:accounts` it accepts `write` and every `write:*` scope.
//! - **Reading statuses is strict, as in Mastodon**: `GET /api/v1/statuses/:id`
//!   and `GET /api/v1/accounts/:id/statuses` work without a token (public and
//!   unlisted statuses only), but a token sent there must carry `read` or
//!   `read:statuses`, else 403. A token the instance never issued counts as no
//!   token; a revoked one is 401. Authors see their private and direct posts.
//! - **Status length** is counted in Unicode scalar values (Mastodon counts
//!   grapheme clusters, so the simulator is never more lenient), each
//!   `http(s)://` URL in the text weighing `characters_reserved_per_url` and a
//!   remote mention `@user@domain` counting as `@user`. The content warning
//!   counts too, URLs in it at full length.
//! - **`content`** is the HTML-escaped text in `<p>` paragraphs with `<br />`
//!   line breaks; links, mentions and hashtags are not turned into markup.
//! - **Idempotency**: a `POST /api/v1/statuses` with an `Idempotency-Key`
//!   already used by the same account within the hour answers the status that
//!   key created, whatever the new body says, without creating another
//!   ([`RecordedStatus::idempotent_replays`] counts these). The key is only
//!   stored once a status was created, so a refused post can be retried with
//!   it. If that status was deleted since, the replay is 404.
//! - **Media**: the part's declared type is used when Mastodon supports it,
//!   else the type is sniffed from the bytes (MP4 is `ftyp` at offset 4). The
//!   `file` field must be a file (have a file name). Images are ready at once
//!   (200); video, audio and GIFs (Mastodon turns them into `gifv`) answer 202
//!   with `url: null` and are ready after `media_processing_ms`: until then
//!   `GET /api/v1/media/:id` is 206, afterwards 200 with the URL. GIFs fall
//!   under the image size limit. Like Mastodon, media already attached to a
//!   status is 404 there. Blurhashes are null; `meta` carries the dimensions
//!   of PNG, GIF and JPEG images and the focus point.
//! - **Scheduled statuses** (`scheduled_at` more than 5 minutes ahead) are
//!   answered with the ScheduledStatus entity and recorded, but never
//!   published. A `scheduled_at` in the past posts at once, as in Mastodon.
//! - **Rate limits** apply to authenticated traffic only, keyed by account
//!   (or by app for app tokens), in fixed windows aligned to the epoch like
//!   rack-attack's. Every authenticated `/api/` response carries the API
//!   window's `X-RateLimit-*` headers; a 429 from the media-upload throttle
//!   carries the media window's.
//! - **Bodies over the video size limit plus 1 MiB** are refused with nginx's
//!   413 page before reaching Mastodon, as `client_max_body_size` does.
//! - **Engagement** comes from the test: other users' replies
//!   ([`MastodonSim::add_reply`]), favourite and boost counts and follower
//!   counts are set through the handle or `/__sim/`; `replies_count` counts
//!   the published direct replies. `GET /api/v1/statuses/:id/context` limits
//!   anonymous callers to 40 ancestors and 60 descendants like Mastodon.
//! - **Not simulated**: polls, edits, federation, notifications, streaming,
//!   custom emoji, `POST /api/v1/media` (v1 uploads), media description
//!   updates, and tokens passed as `access_token` parameters.
//!
//! # Faults and recordings
//!
//! Every client request (not the `/__sim/` admin routes) is recorded in
//! arrival order before anything else happens, then meets the first queued
//! [`Fault`] that matches its method and path prefix, if any (one fault per
//! request). The same controls exist on [`MastodonSim`] and over HTTP under
//! `/__sim/` (see the `admin` module).

mod accounts;
mod admin;
mod auth;
mod config;
mod engagement;
mod error;
mod faults;
mod instance;
mod intercept;
mod media;
mod oauth;
mod params;
mod ratelimit;
mod record;
mod server;
mod state;
mod statuses;
mod text;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::MastodonConfig;
pub use faults::{Fault, FaultAction};
pub use record::{RecordedPart, RecordedRequest};
pub use state::Engagement;
pub use statuses::RecordedStatus;

use state::Sim;

/// Path prefix of the simulator's own controls; never recorded or faulted.
const ADMIN_PREFIX: &str = "/__sim/";

/// A running simulated Mastodon instance. Dropping it stops the server.
pub struct MastodonSim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl MastodonSim {
    /// Binds `127.0.0.1:config.port` (0 picks a free port) and starts serving.
    pub async fn start(config: MastodonConfig) -> anyhow::Result<MastodonSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let server = tokio::spawn(server::serve(listener, router(Arc::clone(&sim))));
        Ok(MastodonSim { sim, server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    /// Every client request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.lock().requests.clone()
    }

    /// Every status created so far, oldest first, deleted and scheduled ones included.
    pub fn statuses(&self) -> Vec<RecordedStatus> {
        self.sim.lock().statuses.clone()
    }

    /// Queues `fault` behind those already queued.
    pub fn inject(&self, fault: Fault) {
        self.sim.lock().inject(fault);
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        self.sim.lock().faults.clear();
    }

    /// Forgets everything: recordings, faults, apps, tokens, media, statuses,
    /// rate-limit counters and the media processing time switch.
    pub fn reset(&self) {
        self.sim.reset();
    }

    /// Registers an app and issues `username` (created if new) an access token
    /// with `scopes` (space-separated), skipping the browser.
    pub fn seed_token(&self, username: &str, scopes: &str) -> String {
        self.sim.lock().seed_token(username, scopes).0
    }

    /// Revokes every token issued so far.
    pub fn revoke_all_tokens(&self) {
        self.sim.lock().revoke_all_tokens();
    }

    /// How long later video, gifv and audio uploads stay in processing.
    pub fn set_media_processing_ms(&self, ms: u64) {
        self.sim.lock().media_processing = Duration::from_millis(ms);
    }

    /// A public reply by `username` (created if new) to the published status
    /// `status_id`, as another user of the instance would post it; None when
    /// there is no such status.
    pub fn add_reply(&self, status_id: &str, username: &str, text: &str) -> Option<String> {
        self.sim.lock().add_reply(status_id, username, text)
    }

    /// Sets the favourites and boosts `status_id` shows; false when there is no such status.
    pub fn set_engagement(&self, status_id: &str, engagement: Engagement) -> bool {
        self.sim.lock().set_engagement(status_id, engagement)
    }

    /// Sets how many followers `username` (created if new) has; returns its account id.
    pub fn set_followers(&self, username: &str, followers: u64) -> String {
        self.sim.lock().set_followers(username, followers)
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(mut self) {
        self.server.abort();
        // The only possible error is the cancellation just asked for.
        let _ = (&mut self.server).await;
    }
}

impl Drop for MastodonSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn router(sim: Arc<Sim>) -> Router {
    let api = Router::new()
        .route("/api/v2/instance", get(instance::show))
        .route("/api/v1/apps", post(oauth::register_app))
        .route(
            "/api/v1/accounts/verify_credentials",
            get(accounts::verify_credentials),
        )
        .route(
            "/api/v1/accounts/{id}/statuses",
            get(statuses::account_statuses),
        )
        .route("/api/v2/media", post(media::upload))
        .route("/api/v1/media/{id}", get(media::show))
        .route("/api/v1/statuses", post(statuses::create))
        .route(
            "/api/v1/statuses/{id}",
            get(statuses::show).delete(statuses::delete),
        )
        .route("/api/v1/statuses/{id}/context", get(engagement::context))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&sim),
            ratelimit::enforce,
        ));
    Router::new()
        .merge(api)
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/system/media/{id}/{style}", get(media::file))
        .nest(ADMIN_PREFIX.trim_end_matches('/'), admin::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&sim),
            intercept::intercept,
        ))
        // The intercept layer already buffered the body under its own limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(sim)
}

async fn not_found() -> (axum::http::StatusCode, Json<serde_json::Value>) {
    (
        axum::http::StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": "Not Found" })),
    )
}
