//! Everything the simulated service knows, behind one lock (never held across
//! an await).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::ThreadsConfig;
use super::faults::Fault;
use super::record::RecordedRequest;

pub(crate) struct Sim {
    pub config: ThreadsConfig,
    pub base_url: String,
    next_seq: AtomicU64,
    state: Mutex<State>,
    /// Pulls media from the URLs containers name.
    pub fetcher: reqwest::Client,
}

impl Sim {
    pub fn new(config: ThreadsConfig, base_url: String) -> Self {
        Sim {
            state: Mutex::new(State::new(&config)),
            config,
            base_url,
            next_seq: AtomicU64::new(1),
            fetcher: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn reset(&self) {
        *self.lock() = State::new(&self.config);
    }
}

pub(crate) struct State {
    last_id: u64,
    pub video_processing: Duration,
    pub image_processing: Duration,
    pub codes: HashMap<String, AuthCode>,
    pub tokens: HashMap<String, Token>,
    pub containers: HashMap<String, Container>,
    /// Every published post and reply, oldest first.
    pub posts: Vec<ThreadsPost>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<RecordedRequest>,
}

impl State {
    fn new(config: &ThreadsConfig) -> Self {
        State {
            last_id: 0,
            video_processing: Duration::from_millis(config.video_processing_ms),
            image_processing: Duration::from_millis(config.image_processing_ms),
            codes: HashMap::new(),
            tokens: HashMap::new(),
            containers: HashMap::new(),
            posts: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
        }
    }

    /// Graph ids: 17-digit numbers, increasing.
    pub fn next_id(&mut self) -> String {
        let now = u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default();
        self.last_id = (18_000_000_000_000_000 + now * 100).max(self.last_id + 1);
        self.last_id.to_string()
    }

    pub fn issue_token(
        &mut self,
        kind: TokenKind,
        scopes: Vec<String>,
        lifetime_secs: i64,
    ) -> (String, Token) {
        let now = Utc::now();
        let token = Token {
            kind,
            scopes,
            issued_at: now,
            expires_at: now + chrono::Duration::seconds(lifetime_secs),
            revoked: false,
        };
        let prefix = match kind {
            TokenKind::ShortLived => "THQWJ",
            TokenKind::LongLived => "THAA",
        };
        let value = format!(
            "{prefix}{}",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 48]>())
        );
        self.tokens.insert(value.clone(), token.clone());
        (value, token)
    }

    /// Published posts (replies excluded, or replies only) in the last 24 hours.
    pub fn published_in_day(&self, replies: bool) -> u32 {
        let since = Utc::now() - chrono::Duration::hours(24);
        let n = self
            .posts
            .iter()
            .filter(|p| p.timestamp > since && p.reply_to_id.is_some() == replies)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub issued: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    ShortLived,
    LongLived,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub scopes: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MediaType {
    Text,
    Image,
    Video,
    Carousel,
}

impl MediaType {
    pub fn parse(s: &str) -> Option<MediaType> {
        match s {
            "TEXT" => Some(MediaType::Text),
            "IMAGE" => Some(MediaType::Image),
            "VIDEO" => Some(MediaType::Video),
            "CAROUSEL" => Some(MediaType::Carousel),
            _ => None,
        }
    }

    /// The name published posts report (`TEXT_POST`, `CAROUSEL_ALBUM`, …).
    pub fn post_name(self) -> &'static str {
        match self {
            MediaType::Text => "TEXT_POST",
            MediaType::Image => "IMAGE",
            MediaType::Video => "VIDEO",
            MediaType::Carousel => "CAROUSEL_ALBUM",
        }
    }
}

/// Media a container pulled from its URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchedMedia {
    pub url: String,
    pub mime: String,
    pub size: u64,
    pub duration_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub id: String,
    pub media_type: MediaType,
    pub text: Option<String>,
    pub is_carousel_item: bool,
    pub children: Vec<String>,
    pub reply_to_id: Option<String>,
    pub reply_control: Option<String>,
    pub link_attachment: Option<String>,
    pub alt_text: Option<String>,
    pub media: Option<FetchedMedia>,
    /// Set when fetching or checking the media failed: the container ends in ERROR.
    pub error: Option<&'static str>,
    pub ready_at: Instant,
    pub created: DateTime<Utc>,
    pub used: bool,
    pub published_id: Option<String>,
}

/// A published post or reply, as tests inspect it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadsPost {
    pub id: String,
    pub container_id: String,
    pub media_type: MediaType,
    pub text: Option<String>,
    pub reply_to_id: Option<String>,
    pub reply_control: Option<String>,
    pub link_attachment: Option<String>,
    /// The media of the post: one for IMAGE and VIDEO, the children's for CAROUSEL.
    pub media: Vec<FetchedMedia>,
    pub alt_texts: Vec<Option<String>>,
    pub timestamp: DateTime<Utc>,
    pub permalink: String,
}

pub(crate) fn random_code() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}
