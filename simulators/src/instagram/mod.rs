//! Instagram (professional accounts) through the Graph API, simulated: Instagram Login
//! (authorize page, code exchange on api.instagram.com, long-lived exchange and
//! `ig_refresh_token`) and Facebook Login (an Instagram account linked to a Page), media
//! containers that fetch their media by URL and process for a while, `media_publish`
//! under the rolling 24-hour quota, comments, insights, and Graph's errors, tokens and
//! `appsecret_proof` (see [`crate::graph`]). One port serves graph.instagram.com,
//! api.instagram.com, www.instagram.com and the graph.facebook.com paths used.
//!
//! # Deliberate protocol choices (⚠ notes of platform-apis.md §1 and §3)
//!
//! - **Logins are automatic**: `/oauth/authorize` (Instagram) and `/dialog/oauth`
//!   (Facebook) approve at once as [`InstagramConfig::username`]. Codes last 10 minutes,
//!   are single use and bound to the `redirect_uri`; Instagram's redirect carries the
//!   `#_` fragment, and a code sent back with it is accepted. No PKCE (neither flow has
//!   one).
//! - **api.instagram.com's code exchange** answers `{"data":[{access_token, user_id,
//!   permissions}]}` (the Instagram Login documentation's shape) and its errors use that
//!   host's own envelope `{"error_type","code","error_message"}`.
//! - **Tokens**: one hour from the exchange; `ig_exchange_token` gives 60 days;
//!   `ig_refresh_token` takes an unexpired long-lived token at least
//!   [`InstagramConfig::refresh_min_age_secs`] old (24 h; tests lower it) and gives a new
//!   60-day one while the old one stays valid until it expires. Facebook Login user tokens
//!   are exchanged with `fb_exchange_token` and have no refresh.
//! - **`appsecret_proof`** is required on every call made with a token when
//!   [`InstagramConfig::require_appsecret_proof`] is on (the default, as for Facebook); the
//!   token endpoints (`/access_token`, `/refresh_access_token`) do not take it.
//! - **The 50-post quota** (⚠ where enforced): counted over published media (carousels
//!   count once, stories count) in a rolling window, enforced at `media_publish` with code
//!   9 subcode 2207042 and reported by `content_publishing_limit`. The 400-containers-a-day
//!   limit is not simulated.
//! - **Images** are fetched at container creation: JPEG only, ≤ 8 MB, ≥ 320 px wide,
//!   feed and carousel images 4:5 to 1.91:1. A failure is the creation's error (code
//!   9004 / 36001 / 36003). Wider images are accepted (Instagram scales them to 1440 px).
//! - **Videos** (reels, video stories, carousel videos) are fetched at creation too, but a
//!   failed check does not fail the request: the container goes `ERROR` and `status`
//!   says why with subcode 2207026 (MP4/MOV, reels 3 s–15 min ≤ 300 MB, stories and
//!   carousel videos 3–60 s; 23–60 fps read from the `stts` box).
//! - **Processing**: containers are `IN_PROGRESS` for the configured time (images 1 s,
//!   videos 30 s by default), then `FINISHED`; a carousel is `FINISHED` when it and every
//!   child are, `ERROR` when a child is. Publishing earlier is code 9007 subcode 2207027
//!   ("not ready" ⚠ code); an `ERROR` container 9007/2207032; after
//!   [`InstagramConfig::container_ttl_secs`] unpublished containers are `EXPIRED`
//!   (9007/2207008).
//! - **Throttling** is the shared Graph behaviour: HTTP 400 with code 4/17/32/613 and
//!   `X-Business-Use-Case-Usage` (`estimated_time_to_regain_access` in minutes), fault
//!   only.
//! - **Not simulated**: resumable (rupload) uploads, user tags, product tags, deleting
//!   media (the API offers none), hiding/deleting comments, webhook delivery (tests sign
//!   payloads themselves).

mod config;
mod engagement;
mod media;
mod oauth;
mod publish;
mod state;

use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::InstagramConfig;
pub use state::{Container, ContainerKind, RecordedComment, RecordedMedia};

use crate::graph::{Fault, FaultAction, GraphError, RecordedRequest, intercept, server};
use state::Sim;

