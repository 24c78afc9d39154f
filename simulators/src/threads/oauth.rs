//! Threads OAuth: authorization (approved at once), the code exchange for a
//! one-hour token, the exchange for a 60-day token, and its refresh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use url::Url;

use super::api::Call;
use super::error::GraphError;
use super::state::{AuthCode, Sim, TokenKind, random_code};

/// Scopes a Threads app can ask for.
pub(crate) const KNOWN_SCOPES: &[&str] = &[
    "threads_basic",
    "threads_content_publish",
    "threads_manage_replies",
    "threads_read_replies",
    "threads_manage_insights",
    "threads_delete",
    "threads_keyword_search",
    "threads_location_tagging",
];

const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// `GET /oauth/authorize`: errors about the app itself are shown as a page (400);
/// the rest go back to the redirect URI.
pub(crate) fn authorize(sim: &Arc<Sim>, call: &Call) -> Response {
    if call.get("client_id") != Some(sim.config.client_id.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            "Invalid App ID: the client_id is not a Threads app",
        )
            .into_response();
    }
    let Some(redirect) = call.get("redirect_uri").and_then(|u| Url::parse(u).ok()) else {
        return (
            StatusCode::BAD_REQUEST,
            "Invalid redirect_uri: it must be an absolute URL registered for the app",
        )
            .into_response();
    };
    let back = |pairs: &[(&str, &str)]| {
        let mut url = redirect.clone();
        {
            let mut q = url.query_pairs_mut();
            q.extend_pairs(pairs);
            if let Some(state) = call.get("state") {
                q.append_pair("state", state);
            }
        }
        // Meta appends `#_` to the redirect; browsers never send fragments on.
        url.set_fragment(Some("_"));
        (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
    };
    if call.get("response_type") != Some("code") {
        return back(&[
            ("error", "invalid_request"),
            ("error_reason", "invalid_response_type"),
            ("error_description", "response_type must be code"),
        ]);
    }
    let scopes: Vec<String> = call
        .get("scope")
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "threads_basic")
        || !scopes.iter().all(|s| KNOWN_SCOPES.contains(&s.as_str()))
    {
        return back(&[
            ("error", "invalid_scope"),
            ("error_reason", "invalid_scope"),
            (
                "error_description",
                "Invalid Scopes: scopes must be Threads permissions and include threads_basic",
            ),
        ]);
    }
    let code = random_code();
    sim.lock().codes.insert(
        code.clone(),
        AuthCode {
            redirect_uri: redirect.to_string(),
            scopes,
            issued: Instant::now(),
        },
    );
    back(&[("code", &code)])
}

fn check_app(sim: &Sim, call: &Call, need_id: bool) -> Result<(), GraphError> {
    if need_id && call.get("client_id") != Some(sim.config.client_id.as_str()) {
        return Err(GraphError::new(
            101,
            "Error validating application. Invalid application ID.",
        ));
    }
    if call.get("client_secret") != Some(sim.config.client_secret.as_str()) {
        return Err(GraphError::new(1, "Error validating client secret."));
    }
    Ok(())
}

/// `POST /oauth/access_token`: a code for a one-hour token.
pub(crate) fn exchange(sim: &Arc<Sim>, call: &Call) -> Result<Value, GraphError> {
    check_app(sim, call, true)?;
    if call.require("grant_type")? != "authorization_code" {
        return Err(GraphError::param("Unsupported grant_type"));
    }
    let code = call.require("code")?;
    let redirect_uri = call.require("redirect_uri")?;
    let mut state = sim.lock();
    let grant = state
        .codes
        .get(code)
        .filter(|g| g.issued.elapsed() < CODE_LIFETIME)
        .cloned()
        .ok_or_else(|| GraphError::new(100, "Invalid authorization code").subcode(36007))?;
    if Url::parse(redirect_uri)
        .map(|u| u.to_string())
        .ok()
        .as_deref()
        != Some(grant.redirect_uri.as_str())
    {
        return Err(GraphError::new(100, "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request").subcode(36008));
    }
    state.codes.remove(code);
    let (token, _) = state.issue_token(
        TokenKind::ShortLived,
        grant.scopes,
        sim.config.short_lived_token_secs,
    );
    Ok(
        json!({ "access_token": token, "user_id": sim.config.user_id.parse::<u64>().unwrap_or_default() }),
    )
}

/// `GET /access_token?grant_type=th_exchange_token`: a one-hour token for a 60-day one.
pub(crate) fn long_lived(sim: &Arc<Sim>, call: &Call) -> Result<Value, GraphError> {
    if call.require("grant_type")? != "th_exchange_token" {
        return Err(GraphError::param("grant_type must be th_exchange_token"));
    }
    check_app(sim, call, false)?;
    let mut state = sim.lock();
    let current = super::api::authorize(&state, call, "threads_basic")?;
    if current.kind != TokenKind::ShortLived {
        return Err(GraphError::param("The access token is already long-lived"));
    }
    let lifetime = sim.config.long_lived_token_secs;
    let (token, _) = state.issue_token(TokenKind::LongLived, current.scopes, lifetime);
    Ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": lifetime }))
}

/// `GET /refresh_access_token?grant_type=th_refresh_token`: a valid long-lived
/// token at least a day old for a new 60-day one.
pub(crate) fn refresh(sim: &Arc<Sim>, call: &Call) -> Result<Value, GraphError> {
    if call.require("grant_type")? != "th_refresh_token" {
        return Err(GraphError::param("grant_type must be th_refresh_token"));
    }
    let mut state = sim.lock();
    let current = super::api::authorize(&state, call, "threads_basic")?;
    if current.kind != TokenKind::LongLived {
        return Err(GraphError::param(
            "Only long-lived access tokens can be refreshed",
        ));
    }
    let age = chrono::Utc::now() - current.issued_at;
    if age.num_seconds() < sim.config.refresh_min_age_secs {
        return Err(GraphError::param(
            "The access token can only be refreshed once it is at least 24 hours old",
        ));
    }
    let lifetime = sim.config.long_lived_token_secs;
    let (token, _) = state.issue_token(TokenKind::LongLived, current.scopes, lifetime);
    Ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": lifetime }))
}
