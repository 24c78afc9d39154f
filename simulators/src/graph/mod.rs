//! Pieces every simulated Meta Graph API shares (Facebook Pages, Instagram): the error
//! envelope, parameters that may come as query, form, JSON or multipart fields, access
//! tokens with expiry, scopes and `appsecret_proof`, scripted faults, the request record,
//! the accept loop that can drop a connection, and pulling media from a URL as Meta does.
//!
//! # Deliberate choices shared by the Meta simulators
//!
//! - **Versions**: any `/vNN.N/` prefix is accepted and stripped before routing (the
//!   record keeps the full path); an unversioned path works too, as Graph falls back to
//!   the app's default version.
//! - **Error statuses**: Graph answers almost every error with HTTP 400 and tells them
//!   apart by `code`/`error_subcode`; the simulators do the same, throttling included
//!   (codes 4, 17, 32, 613 with `X-App-Usage` / `X-Business-Use-Case-Usage`, whose
//!   `estimated_time_to_regain_access` is in minutes). Graph does not send 429.
//! - **Tokens**: `access_token` as a query, form or JSON parameter, or `Authorization:
//!   Bearer …` / `Authorization: OAuth …`. A token the simulator never issued is 190
//!   without subcode; an expired one 190/463; a revoked one 190/460.
//! - **appsecret_proof** is required on every call made with a token ("Require App
//!   Secret" on), lowercase hex HMAC-SHA256 of the token under the app secret, compared
//!   in constant time; missing or wrong: code 100, type `GraphMethodException`.

pub mod error;
pub mod faults;
pub(crate) mod intercept;
pub mod pull;
pub mod record;
pub(crate) mod server;
pub mod tokens;

pub use error::GraphError;
pub use faults::{Fault, FaultAction};
pub use record::RecordedRequest;
pub use tokens::{Token, TokenKind};

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What every Graph simulator keeps besides its platform objects.
#[derive(Default)]
pub struct Core {
    pub requests: Vec<RecordedRequest>,
    pub faults: VecDeque<Fault>,
    pub tokens: tokens::Tokens,
}

/// The shared parts of one running Graph simulator.
pub struct Graph {
    pub base_url: String,
    pub app_id: String,
    pub app_secret: String,
    pub require_proof: bool,
    /// Used in log lines only.
    pub platform: &'static str,
    next_seq: AtomicU64,
    core: Mutex<Core>,
}

impl Graph {
    pub fn new(
        platform: &'static str,
        base_url: String,
        app_id: String,
        app_secret: String,
        require_proof: bool,
    ) -> Self {
        Graph {
            base_url,
            app_id,
            app_secret,
            require_proof,
            platform,
            next_seq: AtomicU64::new(1),
            core: Mutex::new(Core::default()),
        }
    }

    /// A handler that panicked mid-update must not wedge later requests.
    pub fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn reset(&self) {
        *self.core() = Core::default();
    }

    /// The token of a request, checked: issued here, not expired or revoked, with a
    /// valid `appsecret_proof`.
    pub fn authenticate(&self, params: &Params) -> Result<Token, GraphError> {
        let Some(token) = params.token.as_deref() else {
            return Err(GraphError::oauth(
                2500,
                None,
                "An active access token must be used to query information about the current user.",
            ));
        };
        let found = self.core().tokens.check(token)?;
        if self.require_proof {
            match params.get("appsecret_proof") {
                None => {
                    return Err(GraphError::method(
                        100,
                        "API calls from the server require an appsecret_proof argument",
                    ));
                }
                Some(proof) if !tokens::proof_matches(&self.app_secret, token, proof) => {
                    return Err(GraphError::method(
                        100,
                        "Invalid appsecret_proof provided in the API argument",
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(found)
    }
}

/// Request parameters merged from the query string and the body (form, JSON object or
/// multipart text fields; the body wins), with the access token taken out.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub values: BTreeMap<String, String>,
    /// `access_token` parameter, or the `Authorization` header's credential.
    pub token: Option<String>,
    /// How the token came: `param`, `Bearer` or `OAuth`.
    pub token_scheme: Option<String>,
    /// Multipart file fields: (name, content type, bytes).
    pub files: Vec<(String, Option<String>, bytes::Bytes)>,
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A required parameter, or Graph's `(#100)` error naming it.
    pub fn required(&self, name: &str) -> Result<&str, GraphError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| GraphError::invalid(format!("The parameter {name} is required")))
    }

    /// A boolean parameter as Graph reads them (`true`/`1`; absent = `default`).
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, GraphError> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(GraphError::invalid(format!(
                "Param {name} must be a boolean, got '{other}'"
            ))),
        }
    }
}

/// Strips a leading `/vNN.N` version segment.
pub fn unversioned(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let version = &rest[..end];
    let valid = version
        .split_once('.')
        .is_some_and(|(a, b)| is_digits(a) && is_digits(b));
    if valid { &rest[end..] } else { path }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A new numeric-looking id, as Graph's are.
pub fn new_id() -> String {
    use rand::Rng;
    rand::rng()
        .random_range(100_000_000_000_000u64..999_999_999_999_999)
        .to_string()
}

/// A random opaque token string.
pub fn new_secret(prefix: &str) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefixes_are_stripped() {
        assert_eq!(unversioned("/v25.0/me/accounts"), "/me/accounts");
        assert_eq!(unversioned("/v26.0"), "");
        assert_eq!(unversioned("/me"), "/me");
        assert_eq!(
            unversioned("/video-upload/v25.0/1"),
            "/video-upload/v25.0/1"
        );
        assert_eq!(unversioned("/vx.0/me"), "/vx.0/me");
    }
}
