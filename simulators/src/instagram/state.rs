//! Everything the simulated Instagram knows, behind one lock (never held across an await).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::InstagramConfig;
use crate::graph::intercept::HasGraph;
use crate::graph::{Graph, GraphError, Token, TokenKind, new_id};

pub(crate) struct Sim {
    pub graph: Graph,
    pub config: InstagramConfig,
    state: Mutex<State>,
}

impl HasGraph for Sim {
    fn graph(&self) -> &Graph {
        &self.graph
    }
}

impl Sim {
    pub fn new(config: InstagramConfig, base_url: String) -> Self {
        Sim {
            graph: Graph::new(
                "instagram",
                base_url,
                config.app_id.clone(),
                config.app_secret.clone(),
                config.require_appsecret_proof,
            ),
            state: Mutex::new(State::new()),
            config,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn reset(&self) {
        self.graph.reset();
        *self.lock() = State::new();
    }

    /// The token must act for the professional account `ig_user`: an Instagram Login
    /// token of that user, or a Facebook Login user token of the Page it is linked to.
    pub fn owner(&self, token: &Token, ig_user: &str) -> Result<(), GraphError> {
        let state = self.lock();
        if ig_user != state.user_id {
            return Err(GraphError::unknown_object(ig_user));
        }
        match token.kind {
            TokenKind::Instagram if token.user_id == state.user_id => Ok(()),
            TokenKind::User if token.user_id == state.fb_user_id => Ok(()),
            _ => Err(GraphError::unknown_object(ig_user)),
        }
    }

    /// The publishing scope of the token's login variant.
    pub fn require_publish(&self, token: &Token) -> Result<(), GraphError> {
        token.require(match token.kind {
            TokenKind::Instagram => "instagram_business_content_publish",
            _ => "instagram_content_publish",
        })
    }

    pub fn require_comments(&self, token: &Token) -> Result<(), GraphError> {
        token.require(match token.kind {
            TokenKind::Instagram => "instagram_business_manage_comments",
            _ => "instagram_manage_comments",
        })
    }

    pub fn require_insights(&self, token: &Token) -> Result<(), GraphError> {
        token.require(match token.kind {
            TokenKind::Instagram => "instagram_business_manage_insights",
            _ => "instagram_manage_insights",
        })
    }
}

pub(crate) struct Code {
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
    /// Issued by the Facebook Login dialog rather than Instagram's.
    pub facebook: bool,
}

/// What a container holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerKind {
    Image,
    /// A video carousel item (`media_type=VIDEO` is only accepted for those).
    Video,
    Reels,
    Stories,
    Carousel,
}

/// A media container as the simulator holds it, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub kind: ContainerKind,
    pub is_carousel_item: bool,
    pub caption: Option<String>,
    pub children: Vec<String>,
    /// `image_url` or `video_url` as given.
    pub media_url: Option<String>,
    /// Bytes fetched from the URL.
    pub bytes: usize,
    /// Every parameter of the creating request but the token.
    pub params: std::collections::BTreeMap<String, String>,
    pub created_time: DateTime<Utc>,
    /// Why processing failed: `status` of an `ERROR` container.
    pub error: Option<String>,
    /// The media id once published.
    pub published: Option<String>,
    #[serde(skip, default = "Instant::now")]
    pub created_at: Instant,
    #[serde(skip)]
    pub processing: Duration,
}

impl Container {
    /// `status_code` as Instagram reports it now.
    pub fn status_code(&self, ttl_secs: i64, children: &[&Container]) -> &'static str {
        if self.published.is_some() {
            return "PUBLISHED";
        }
        if (Utc::now() - self.created_time).num_seconds() >= ttl_secs {
            return "EXPIRED";
        }
        if self.error.is_some() || children.iter().any(|c| c.error.is_some()) {
            return "ERROR";
        }
        let processed = self.created_at.elapsed() >= self.processing
            && children
                .iter()
                .all(|c| c.created_at.elapsed() >= c.processing);
        if processed { "FINISHED" } else { "IN_PROGRESS" }
    }
}

/// A published media object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedMedia {
    pub id: String,
    /// `IMAGE`, `VIDEO` or `CAROUSEL_ALBUM`.
    pub media_type: String,
    /// `FEED`, `REELS` or `STORY`.
    pub media_product_type: String,
    pub caption: Option<String>,
    pub container_id: String,
    /// The child containers of a carousel.
    pub children: Vec<String>,
    pub permalink: String,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedComment {
    pub id: String,
    pub media_id: String,
    /// The comment it answers (replies).
    pub parent_id: Option<String>,
    pub from_id: String,
    pub username: String,
    pub text: String,
    pub timestamp: DateTime<Utc>,
}

pub(crate) struct State {
    /// The Instagram professional account.
    pub user_id: String,
    /// The Facebook user and Page of the Facebook Login variant.
    pub fb_user_id: String,
    pub page_id: String,
    pub codes: HashMap<String, Code>,
    pub containers: HashMap<String, Container>,
    pub media: Vec<RecordedMedia>,
    pub comments: Vec<RecordedComment>,
    pub insights: HashMap<(String, String), f64>,
}

impl State {
    fn new() -> Self {
        State {
            user_id: format!("1784{}", &new_id()[..13]),
            fb_user_id: new_id(),
            page_id: new_id(),
            codes: HashMap::new(),
            containers: HashMap::new(),
            media: Vec::new(),
            comments: Vec::new(),
            insights: HashMap::new(),
        }
    }

    /// Posts published within the last `window` seconds.
    pub fn published_within(&self, window: i64) -> usize {
        let since = Utc::now() - chrono::Duration::seconds(window);
        self.media.iter().filter(|m| m.timestamp > since).count()
    }

    pub fn status_code(&self, container: &Container, ttl_secs: i64) -> &'static str {
        let children: Vec<&Container> = container
            .children
            .iter()
            .filter_map(|c| self.containers.get(c))
            .collect();
        container.status_code(ttl_secs, &children)
    }
}
