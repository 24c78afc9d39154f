//! Bearer tokens and scopes, checked the way Mastodon's controllers do.

use axum::http::{HeaderMap, header};

use super::error::ApiError;
use super::state::State;

/// Scopes Mastodon knows; apps asking for anything else are refused.
pub(crate) const KNOWN_SCOPES: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
    "admin:read",
    "admin:write",
];

/// Who a live token acts for.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub client_id: String,
    pub account_id: Option<String>,
}

impl Caller {
    /// The account a user token acts for; app tokens get Mastodon's 422.
    pub fn user(&self) -> Result<&str, ApiError> {
        self.account_id
            .as_deref()
            .ok_or_else(ApiError::user_required)
    }
}

/// The token of an `Authorization: Bearer` header. Other schemes carry no
/// token as far as Doorkeeper is concerned.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// `doorkeeper_authorize!`: a live token with at least one accepted scope.
pub(crate) fn require(
    state: &State,
    headers: &HeaderMap,
    accepts: impl Fn(&str) -> bool,
) -> Result<Caller, ApiError> {
    let token = bearer(headers)
        .and_then(|value| state.tokens.get(value))
        .filter(|token| !token.revoked)
        .ok_or_else(ApiError::invalid_token)?;
    if !token.scopes.iter().any(|scope| accepts(scope)) {
        return Err(ApiError::insufficient_scope());
    }
    Ok(Caller {
        client_id: token.client_id.clone(),
        account_id: token.account_id.clone(),
    })
}

/// `authorize_if_got_token!`: anonymous without a token, and also with a
/// token the instance has never seen (Doorkeeper finds nothing to check),
/// but a revoked token or one lacking the scope is refused.
pub(crate) fn optional(
    state: &State,
    headers: &HeaderMap,
    accepts: impl Fn(&str) -> bool,
) -> Result<Option<Caller>, ApiError> {
    match bearer(headers).and_then(|value| state.tokens.get(value)) {
        None => Ok(None),
        Some(_) => require(state, headers, accepts).map(Some),
    }
}

/// The scopes of `write:statuses`-style endpoints: the specific one or its parent.
pub(crate) fn scope_or_parent(specific: &'static str) -> impl Fn(&str) -> bool {
    let parent = specific.split(':').next().unwrap_or(specific);
    move |scope| scope == specific || scope == parent
}
