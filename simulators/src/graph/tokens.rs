//! Access tokens the simulator issued, with what each may do.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::GraphError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A Facebook user token (short- or long-lived).
    User,
    /// A Facebook Page token, acting as the Page.
    Page,
    /// An Instagram Login user token.
    Instagram,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub value: String,
    pub kind: TokenKind,
    /// The user the token was issued to.
    pub user_id: String,
    /// The Page a Page token acts as.
    pub page_id: Option<String>,
    pub scopes: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub long_lived: bool,
    pub revoked: bool,
}

impl Token {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `(#200)` unless the token carries `scope`.
    pub fn require(&self, scope: &str) -> Result<(), GraphError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(GraphError::permission(scope))
        }
    }

    pub fn expires_in(&self) -> Option<i64> {
        self.expires_at
            .map(|e| (e - Utc::now()).num_seconds().max(0))
    }
}

#[derive(Default)]
pub struct Tokens(pub HashMap<String, Token>);

impl Tokens {
    /// Issues a token; `ttl` None = never expires.
    pub fn issue(
        &mut self,
        kind: TokenKind,
        user_id: &str,
        page_id: Option<&str>,
        scopes: &[String],
        ttl: Option<Duration>,
        long_lived: bool,
    ) -> Token {
        let prefix = match kind {
            TokenKind::User => "EAAU",
            TokenKind::Page => "EAAP",
            TokenKind::Instagram => "IGAA",
        };
        let now = Utc::now();
        let token = Token {
            value: super::new_secret(prefix),
            kind,
            user_id: user_id.to_string(),
            page_id: page_id.map(str::to_string),
            scopes: scopes.to_vec(),
            issued_at: now,
            expires_at: ttl.map(|t| now + t),
            long_lived,
            revoked: false,
        };
        self.0.insert(token.value.clone(), token.clone());
        token
    }

    /// The token if it may be used now, else Graph's 190 error for why not.
    pub fn check(&self, value: &str) -> Result<Token, GraphError> {
        let Some(token) = self.0.get(value) else {
            return Err(GraphError::oauth(
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
            ));
        };
        if token.revoked {
            return Err(GraphError::oauth(
                190,
                Some(460),
                "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            ));
        }
        if let Some(at) = token.expires_at
            && at <= Utc::now()
        {
            return Err(GraphError::oauth(
                190,
                Some(463),
                format!(
                    "Error validating access token: Session has expired on {}. The current time is {}.",
                    at.format("%A, %d-%b-%y %H:%M:%S UTC"),
                    Utc::now().format("%A, %d-%b-%y %H:%M:%S UTC")
                ),
            ));
        }
        Ok(token.clone())
    }

    pub fn expire(&mut self, value: &str) {
        if let Some(t) = self.0.get_mut(value) {
            t.expires_at = Some(Utc::now() - Duration::seconds(1));
        }
    }

    pub fn revoke(&mut self, value: &str) {
        if let Some(t) = self.0.get_mut(value) {
            t.revoked = true;
        }
    }
}

/// Lowercase hex HMAC-SHA256 of `token` under `secret`.
pub fn proof(secret: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(token.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Constant-time check of a hex proof.
pub fn proof_matches(secret: &str, token: &str, given: &str) -> bool {
    let Some(given) = unhex(given) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(token.as_bytes());
    mac.verify_slice(&given).is_ok()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_are_checked() {
        let p = proof("secret", "token");
        assert!(proof_matches("secret", "token", &p));
        assert!(!proof_matches("secret", "other", &p));
        assert!(!proof_matches("secret", "token", "zz"));
    }
}
