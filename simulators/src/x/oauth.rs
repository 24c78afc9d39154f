//! Authorization: OAuth 2.0 with PKCE (`/i/oauth2/authorize`, `/2/oauth2/token`,
//! `/2/oauth2/revoke`) and OAuth 1.0a three-legged (`/oauth/request_token`,
//! `/oauth/authorize`, `/oauth/access_token`), approving at once as the configured user.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::auth::{Signed, authenticate, encode, oauth_params, verify};
use super::error::ApiError;
use super::state::{Code, RequestToken, Sim, USER_ID};

/// Scopes X knows (those a publishing client asks for, and the read ones).
const KNOWN_SCOPES: &[&str] = &[
    "tweet.read",
    "tweet.write",
    "users.read",
    "media.write",
    "offline.access",
    "tweet.moderate.write",
    "like.read",
    "like.write",
];

const CODE_TTL: Duration = Duration::from_secs(30);

/// A 302 to `url`, as X's consent pages answer.
fn found(url: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, url.to_owned())]).into_response()
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", query.join("&"))
}

pub(crate) async fn authorize(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != sim.config.client_id || get("redirect_uri").is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "Something went wrong: you weren't able to give access to the App.",
        )
            .into_response();
    }
    let redirect = get("redirect_uri").to_owned();
    let fail = |description: &str| {
        found(&with_query(
            &redirect,
            &[
                ("error", "invalid_request"),
                ("error_description", description),
                ("state", get("state")),
            ],
        ))
        .into_response()
    };
    if get("response_type") != "code" {
        return fail("response_type must be code");
    }
    if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
        return fail("PKCE with code_challenge_method=S256 is required");
    }
    if get("state").is_empty() {
        return fail("state is required");
    }
    let scopes: Vec<String> = get("scope").split(' ').map(str::to_owned).collect();
    if scopes.iter().any(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return fail("unknown scope");
    }
    let mut state = sim.lock();
    let code = state.secret("code-");
    state.codes.insert(
        code.clone(),
        Code {
            client_id: get("client_id").to_owned(),
            redirect_uri: redirect.clone(),
            challenge: get("code_challenge").to_owned(),
            scopes,
            expires: Instant::now() + CODE_TTL,
        },
    );
    found(&with_query(
        &redirect,
        &[("state", get("state")), ("code", &code)],
    ))
    .into_response()
}

fn invalid_request(description: &str) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

pub(crate) async fn token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    // The simulated app is a confidential client: it must authenticate with HTTP Basic.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .and_then(|v| String::from_utf8(v).ok());
    let expected = format!("{}:{}", sim.config.client_id, sim.config.client_secret);
    if basic.as_deref() != Some(expected.as_str()) {
        return Err(ApiError::oauth(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        ));
    }
    let ttl = Duration::from_secs(sim.config.access_token_ttl_secs);
    let mut state = sim.lock();
    let scopes = match get("grant_type") {
        "authorization_code" => {
            let code = state
                .codes
                .get(get("code"))
                .filter(|c| c.expires > Instant::now())
                .ok_or_else(|| {
                    invalid_request("Value passed for the authorization code was invalid.")
                })?;
            let verifier_ok = URL_SAFE_NO_PAD
                .encode(Sha256::digest(get("code_verifier").as_bytes()))
                == code.challenge;
            if code.client_id != sim.config.client_id
                || code.redirect_uri != get("redirect_uri")
                || !verifier_ok
            {
                return Err(invalid_request(
                    "Value passed for the authorization code was invalid.",
                ));
            }
            let scopes = code.scopes.clone();
            state.codes.remove(get("code"));
            scopes
        }
        "refresh_token" => state
            .refresh_tokens
            .remove(get("refresh_token"))
            .ok_or_else(|| invalid_request("Value passed for the token was invalid."))?,
        _ => {
            return Err(invalid_request(
                "Value passed for the grant type was invalid.",
            ));
        }
    };
    let (access, refresh) = state.issue(scopes.clone(), ttl);
    let mut body = json!({
        "token_type": "bearer",
        "expires_in": sim.config.access_token_ttl_secs,
        "access_token": access,
        "scope": scopes.join(" "),
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = refresh.into();
    }
    Ok(Json(body))
}

