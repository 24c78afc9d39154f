//! Everything the simulated Facebook knows, behind one lock (never held across an await).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::FacebookConfig;
use crate::graph::intercept::HasGraph;
use crate::graph::{Graph, GraphError, Token, TokenKind, new_id};

pub(crate) struct Sim {
    pub graph: Graph,
    pub config: FacebookConfig,
    state: Mutex<State>,
}

impl HasGraph for Sim {
    fn graph(&self) -> &Graph {
        &self.graph
    }
}

impl Sim {
    pub fn new(config: FacebookConfig, base_url: String) -> Self {
        Sim {
            graph: Graph::new(
                "facebook",
                base_url,
                config.app_id.clone(),
                config.app_secret.clone(),
                config.require_appsecret_proof,
            ),
            state: Mutex::new(State::new(&config)),
            config,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn reset(&self) {
        self.graph.reset();
        *self.lock() = State::new(&self.config);
    }

    /// The token must be the Page token of `page_id`.
    pub fn page_token(&self, token: &Token, page_id: &str) -> Result<(), GraphError> {
        if !self.lock().pages.iter().any(|p| p.id == page_id) {
            return Err(GraphError::unknown_object(page_id));
        }
        match (token.kind, token.page_id.as_deref()) {
            (TokenKind::Page, Some(p)) if p == page_id => Ok(()),
            _ => Err(GraphError::oauth(
                210,
                None,
                "(#210) A page access token is required to request this resource.",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub category: String,
}

pub(crate) struct Code {
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// A post as the simulator holds it, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedPost {
    /// `{page}_{post}`, or the video id of a reel.
    pub id: String,
    pub page_id: String,
    /// `status`, `photo`, `album`, `video`, `reel`, `photo_story`, `video_story`.
    pub kind: String,
    pub message: Option<String>,
    pub link: Option<String>,
    /// Photo or video ids it carries.
    pub media: Vec<String>,
    pub created_time: DateTime<Utc>,
    pub deleted: bool,
    /// Scheduled posts: when they go out.
    pub scheduled_publish_time: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Photo {
    pub page_id: String,
    pub published: bool,
    pub used: bool,
    /// Bytes fetched from the URL or uploaded.
    pub size: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub file_length: u64,
    pub file_type: String,
    pub data: Vec<u8>,
    pub handle: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VideoKind {
    Video,
    Reel,
    Story,
}

#[derive(Debug, Clone)]
pub(crate) struct Video {
    pub page_id: String,
    pub kind: VideoKind,
    pub file_size: Option<u64>,
    pub data: Vec<u8>,
    /// When the finish phase (or the upload of a plain video) completed.
    pub finished_at: Option<Instant>,
    pub post_id: Option<String>,
    pub error: Option<String>,
}

impl Video {
    pub fn uploaded(&self) -> bool {
        self.file_size.is_some_and(|n| n == self.data.len() as u64)
    }
    pub fn ready(&self, processing: Duration) -> bool {
        self.error.is_none() && self.finished_at.is_some_and(|t| t.elapsed() >= processing)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedComment {
    pub id: String,
    /// The post or comment it answers.
    pub object_id: String,
    pub from_id: String,
    pub from_name: String,
    pub message: String,
    pub created_time: DateTime<Utc>,
}

pub(crate) struct State {
    pub user_id: String,
    pub pages: Vec<Page>,
    pub codes: HashMap<String, Code>,
    pub posts: Vec<RecordedPost>,
    pub photos: HashMap<String, Photo>,
    pub uploads: HashMap<String, Upload>,
    pub videos: HashMap<String, Video>,
    pub comments: Vec<RecordedComment>,
    pub insights: HashMap<(String, String), f64>,
}

impl State {
    fn new(config: &FacebookConfig) -> Self {
        State {
            user_id: new_id(),
            pages: config
                .pages
                .iter()
                .map(|(name, category)| Page {
                    id: new_id(),
                    name: name.clone(),
                    category: category.clone(),
                })
                .collect(),
            codes: HashMap::new(),
            posts: Vec::new(),
            photos: HashMap::new(),
            uploads: HashMap::new(),
            videos: HashMap::new(),
            comments: Vec::new(),
            insights: HashMap::new(),
        }
    }

    pub fn post(&self, id: &str) -> Option<&RecordedPost> {
        self.posts.iter().find(|p| p.id == id && !p.deleted)
    }
}
