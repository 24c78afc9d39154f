//! Social accounts connected to a workspace through their platform plugin: platform apps
//! (developer-app settings), the OAuth and credentials connection flows, the call context
//! other work uses to act for an account, token refresh, disconnection and key rotation.
//!
//! Credentials are only ever held sealed (see `crypto::credentials`) except inside a call
//! context handed to the plugin runtime.

pub mod apps;
pub mod connect;
pub mod context;
pub mod disconnect;
pub mod keys;
pub mod refresh;

pub use context::call_context;
pub use refresh::refresh;

use crate::crypto::credentials::SecretMap;
use crate::runtime::error::CallError;
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;

/// Why an account operation failed; the API turns each case into a problem.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The request cannot be carried out as asked (422).
    #[error("{detail}")]
    Invalid { kind: &'static str, detail: String },
    /// The account or app is not in a state that allows it (409).
    #[error("{detail}")]
    Conflict { kind: &'static str, detail: String },
    /// The OAuth state of a callback is unknown, spent or expired.
    #[error("{0}")]
    State(String),
    /// The platform, through its plugin, refused or failed.
    #[error("{plugin}: {}", plugin_error_text(.error))]
    Plugin { plugin: String, error: PluginError },
    /// The plugin call itself failed (trap, limit, not installed).
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> AccountError {
        AccountError::Internal(e.into())
    }
}

impl From<crate::crypto::credentials::CipherError> for AccountError {
    fn from(e: crate::crypto::credentials::CipherError) -> AccountError {
        AccountError::Internal(e.into())
    }
}

/// A plugin error as one sentence for people (plugins never put secrets in messages).
pub fn plugin_error_text(e: &PluginError) -> String {
    match e {
        PluginError::AuthExpired(m) => format!("the authorization expired or was revoked: {m}"),
        PluginError::RateLimited(r) => format!(
            "rate limited by the platform (retry in {} s): {}",
            r.retry_after_secs, r.message
        ),
        PluginError::InvalidContent(problems) => problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; "),
        PluginError::Transient(m) | PluginError::Permanent(m) | PluginError::Unsupported(m) => {
            m.clone()
        }
    }
}

/// New credential values over old ones: what the new grant returned replaces, what it did
/// not return is kept — a reconnect or refresh that brings no refresh token must not wipe
/// the one already stored.
pub fn merge_credentials(old: &SecretMap, new: &[(String, String)]) -> SecretMap {
    let mut merged = old.clone();
    for (name, value) in new {
        merged.0.insert(name.clone(), value.clone());
    }
    merged
}

/// Unix seconds (as plugins report expiry) to a time; out-of-range values mean none.
fn from_unix(secs: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(pairs: &[(&str, &str)]) -> SecretMap {
        SecretMap(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn merge_keeps_values_the_new_grant_did_not_return() {
        let old = map(&[("access_token", "old-a"), ("refresh_token", "old-r")]);
        let merged = merge_credentials(&old, &[("access_token".into(), "new-a".into())]);
        assert_eq!(
            merged,
            map(&[("access_token", "new-a"), ("refresh_token", "old-r")])
        );

        // A rotated refresh token replaces the old one; new names are added.
        let merged = merge_credentials(
            &merged,
            &[
                ("refresh_token".into(), "new-r".into()),
                ("token_secret".into(), "s".into()),
            ],
        );
        assert_eq!(
            merged,
            map(&[
                ("access_token", "new-a"),
                ("refresh_token", "new-r"),
                ("token_secret", "s")
            ])
        );
        // Nothing returned: nothing lost.
        assert_eq!(merge_credentials(&merged, &[]), merged);
    }

    #[test]
    fn expiry_conversion() {
        assert_eq!(from_unix(0).unwrap().timestamp(), 0);
        assert!(from_unix(u64::MAX).is_none());
    }
}
