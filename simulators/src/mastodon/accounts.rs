//! The account entity and the endpoints about the caller's own account.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::auth::require;
use super::error::ApiError;
use super::state::{Account, Sim, State as Instance};

/// `GET /api/v1/accounts/verify_credentials`.
///
/// Mastodon wants `profile`, `read` or `read:accounts` here; the simulator
/// also lets any write scope through, so that a plugin holding only the write
/// scopes it posts with can still learn whom it posts as.
pub(crate) async fn verify_credentials(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let state = sim.lock();
    let caller = require(&state, &headers, |scope| {
        matches!(scope, "profile" | "read" | "read:accounts" | "write")
            || scope.starts_with("write:")
    })?;
    let account = state
        .account(caller.user()?)
        .ok_or_else(ApiError::not_found)?;
    let mut body = render(&sim, &state, account);
    body["source"] = json!({
        "privacy": "public",
        "sensitive": false,
        "language": null,
        "note": "",
        "fields": [],
        "follow_requests_count": 0,
    });
    Ok(Json(body))
}

/// The Account entity of a local account.
pub(crate) fn render(sim: &Sim, state: &Instance, account: &Account) -> Value {
    let base = &sim.base_url;
    let published: Vec<_> = state
        .statuses
        .iter()
        .filter(|status| status.account_id == account.id && status.published())
        .collect();
    // Mastodon reports the day of the last post, not the moment.
    let last_status_at = published
        .last()
        .and_then(|status| status.created_at.get(..10));
    json!({
        "id": account.id,
        "username": account.username,
        "acct": account.username,
        "display_name": account.username,
        "locked": false,
        "bot": false,
        "discoverable": true,
        "group": false,
        "created_at": account.created_at,
        "note": "",
        "url": format!("{base}/@{}", account.username),
        "uri": format!("{base}/users/{}", account.username),
        "avatar": format!("{base}/avatars/original/missing.png"),
        "avatar_static": format!("{base}/avatars/original/missing.png"),
        "header": format!("{base}/headers/original/missing.png"),
        "header_static": format!("{base}/headers/original/missing.png"),
        "followers_count": state.followers.get(&account.id).copied().unwrap_or(0),
        "following_count": 0,
        "statuses_count": published.len(),
        "last_status_at": last_status_at,
        "emojis": [],
        "fields": [],
    })
}
