//! Everything the simulated instance knows, behind one lock.
//!
//! Handlers take the lock, decide and mutate in one go, and never hold it
//! across an await, so each request sees and leaves a consistent instance
//! (which is also what makes the idempotency check race-free, like the Redis
//! lock Mastodon takes around it).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};

use super::config::MastodonConfig;
use super::faults::Fault;
use super::ratelimit::Throttles;
use super::record::RecordedRequest;
use super::statuses::RecordedStatus;

/// The shared simulator: fixed settings plus the mutable instance.
pub(crate) struct Sim {
    pub config: MastodonConfig,
    /// `http://127.0.0.1:PORT`, the origin of every URL the instance hands out.
    pub base_url: String,
    /// Outside [`State`] so that a reset cannot hand an in-flight request's
    /// number to a new one.
    next_seq: AtomicU64,
    state: Mutex<State>,
}

impl Sim {
    pub fn new(config: MastodonConfig, base_url: String) -> Self {
        let state = Mutex::new(State::new(&config));
        Sim {
            config,
            base_url,
            next_seq: AtomicU64::new(1),
            state,
        }
    }

    /// A handler that panicked mid-update must not wedge every later test
    /// request, so a poisoned lock is simply taken over.
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
    pub media_processing: Duration,
    last_id: u64,
    pub accounts: Vec<Account>,
    pub apps: Vec<App>,
    pub codes: HashMap<String, AuthCode>,
    pub tokens: HashMap<String, Token>,
    pub media: HashMap<String, Media>,
    /// Every status ever created, deleted and scheduled ones included, oldest first.
    pub statuses: Vec<RecordedStatus>,
    /// `(account id, Idempotency-Key)` → the post it produced.
    pub idempotency: HashMap<(String, String), IdempotentPost>,
    pub throttles: Throttles,
    /// Favourites and boosts a test gave a status (other users' reactions).
    pub engagement: HashMap<String, Engagement>,
    /// Followers a test gave an account, by account id.
    pub followers: HashMap<String, u64>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<RecordedRequest>,
}

impl State {
    fn new(config: &MastodonConfig) -> Self {
        let mut state = State {
            media_processing: Duration::from_millis(config.media_processing_ms),
            last_id: 0,
            accounts: Vec::new(),
            apps: Vec::new(),
            codes: HashMap::new(),
            tokens: HashMap::new(),
            media: HashMap::new(),
            statuses: Vec::new(),
            idempotency: HashMap::new(),
            throttles: Throttles::default(),
            engagement: HashMap::new(),
            followers: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
        };
        state.ensure_account(&config.username);
        state
    }

    /// Mastodon ids are snowflakes: milliseconds shifted left by 16 bits plus a
    /// sequence, so they sort by creation time as strings of equal length and
    /// as numbers. Clients that compare ids for pagination rely on that.
    pub fn next_id(&mut self) -> String {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default();
        self.last_id = (now_ms << 16).max(self.last_id + 1);
        self.last_id.to_string()
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|account| account.id == id)
    }

    pub fn default_account_id(&self) -> String {
        self.accounts[0].id.clone()
    }

    /// The id of the local account `username`, created on first use.
    pub fn ensure_account(&mut self, username: &str) -> String {
        if let Some(account) = self.accounts.iter().find(|a| a.username == username) {
            return account.id.clone();
        }
        let id = self.next_id();
        self.accounts.push(Account {
            id: id.clone(),
            username: username.to_owned(),
            created_at: timestamp(Utc::now()),
        });
        id
    }

    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|app| app.client_id == client_id)
    }

    pub fn register_app(
        &mut self,
        name: String,
        website: Option<String>,
        redirect_uris: Vec<String>,
        scopes: Vec<String>,
    ) -> App {
        let app = App {
            id: self.next_id(),
            name,
            website,
            redirect_uris,
            scopes,
            client_id: random_secret(),
            client_secret: random_secret(),
        };
        self.apps.push(app.clone());
        app
    }

    pub fn issue_token(
        &mut self,
        client_id: &str,
        account_id: Option<String>,
        scopes: Vec<String>,
    ) -> (String, Token) {
        let token = Token {
            client_id: client_id.to_owned(),
            account_id,
            scopes,
            created_at: Utc::now().timestamp(),
            revoked: false,
        };
        let value = random_secret();
        self.tokens.insert(value.clone(), token.clone());
        (value, token)
    }

    /// Registers an app and issues `username` a token with `scopes` directly,
    /// as if the user had gone through the browser consent.
    pub fn seed_token(&mut self, username: &str, scopes: &str) -> (String, String) {
        let account_id = self.ensure_account(username);
        let scopes = split_scopes(scopes);
        let app = self.register_app(
            "plugboard-sim seed".to_owned(),
            None,
            vec![OOB_REDIRECT_URI.to_owned()],
            scopes.clone(),
        );
        let (token, _) = self.issue_token(&app.client_id, Some(account_id.clone()), scopes);
        (token, account_id)
    }

    pub fn revoke_account_tokens(&mut self, account_id: &str) {
        for token in self.tokens.values_mut() {
            if token.account_id.as_deref() == Some(account_id) {
                token.revoked = true;
            }
        }
    }

    pub fn revoke_all_tokens(&mut self) {
        for token in self.tokens.values_mut() {
            token.revoked = true;
        }
    }
}

/// The redirect URI of apps that show the code to the user instead of redirecting.
pub(crate) const OOB_REDIRECT_URI: &str = "urn:ietf:wg:oauth:2.0:oob";

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub username: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub id: String,
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub client_id: String,
    /// `None` for client-credentials tokens, which act for the app alone.
    pub account_id: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: i64,
    /// Revoked tokens are kept: Mastodon answers 401 for them even where an
    /// unknown token would just be treated as anonymous.
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub account_id: String,
    pub code_challenge: Option<String>,
    pub issued: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Image,
    Gifv,
    Video,
    Audio,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Gifv => "gifv",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub id: String,
    pub account_id: String,
    pub kind: MediaKind,
    pub mime: String,
    pub data: Bytes,
    pub description: Option<String>,
    pub focus: Option<(f64, f64)>,
    pub dimensions: Option<(u32, u32)>,
    pub ready_at: Instant,
    pub status_id: Option<String>,
}

impl Media {
    pub fn processed(&self) -> bool {
        Instant::now() >= self.ready_at
    }
}

/// Reactions to a status from accounts the simulator does not model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Engagement {
    pub favourites: u64,
    pub reblogs: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct IdempotentPost {
    pub status_id: String,
    pub expires: Instant,
}

/// 32 random bytes, URL-safe: the shape of Doorkeeper's tokens, secrets and codes.
pub(crate) fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Mastodon's timestamp format: ISO 8601, UTC, milliseconds.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn split_scopes(scopes: &str) -> Vec<String> {
    scopes.split_whitespace().map(str::to_owned).collect()
}
