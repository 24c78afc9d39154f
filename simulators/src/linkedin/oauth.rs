//! LinkedIn's OAuth 2 endpoints (3-legged, authorization code, programmatic refresh).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};
use url::Url;

use super::error::ApiError;
use super::state::{AuthCode, RefreshGrant, Sim, Token, random_secret};

/// Authorization codes last 30 minutes.
const CODE_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Refresh tokens last 365 days from the first authorization.
const REFRESH_LIFETIME_SECS: i64 = 365 * 86_400;

pub(crate) const KNOWN_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "w_member_social",
    "w_organization_social",
    "r_organization_social",
    "r_organization_admin",
    "rw_organization_admin",
];

/// `GET /oauth/v2/authorization`: the member approves at once.
pub(crate) async fn authorize(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let bad = |m: &str| ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", m);
    if q.get("client_id") != Some(&sim.config.client_id) {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "The passed in client_id is invalid",
        ));
    }
    let redirect_uri = q
        .get("redirect_uri")
        .ok_or_else(|| bad("A required parameter \"redirect_uri\" is missing"))?;
    let registered =
        sim.config.redirect_uris.is_empty() || sim.config.redirect_uris.contains(redirect_uri);
    let parsed = Url::parse(redirect_uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let Some(mut back) = parsed.filter(|_| registered) else {
        return Err(bad("The redirect_uri does not match the registered value"));
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
        return Ok(redirect(&[
            ("error", "invalid_request"),
            ("error_description", "response_type must be code"),
        ]));
    }
    let scopes: Vec<String> = q
        .get("scope")
        .map(|s| {
            s.split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if scopes.is_empty() || scopes.iter().any(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Ok(redirect(&[
            ("error", "unauthorized_scope_error"),
            (
                "error_description",
                "Scope is not authorized for your application",
            ),
        ]));
    }
    let code = random_secret();
    sim.lock().codes.insert(
        code.clone(),
        AuthCode {
            redirect_uri: redirect_uri.clone(),
            scopes,
            issued: Instant::now(),
        },
    );
    Ok(redirect(&[("code", &code)]))
}

/// `POST /oauth/v2/accessToken` (form): `authorization_code` or `refresh_token`.
pub(crate) async fn access_token(
    State(sim): State<Arc<Sim>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let invalid = |m: &str| ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", m);
    if !form_type {
        return Err(invalid(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("client_id") != Some(&sim.config.client_id)
        || form.get("client_secret") != Some(&sim.config.client_secret)
    {
        return Err(ApiError::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        ));
    }
    let config = &sim.config;
    let mut state = sim.lock();
    let (member, scopes, refresh) = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form
                .get("code")
                .ok_or_else(|| invalid("A required parameter \"code\" is missing"))?;
            let stored = state
                .codes
                .get(code)
                .cloned()
                .filter(|c| c.issued.elapsed() < CODE_LIFETIME);
            let Some(stored) = stored.filter(|c| Some(&c.redirect_uri) == form.get("redirect_uri"))
            else {
                return Err(invalid(
                    "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired.",
                ));
            };
            state.codes.remove(code);
            let refresh = config.refresh_tokens.then(|| {
                let value = random_secret();
                let grant = RefreshGrant {
                    member: config.member_sub.clone(),
                    scopes: stored.scopes.clone(),
                    expires_at: Utc::now() + chrono::Duration::seconds(REFRESH_LIFETIME_SECS),
                };
                (value, grant)
            });
            (config.member_sub.clone(), stored.scopes, refresh)
        }
        Some("refresh_token") => {
            if !config.refresh_tokens {
                return Err(ApiError::oauth(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    "The application is not authorized for programmatic refresh tokens",
                ));
            }
            let value = form
                .get("refresh_token")
                .ok_or_else(|| invalid("A required parameter \"refresh_token\" is missing"))?;
            let grant = state
                .refresh_tokens
                .get(value)
                .filter(|g| g.expires_at > Utc::now())
                .cloned()
                .ok_or_else(|| {
                    ApiError::oauth(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "The provided refresh token is invalid or expired",
                    )
                })?;
            // LinkedIn hands back the same refresh token; its lifetime is not extended.
            (
                grant.member.clone(),
                grant.scopes.clone(),
                Some((value.clone(), grant)),
            )
        }
        _ => {
            return Err(invalid(
                "grant_type must be authorization_code or refresh_token",
            ));
        }
    };
    let access = random_secret();
    state.tokens.insert(
        access.clone(),
        Token {
            member,
            scopes: scopes.clone(),
            expires_at: Utc::now() + chrono::Duration::seconds(config.access_token_ttl_secs),
            revoked: false,
        },
    );
    let mut answer = json!({
        "access_token": access,
        "expires_in": config.access_token_ttl_secs,
        "scope": scopes.join(","),
        "token_type": "Bearer",
    });
    if let Some((value, grant)) = refresh {
        answer["refresh_token"] = value.clone().into();
        answer["refresh_token_expires_in"] = (grant.expires_at - Utc::now()).num_seconds().into();
        state.refresh_tokens.insert(value, grant);
    }
    Ok(Json(answer))
}
