//! Facebook Pages through the Graph API, simulated: Facebook Login (dialog, code
//! exchange, long-lived exchange), Page tokens from `/me/accounts`, posts with text,
//! links, photos, several photos, videos (Resumable Upload API), reels and stories in
//! phases with `rupload` uploads and processing that takes time, comments, insights,
//! deletion, and Graph's errors, tokens and `appsecret_proof` (see [`crate::graph`]).
//!
//! # Deliberate protocol choices (⚠ notes of platform-apis.md §1–2)
//!
//! - **Login is automatic**: `/dialog/oauth` approves at once as
//!   [`FacebookConfig::user_name`] and redirects to `redirect_uri?code&state`. Codes last
//!   10 minutes, are single use and bound to the `redirect_uri`. No PKCE (the server flow
//!   has none).
//! - **Page tokens** come from `GET /me/accounts`; each call issues fresh ones. From a
//!   long-lived user token they never expire (the ⚠ note: Meta documents "no expiry" for
//!   Page tokens derived from long-lived user tokens); from a short-lived one they end with
//!   it. Page endpoints need the Page token of that Page (else `(#210)`).
//! - **Throttling** is HTTP 400 with code 4/17/32/613 and `X-Business-Use-Case-Usage`
//!   carrying `estimated_time_to_regain_access` in minutes (fault only; the simulator does
//!   not count calls).
//! - **Resumable uploads**: `POST /upload:{sid}` with `file_offset` equal to the bytes the
//!   session holds (else `(#100)` subcode 1363037); any chunk size; every answer carries
//!   the session's handle `h`, usable with `POST /{page}/videos
//!   fbuploader_video_file_chunk=h` once the file is complete. Upload endpoints take
//!   `Authorization: OAuth <token>` only and no `appsecret_proof`.
//! - **Video stories** (⚠ shape): `POST /{page}/video_stories upload_phase=start` →
//!   `{video_id, upload_url}`, rupload, `upload_phase=finish&video_id` → `{success,
//!   post_id}`. **Photo stories**: an unpublished photo (`published=false`), then `POST
//!   /{page}/photo_stories photo_id` → `{success, post_id}`.
//! - **Processing**: reels, stories and videos are `processing` for
//!   [`FacebookConfig::processing_ms`] after finish, then `ready` and published. The file
//!   is checked then (MP4/MOV; reels 9:16, ≥540×960, 3–90 s; video stories 3–60 s, read
//!   from the MP4 `moov`); a failure shows as `processing_phase.status=error`.
//! - **rupload errors** use rupload's own `{"debug_info":{…}}` envelope.
//! - **Media by URL** (`url`, `file_url`, rupload `file_url` header) is fetched by the
//!   simulator, which checks status, size and type by magic bytes.
//! - **Not simulated**: Page insights beyond the listed metrics (values are 0 unless set
//!   with [`FacebookSim::set_insight`]), scheduled post publication, editing, albums.

mod config;
mod engagement;
mod oauth;
mod publish;
mod state;
mod video;

use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::FacebookConfig;
pub use state::{Page, RecordedComment, RecordedPost};

use crate::graph::{Fault, GraphError, RecordedRequest, intercept, server};
use state::Sim;

/// A running simulated Facebook. Dropping it stops the server.
pub struct FacebookSim {
    sim: Arc<Sim>,
    server: JoinHandle<()>,
}

impl FacebookSim {
    pub async fn start(config: FacebookConfig) -> anyhow::Result<FacebookSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let sim = Arc::new(Sim::new(config, format!("http://{address}")));
        let server = tokio::spawn(server::serve(listener, router(Arc::clone(&sim))));
        Ok(FacebookSim { sim, server })
    }

    /// `http://127.0.0.1:PORT`: Graph, graph-video, rupload and www in one.
    pub fn base_url(&self) -> String {
        self.sim.graph.base_url.clone()
    }

    pub fn config(&self) -> &FacebookConfig {
        &self.sim.config
    }

    /// The user's Pages.
    pub fn pages(&self) -> Vec<Page> {
        self.sim.lock().pages.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.graph.core().requests.clone()
    }

    /// Posts of every kind, oldest first, deleted ones included.
    pub fn posts(&self) -> Vec<RecordedPost> {
        self.sim.lock().posts.clone()
    }

    pub fn comments(&self) -> Vec<RecordedComment> {
        self.sim.lock().comments.clone()
    }

    /// Bytes of each photo the simulator fetched or received, by photo id.
    pub fn photo_sizes(&self) -> Vec<(String, usize)> {
        self.sim
            .lock()
            .photos
            .iter()
            .map(|(id, p)| (id.clone(), p.size))
            .collect()
    }

    /// Bytes a phased video (reel, story) or plain video holds.
    pub fn video_bytes(&self, video_id: &str) -> Option<usize> {
        self.sim.lock().videos.get(video_id).map(|v| v.data.len())
    }

    pub fn inject(&self, fault: Fault) {
        self.sim.graph.core().inject(fault);
    }

    /// A visitor comments on `object` (a post or comment); returns the comment id.
    pub fn add_comment(&self, object: &str, from_name: &str, message: &str) -> String {
        let id = format!(
            "{}_{}",
            object.rsplit('_').next().unwrap_or(object),
            crate::graph::new_id()
        );
        self.sim.lock().comments.push(RecordedComment {
            id: id.clone(),
            object_id: object.to_string(),
            from_id: crate::graph::new_id(),
            from_name: from_name.to_string(),
            message: message.to_string(),
            created_time: Utc::now(),
        });
        id
    }

    pub fn set_insight(&self, object: &str, metric: &str, value: f64) {
        self.sim
            .lock()
            .insights
            .insert((object.to_string(), metric.to_string()), value);
    }

    /// Expires every token issued so far (API calls then answer 190/463).
    pub fn expire_all_tokens(&self) {
        let mut core = self.sim.graph.core();
        let values: Vec<String> = core.tokens.0.keys().cloned().collect();
        for v in values {
            core.tokens.expire(&v);
        }
    }

    pub fn reset(&self) {
        self.sim.reset();
    }

    pub async fn shutdown(mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for FacebookSim {
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
        .route("/dialog/oauth", get(oauth::dialog))
        .route("/oauth/access_token", get(oauth::access_token))
        .route("/me", get(oauth::me))
        .route("/me/accounts", get(oauth::accounts))
        .route(
            "/{id}",
            get(publish::object)
                .post(publish::post_object)
                .delete(publish::delete),
        )
        .route("/{id}/feed", get(publish::feed).post(publish::create_post))
        .route("/{id}/photos", post(publish::create_photo))
        .route("/{id}/photo_stories", post(publish::photo_story))
        .route("/{id}/videos", post(video::create_video))
        .route("/{id}/video_reels", post(video::reels))
        .route("/{id}/video_stories", post(video::stories))
        .route("/{id}/uploads", post(video::start_upload))
        .route(
            "/{id}/comments",
            get(engagement::list).post(engagement::reply),
        )
        .route("/{id}/insights", get(engagement::insights))
        .route("/video-upload/{version}/{id}", post(video::rupload))
        .route("/__sim/requests", get(admin_requests))
        .route("/__sim/posts", get(admin_posts))
        .route("/__sim/faults", post(admin_fault))
        .route("/__sim/reset", post(admin_reset))
        .fallback(not_found)
        .with_state(sim)
}

async fn admin_requests(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedRequest>> {
    Json(sim.graph.core().requests.clone())
}

async fn admin_posts(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedPost>> {
    Json(sim.lock().posts.clone())
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