/// A running simulated Instagram. Dropping it stops the server.
pub struct InstagramSim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl InstagramSim {
    pub async fn start(config: InstagramConfig) -> anyhow::Result<InstagramSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let server = tokio::spawn(server::serve(listener, router(Arc::clone(&sim))));
        Ok(InstagramSim { sim, server })
    }

    /// `http://127.0.0.1:PORT`: graph.instagram.com, api.instagram.com, www.instagram.com
    /// and the Facebook Login paths in one.
    pub fn base_url(&self) -> String {
        self.sim.graph.base_url.clone()
    }

    pub fn config(&self) -> &InstagramConfig {
        &self.sim.config
    }

    /// The professional account's id.
    pub fn user_id(&self) -> String {
        self.sim.lock().user_id.clone()
    }

    /// The Facebook Page the account is linked to (Facebook Login).
    pub fn page_id(&self) -> String {
        self.sim.lock().page_id.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.graph.core().requests.clone()
    }

    /// Published media, oldest first.
    pub fn media(&self) -> Vec<RecordedMedia> {
        self.sim.lock().media.clone()
    }

    pub fn container(&self, id: &str) -> Option<Container> {
        self.sim.lock().containers.get(id).cloned()
    }

    pub fn comments(&self) -> Vec<RecordedComment> {
        self.sim.lock().comments.clone()
    }

    pub fn inject(&self, fault: Fault) {
        self.sim.graph.core().inject(fault);
    }

    /// The next request to `method path_prefix` is answered as Meta answers a session
    /// that has expired (190/463), without touching the token: what a client sees when
    /// Meta's clock ends the session before the client expected. The token can still be
    /// refreshed, as Instagram allows for a token that has not expired.
    pub fn expire_session_on(&self, method: &str, path_prefix: &str) {
        let error = GraphError::oauth(
            190,
            Some(463),
            format!(
                "Error validating access token: Session has expired on {}.",
                Utc::now().format("%A, %d-%b-%y %H:%M:%S UTC")
            ),
        );
        self.inject(Fault::new(
            method,
            path_prefix,
            FaultAction::ServerError {
                status: 400,
                body: error.body().to_string(),
            },
        ));
    }

    /// A visitor comments on `media`; returns the comment id.
    pub fn add_comment(&self, media: &str, username: &str, text: &str) -> String {
        let id = crate::graph::new_id();
        self.sim.lock().comments.push(RecordedComment {
            id: id.clone(),
            media_id: media.to_string(),
            parent_id: None,
            from_id: crate::graph::new_id(),
            username: username.to_string(),
            text: text.to_string(),
            timestamp: Utc::now(),
        });
        id
    }

    pub fn set_insight(&self, object: &str, metric: &str, value: f64) {
        self.sim
            .lock()
            .insights
            .insert((object.to_string(), metric.to_string()), value);
    }

    pub fn reset(&self) {
        self.sim.reset();
    }

    pub async fn shutdown(mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for InstagramSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The intercept layer sits on an outer router whose only route is the fallback, so its
/// rewrite of the path (version prefix stripped) happens before the inner router matches.
fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .fallback_service(routes(Arc::clone(&sim)))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&sim),
            intercept::intercept::<Sim>,
        ))
        .layer(DefaultBodyLimit::disable())
}

fn routes(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/dialog/oauth", get(oauth::dialog))
        .route(
            "/oauth/access_token",
            get(oauth::facebook_exchange).post(oauth::instagram_exchange),
        )
        .route("/access_token", get(oauth::long_lived))
        .route("/refresh_access_token", get(oauth::refresh))
        .route("/me", get(oauth::me))
        .route("/me/accounts", get(oauth::accounts))
        .route("/{id}", get(publish::object))
        .route(
            "/{id}/media",
            get(publish::media_list).post(publish::create),
        )
        .route("/{id}/media_publish", post(publish::publish))
        .route(
            "/{id}/content_publishing_limit",
            get(publish::publishing_limit),
        )
        .route("/{id}/stories", get(publish::stories))
        .route(
            "/{id}/comments",
            get(engagement::list).post(engagement::comment),
        )
        .route(
            "/{id}/replies",
            get(engagement::replies).post(engagement::reply),
        )
        .route("/{id}/insights", get(engagement::insights))
        .route("/__sim/requests", get(admin_requests))
        .route("/__sim/media", get(admin_media))
        .route("/__sim/faults", post(admin_fault))
        .route("/__sim/reset", post(admin_reset))
        .fallback(not_found)
        .with_state(sim)
}

async fn admin_requests(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedRequest>> {
    Json(sim.graph.core().requests.clone())
}

async fn admin_media(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedMedia>> {
    Json(sim.lock().media.clone())
}

async fn admin_fault(
    State(sim): State<Arc<Sim>>,
    Json(fault): Json<Fault>,
) -> Json<serde_json::Value> {
    sim.graph.core().inject(fault);
    Json(serde_json::json!({"queued": true}))
}

async fn admin_reset(State(sim): State<Arc<Sim>>) -> Json<serde_json::Value> {
    sim.reset();
    Json(serde_json::json!({"reset": true}))
}

async fn not_found() -> GraphError {
    GraphError::oauth(2500, None, "Unknown path components")
}
