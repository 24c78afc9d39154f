//! Everything the simulated X remembers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::config::XConfig;
use super::faults::Fault;
use super::media::Media;
use super::record::RecordedRequest;
use super::tweets::RecordedTweet;

/// The id of the one user the simulator knows.
pub const USER_ID: &str = "1460000000000000001";

pub(crate) struct Sim {
    pub config: XConfig,
    pub base_url: String,
    state: Mutex<State>,
}

/// An OAuth 2.0 authorization code waiting to be exchanged.
pub(crate) struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub scopes: Vec<String>,
    pub expires: Instant,
}

/// An OAuth 2.0 access token.
pub(crate) struct Token {
    pub scopes: Vec<String>,
    pub expires: Instant,
    pub revoked: bool,
}

/// An OAuth 1.0a request token between `request_token` and `access_token`.
pub(crate) struct RequestToken {
    pub secret: String,
    pub callback: String,
    pub verifier: Option<String>,
}

#[derive(Default)]
pub(crate) struct State {
    pub seq: u64,
    pub requests: Vec<RecordedRequest>,
    pub faults: VecDeque<Fault>,
    pub codes: HashMap<String, Code>,
    pub tokens: HashMap<String, Token>,
    /// Live refresh tokens and their scopes; a refresh spends the one used.
    pub refresh_tokens: HashMap<String, Vec<String>>,
    pub request_tokens: HashMap<String, RequestToken>,
    /// OAuth 1.0a access tokens and their secrets.
    pub oauth1_tokens: HashMap<String, String>,
    /// `(timestamp, nonce)` pairs seen, so a replayed OAuth 1.0a request is refused.
    pub nonces: HashSet<(String, String)>,
    pub media: HashMap<String, Media>,
    pub tweets: Vec<RecordedTweet>,
    /// Start of the current 15-minute window of `POST /2/tweets` and its count.
    pub tweet_window: Option<(u64, u32)>,
    pub next_id: u64,
}

impl Sim {
    pub fn new(config: XConfig, base_url: String) -> Self {
        Sim {
            config,
            base_url,
            state: Mutex::new(State::default()),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn processing_time(&self) -> Duration {
        Duration::from_millis(self.config.media_processing_ms)
    }
}

impl State {
    /// Snowflake-looking ids, increasing.
    pub fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{}", 1_870_000_000_000_000_000u64 + self.next_id)
    }

    /// A random opaque token.
    pub fn secret(&mut self, prefix: &str) -> String {
        use rand::Rng;
        let bytes: [u8; 18] = rand::rng().random();
        format!(
            "{prefix}{}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
        )
    }

    /// Issues an access token (and a refresh token with `offline.access`).
    pub fn issue(&mut self, scopes: Vec<String>, ttl: Duration) -> (String, Option<String>) {
        let access = self.secret("at-");
        let refresh = scopes
            .iter()
            .any(|s| s == "offline.access")
            .then(|| self.secret("rt-"));
        if let Some(refresh) = &refresh {
            self.refresh_tokens.insert(refresh.clone(), scopes.clone());
        }
        self.tokens.insert(
            access.clone(),
            Token {
                scopes,
                expires: Instant::now() + ttl,
                revoked: false,
            },
        );
        (access, refresh)
    }

    /// Revokes every credential of the user.
    pub fn revoke_user(&mut self) {
        for token in self.tokens.values_mut() {
            token.revoked = true;
        }
        self.refresh_tokens.clear();
        self.oauth1_tokens.clear();
    }
}
