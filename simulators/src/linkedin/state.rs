//! Everything the simulated LinkedIn knows, behind one lock that no handler holds across
//! an await.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::LinkedinConfig;
use super::error::ApiError;
use super::faults::{Fault, FaultAction};
use super::record::RecordedRequest;

pub(crate) struct Sim {
    pub config: LinkedinConfig,
    pub base_url: String,
    next_seq: AtomicU64,
    state: Mutex<State>,
}

impl Sim {
    pub fn new(config: LinkedinConfig, base_url: String) -> Self {
        Sim {
            state: Mutex::new(State::new(&config)),
            config,
            base_url,
            next_seq: AtomicU64::new(1),
        }
    }

    /// A handler that panicked must not wedge later requests: a poisoned lock is taken over.
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
    pub codes: HashMap<String, AuthCode>,
    pub tokens: HashMap<String, Token>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    pub images: HashMap<String, Image>,
    pub videos: HashMap<String, Video>,
    pub posts: Vec<RecordedPost>,
    /// `(author, UTC day)` → posts created.
    pub daily_posts: HashMap<(String, i64), u32>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<RecordedRequest>,
}

impl State {
    fn new(config: &LinkedinConfig) -> Self {
        State {
            last_id: 7_000_000_000_000_000_000,
            video_processing: Duration::from_millis(config.video_processing_ms),
            codes: HashMap::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            images: HashMap::new(),
            videos: HashMap::new(),
            posts: Vec::new(),
            daily_posts: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
        }
    }

    /// LinkedIn ids are 19-digit numbers; increasing ones keep the record readable.
    pub fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    pub fn take_fault(&mut self, method: &axum::http::Method, path: &str) -> Option<FaultAction> {
        let position = self.faults.iter().position(|f| f.matches(method, path))?;
        let fault = &mut self.faults[position];
        if fault.after > 0 {
            fault.after -= 1;
            return None;
        }
        fault.times -= 1;
        let action = fault.action.clone();
        if fault.times == 0 {
            self.faults.remove(position);
        }
        Some(action)
    }

    /// The live token of an `Authorization: Bearer` header, with LinkedIn's 401s.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Token, ApiError> {
        let unauthorized = |service, code, message| {
            ApiError::new(axum::http::StatusCode::UNAUTHORIZED, service, code, message)
        };
        let token = bearer(headers)
            .and_then(|value| self.tokens.get(value))
            .ok_or_else(|| unauthorized(65600, "INVALID_ACCESS_TOKEN", "Invalid access token"))?;
        if token.revoked {
            return Err(unauthorized(
                65601,
                "REVOKED_ACCESS_TOKEN",
                "The token used in the request has been revoked by the user",
            ));
        }
        if token.expires_at <= Utc::now() {
            return Err(unauthorized(
                65602,
                "EXPIRED_ACCESS_TOKEN",
                "The token used in the request has expired",
            ));
        }
        Ok(token.clone())
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub issued: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub member: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

impl Token {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub member: String,
    pub scopes: Vec<String>,
    /// Refresh tokens live 365 days from the first authorization, however often used.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub owner: String,
    pub uploaded: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Video {
    pub owner: String,
    pub size: u64,
    pub upload_token: String,
    /// One slot per upload instruction: `(first byte, last byte, ETag once stored)`.
    pub parts: Vec<(u64, u64, Option<String>)>,
    /// The first eight bytes of the file, to tell an MP4 (`ftyp` at offset 4).
    pub head: Vec<u8>,
    pub finalized: Option<Instant>,
}

/// A post as it was created, for tests to assert on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedPost {
    pub urn: String,
    pub author: String,
    /// `commentary` exactly as sent (little text format, escapes included).
    pub commentary: String,
    /// What members see: the commentary with its escapes removed.
    pub text: String,
    pub visibility: String,
    /// `none`, `media` (one image or video) or `multiImage`.
    pub content: String,
    /// Image or video URNs, in order.
    pub media: Vec<String>,
    pub alt_texts: Vec<Option<String>>,
    pub reshare_disabled: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

pub(crate) fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}
