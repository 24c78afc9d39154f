//! Everything the simulated YouTube knows, behind one lock no handler holds across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::YoutubeConfig;
use super::error::ApiError;
use super::faults::{Fault, FaultAction};
use super::record::RecordedRequest;

pub(crate) struct Sim {
    pub config: YoutubeConfig,
    pub base_url: String,
    next_seq: AtomicU64,
    state: Mutex<State>,
}

impl Sim {
    pub fn new(config: YoutubeConfig, base_url: String) -> Self {
        Sim {
            state: Mutex::new(State::new(&config)),
            config,
            base_url,
            next_seq: AtomicU64::new(1),
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
    pub processing: Duration,
    pub codes: HashMap<String, AuthCode>,
    pub tokens: HashMap<String, Token>,
    /// Refresh token → its scopes; removed when revoked.
    pub refresh_tokens: HashMap<String, Vec<String>>,
    pub sessions: HashMap<String, UploadSession>,
    pub videos: Vec<Video>,
    /// `videos.insert` calls per Pacific day.
    pub uploads: HashMap<i64, u32>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<RecordedRequest>,
}

impl State {
    fn new(config: &YoutubeConfig) -> Self {
        State {
            processing: Duration::from_millis(config.processing_ms),
            codes: HashMap::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            sessions: HashMap::new(),
            videos: Vec::new(),
            uploads: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
        }
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

    /// The live token of the request with one of `scopes`, with Google's 401/403.
    pub fn caller(&self, headers: &HeaderMap, scopes: &[&str]) -> Result<Token, ApiError> {
        let token = bearer(headers)
            .and_then(|v| self.tokens.get(v))
            .filter(|t| t.expires_at > Utc::now())
            .ok_or_else(ApiError::unauthorized)?;
        let full = |s: &str| format!("https://www.googleapis.com/auth/{s}");
        if !scopes.iter().any(|s| token.scopes.contains(&full(s))) {
            return Err(ApiError::insufficient_scope());
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
    pub challenge: Option<String>,
    pub issued: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// A resumable upload in progress.
#[derive(Debug, Clone)]
pub(crate) struct UploadSession {
    pub metadata: VideoMetadata,
    pub total: u64,
    pub received: u64,
    pub head: Vec<u8>,
    /// The video once the last byte arrived.
    pub video_id: Option<String>,
}

/// What `videos.insert` was asked to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoMetadata {
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub category_id: String,
    pub privacy_status: String,
    pub publish_at: Option<String>,
    pub made_for_kids: Option<bool>,
}

#[derive(Debug, Clone)]
pub(crate) struct Video {
    pub id: String,
    pub metadata: VideoMetadata,
    pub size: u64,
    pub is_mp4: bool,
    pub uploaded_at: Instant,
}

/// A video as tests see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedVideo {
    pub id: String,
    pub metadata: VideoMetadata,
    pub size: u64,
}

pub(crate) fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

/// Google's quotas reset at midnight Pacific time; the day number counts those midnights.
pub(crate) fn pacific_day(now: DateTime<Utc>) -> i64 {
    (now.timestamp() + pacific_offset_secs(now)).div_euclid(86_400)
}

/// UTC−7 from the second Sunday of March, 10:00 UTC, to the first Sunday of November,
/// 09:00 UTC (US daylight saving time); UTC−8 otherwise.
pub(crate) fn pacific_offset_secs(now: DateTime<Utc>) -> i64 {
    use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
    let year = now.year();
    let sunday =
        |month, nth: u8| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, nth);
    let at = |d: Option<NaiveDate>, hour| {
        d.and_then(|d| d.and_hms_opt(hour, 0, 0))
            .map(|t| Utc.from_utc_datetime(&t))
    };
    match (at(sunday(3, 2), 10), at(sunday(11, 1), 9)) {
        (Some(start), Some(end)) if now >= start && now < end => -7 * 3600,
        _ => -8 * 3600,
    }
}
