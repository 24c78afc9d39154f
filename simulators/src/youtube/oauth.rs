//! Google's OAuth 2 endpoints: authorization (with PKCE S256), code exchange, refresh.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::error::ApiError;
use super::state::{AuthCode, Sim, Token, random_secret};

const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);
const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";
const KNOWN_SCOPES: &[&str] = &[
    "youtube",
    "youtube.upload",
    "youtube.readonly",
    "youtube.force-ssl",
];

/// `GET /o/oauth2/v2/auth`: the user consents at once; `access_type=offline` asks for a
/// refresh token.
pub(crate) async fn authorize(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let bad = |e: &str, m: &str| ApiError::oauth(StatusCode::BAD_REQUEST, e, m);
    if q.get("client_id") != Some(&sim.config.client_id) {
        return Err(bad("invalid_client", "The OAuth client was not found."));
    }
    let redirect_uri = q.get("redirect_uri").ok_or_else(|| {
        bad(
            "invalid_request",
            "Missing required parameter: redirect_uri",
        )
    })?;
    let registered =
        sim.config.redirect_uris.is_empty() || sim.config.redirect_uris.contains(redirect_uri);
    let Some(mut back) = Url::parse(redirect_uri)
        .ok()
        .filter(|u| registered && matches!(u.scheme(), "http" | "https"))
    else {
        return Err(bad(
            "redirect_uri_mismatch",
            "The redirect URI in the request does not match the ones authorized for the OAuth client.",
        ));
    };
    let state = q.get("state").cloned();
    let mut redirect = |pairs: &[(&str, &str)]| {
        {
            let mut query = back.query_pairs_mut();
            for (k, v) in pairs {
                query.append_pair(k, v);
            }
            if let Some(s) = &state {
                query.append_pair("state", s);
            }
        }
        (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Ok(redirect(&[("error", "unsupported_response_type")]));
    }
    let scopes: Vec<String> = q
        .get("scope")
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let known = |s: &String| {
        s.strip_prefix(SCOPE_PREFIX)
            .is_some_and(|n| KNOWN_SCOPES.contains(&n))
    };
    if scopes.is_empty() || !scopes.iter().all(known) {
        return Ok(redirect(&[("error", "invalid_scope")]));
    }
    let challenge = match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (None, _) => None,
        (Some(c), Some("S256")) => Some(c.clone()),
        (Some(_), _) => {
            return Ok(redirect(&[
                ("error", "invalid_request"),
                ("error_description", "code_challenge_method must be S256"),
            ]));
        }
    };
    let code = format!("4/{}", random_secret());
    let offline = q.get("access_type").map(String::as_str) == Some("offline");
    let scopes = if offline {
        scopes
    } else {
        scopes
            .into_iter()
            .chain(std::iter::once("online".to_owned()))
            .collect()
    };
    sim.lock().codes.insert(
        code.clone(),
        AuthCode {
            redirect_uri: redirect_uri.clone(),
            scopes,
            challenge,
            issued: Instant::now(),
        },
    );
    Ok(redirect(&[("code", &code)]))
}

/// `POST /token` (form).
pub(crate) async fn token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let grant = |m: &str| ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", m);
    if !form_type {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid Content-Type",
        ));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("client_id") != Some(&sim.config.client_id)
        || form.get("client_secret") != Some(&sim.config.client_secret)
    {
        return Err(ApiError::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unauthorized",
        ));
    }
    let mut state = sim.lock();
    let (scopes, new_refresh) = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").map(String::as_str).unwrap_or_default();
            let stored = state
                .codes
                .get(code)
                .cloned()
                .filter(|c| c.issued.elapsed() < CODE_LIFETIME)
                .ok_or_else(|| grant("Malformed auth code."))?;
            if form.get("redirect_uri") != Some(&stored.redirect_uri) {
                return Err(ApiError::oauth(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                ));
            }
            if let Some(challenge) = &stored.challenge {
                let verifier = form
                    .get("code_verifier")
                    .ok_or_else(|| grant("Missing code verifier."))?;
                if &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
                    return Err(grant("Invalid code verifier."));
                }
            }
            state.codes.remove(code);
            let offline = !stored.scopes.iter().any(|s| s == "online");
            let scopes: Vec<String> = stored
                .scopes
                .into_iter()
                .filter(|s| s != "online")
                .collect();
            let refresh = offline.then(|| format!("1//{}", random_secret()));
            if let Some(r) = &refresh {
                state.refresh_tokens.insert(r.clone(), scopes.clone());
            }
            (scopes, refresh)
        }
        Some("refresh_token") => {
            let value = form
                .get("refresh_token")
                .map(String::as_str)
                .unwrap_or_default();
            let scopes = state
                .refresh_tokens
                .get(value)
                .cloned()
                .ok_or_else(|| grant("Token has been expired or revoked."))?;
            // Google keeps the refresh token: the answer carries none.
            (scopes, None)
        }
        _ => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Invalid grant_type",
            ));
        }
    };
    let access = format!("ya29.{}", random_secret());
    state.tokens.insert(
        access.clone(),
        Token {
            scopes: scopes.clone(),
            expires_at: Utc::now() + chrono::Duration::seconds(sim.config.access_token_ttl_secs),
        },
    );
    let mut answer = json!({"access_token": access, "expires_in": sim.config.access_token_ttl_secs, "scope": scopes.join(" "), "token_type": "Bearer"});
    if let Some(r) = new_refresh {
        answer["refresh_token"] = r.into();
    }
    Ok(Json(answer))
}
