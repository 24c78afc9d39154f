//! What the simulated TikTok remembers, its faults and its recordings.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use axum::http::Method;
use serde::{Deserialize, Serialize};

use super::config::TikTokConfig;

pub const OPEN_ID: &str = "sim-open-id-0001";

pub(crate) struct Sim {
    pub config: TikTokConfig,
    pub base_url: String,
    state: Mutex<State>,
}

impl Sim {
    pub fn new(config: TikTokConfig, base_url: String) -> Self {
        Sim {
            config,
            base_url,
            state: Mutex::new(State::default()),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) struct Code {
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub scopes: String,
}

pub(crate) struct Token {
    pub scopes: String,
    pub expires: Instant,
}

/// One publish: its source, upload progress and where processing stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Publish {
    pub publish_id: String,
    /// `video`, `inbox_video` or `photo`.
    pub route: String,
    pub source: String,
    pub privacy_level: Option<String>,
    pub title: String,
    pub video_size: u64,
    pub chunk_size: u64,
    pub total_chunk_count: u64,
    /// Byte ranges received, in order (`first-last`).
    pub chunks: Vec<(u64, u64)>,
    pub uploaded_bytes: u64,
    /// Bytes fetched from each pulled URL.
    pub pulled: Vec<u64>,
    pub fail_reason: Option<String>,
    #[serde(skip)]
    pub complete_at: Option<Instant>,
    pub post_id: Option<String>,
}

/// A fault waiting for the next matching request (`path` is a prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    /// Matching requests let through before the fault applies.
    #[serde(default)]
    pub skip: u32,
    pub action: FaultAction,
}

impl Fault {
    pub fn new(method: &str, path: &str, action: FaultAction) -> Self {
        Fault {
            method: Some(method.into()),
            path: path.into(),
            skip: 0,
            action,
        }
    }

    pub fn skip(self, skip: u32) -> Self {
        Fault { skip, ..self }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// 429 `rate_limit_exceeded` with `x-ratelimit-reset` `reset_after_secs` ahead.
    RateLimited { reset_after_secs: u64 },
    /// Answer `status` with `body` without handling.
    ServerError { status: u16, body: String },
    /// Wait, then handle normally.
    Delay { ms: u64 },
    /// The request's access token expires now (then `access_token_invalid`).
    ExpireToken,
}

/// One request as the simulator received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub content_range: Option<String>,
    pub content_type: Option<String>,
    pub body: Option<String>,
    pub size: usize,
    pub status: Option<u16>,
    pub fault: Option<FaultAction>,
}

#[derive(Default)]
pub(crate) struct State {
    pub requests: Vec<RecordedRequest>,
    pub faults: VecDeque<Fault>,
    pub codes: HashMap<String, Code>,
    pub tokens: HashMap<String, Token>,
    /// Live refresh tokens and their scopes.
    pub refresh_tokens: HashMap<String, String>,
    pub publishes: Vec<Publish>,
    pub next_id: u64,
}

impl State {
    pub fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", 7_400_000_000_000_000_000u64 + self.next_id)
    }

    pub fn secret(&mut self, prefix: &str) -> String {
        use rand::Rng;
        let bytes: [u8; 18] = rand::rng().random();
        format!(
            "{prefix}{}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
        )
    }

    pub fn take_fault(&mut self, method: &Method, path: &str) -> Option<FaultAction> {
        let position = self.faults.iter().position(|f| {
            f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
                && path.starts_with(&f.path)
        })?;
        let fault = &mut self.faults[position];
        if fault.skip > 0 {
            fault.skip -= 1;
            return None;
        }
        self.faults.remove(position).map(|f| f.action)
    }

    pub fn publish_mut(&mut self, id: &str) -> Option<&mut Publish> {
        self.publishes.iter_mut().find(|p| p.publish_id == id)
    }
}