pub(crate) async fn revoke(State(sim): State<Arc<Sim>>, body: Bytes) -> Json<serde_json::Value> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut state = sim.lock();
    if let Some(token) = form.get("token") {
        if let Some(t) = state.tokens.get_mut(token) {
            t.revoked = true;
        }
        state.refresh_tokens.remove(token);
    }
    Json(json!({"revoked": true}))
}

pub(crate) async fn me(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request = Signed {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    authenticate(
        &sim,
        &mut sim.lock(),
        &request,
        &["tweet.read", "users.read"],
    )?;
    Ok(Json(json!({"data": {
        "id": USER_ID,
        "name": sim.config.name,
        "username": sim.config.username,
    }})))
}

fn form_response(pairs: &[(&str, &str)]) -> Response {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body.join("&"),
    )
        .into_response()
}

pub(crate) async fn request_token(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(oauth_params)
        .ok_or_else(|| ApiError::oauth1(215, "Bad Authentication data."))?;
    let request = Signed {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    let mut state = sim.lock();
    verify(&sim, &mut state, &request, &params, "")?;
    let callback = params
        .get("oauth_callback")
        .filter(|c| c.starts_with("http") || c.as_str() == "oob")
        .ok_or_else(|| {
            ApiError::oauth1(
                417,
                "Desktop applications only support the oauth_callback value 'oob'",
            )
        })?
        .clone();
    let token = state.secret("rq-");
    let secret = state.secret("rqs-");
    state.request_tokens.insert(
        token.clone(),
        RequestToken {
            secret: secret.clone(),
            callback,
            verifier: None,
        },
    );
    Ok(form_response(&[
        ("oauth_token", &token),
        ("oauth_token_secret", &secret),
        ("oauth_callback_confirmed", "true"),
    ]))
}

pub(crate) async fn authorize_oauth1(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut state = sim.lock();
    let verifier = state.secret("v-");
    let token = q.get("oauth_token").cloned().unwrap_or_default();
    let Some(request) = state.request_tokens.get_mut(&token) else {
        return (
            StatusCode::BAD_REQUEST,
            "This page is no longer valid. It looks like someone already used the token information you provided.",
        )
            .into_response();
    };
    request.verifier = Some(verifier.clone());
    found(&with_query(
        &request.callback,
        &[("oauth_token", &token), ("oauth_verifier", &verifier)],
    ))
    .into_response()
}

pub(crate) async fn access_token(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(oauth_params)
        .ok_or_else(|| ApiError::oauth1(215, "Bad Authentication data."))?;
    let request = Signed {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    let mut state = sim.lock();
    let token = params.get("oauth_token").cloned().unwrap_or_default();
    let (secret, verifier) = state
        .request_tokens
        .get(&token)
        .map(|r| (r.secret.clone(), r.verifier.clone()))
        .ok_or_else(|| ApiError::oauth1(89, "Invalid or expired token."))?;
    verify(&sim, &mut state, &request, &params, &secret)?;
    let given = params.get("oauth_verifier").cloned().or_else(|| {
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "oauth_verifier")
            .map(|(_, v)| v.into_owned())
    });
    if verifier.is_none() || given != verifier {
        return Err(ApiError::oauth1(
            401,
            "Error processing your OAuth request: Invalid oauth_verifier parameter",
        ));
    }
    state.request_tokens.remove(&token);
    let access = state.secret(&format!("{USER_ID}-"));
    let access_secret = state.secret("as-");
    state
        .oauth1_tokens
        .insert(access.clone(), access_secret.clone());
    Ok(form_response(&[
        ("oauth_token", &access),
        ("oauth_token_secret", &access_secret),
        ("user_id", USER_ID),
        ("screen_name", &sim.config.username),
    ]))
}
