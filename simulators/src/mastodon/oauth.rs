//! App registration and Doorkeeper's OAuth 2 endpoints.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::auth::KNOWN_SCOPES;
use super::error::ApiError;
use super::params::Params;
use super::state::{App, AuthCode, OOB_REDIRECT_URI, Sim, State as Instance, random_secret};

/// Authorization codes are good for this long, Doorkeeper's default.
const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Mastodon's default scopes, used when a request names none.
const DEFAULT_SCOPE: &str = "read";

const INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";
const INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
const INVALID_SCOPE: &str = "The requested scope is invalid, unknown, or malformed.";
const INVALID_REDIRECT_URI: &str =
    "The requested redirect uri is malformed or doesn't match client redirect URI.";

/// `POST /api/v1/apps`.
pub(crate) async fn register_app(
    State(sim): State<Arc<Sim>>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let name = params
        .present("client_name")
        .ok_or_else(|| ApiError::validation("Application name can't be blank"))?;
    let redirect_uris = params.words("redirect_uris");
    if redirect_uris.is_empty() {
        return Err(ApiError::validation("Redirect URI can't be blank"));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri)?;
    }
    let scopes = match params.words("scopes") {
        scopes if scopes.is_empty() => vec![DEFAULT_SCOPE.to_owned()],
        scopes => scopes,
    };
    if !scopes
        .iter()
        .all(|scope| KNOWN_SCOPES.contains(&scope.as_str()))
    {
        return Err(ApiError::validation(
            "Scopes doesn't match configured on the server.",
        ));
    }
    let website = params.present("website").map(str::to_owned);
    let app = sim
        .lock()
        .register_app(name.to_owned(), website, redirect_uris, scopes);
    Ok(Json(json!({
        "id": app.id,
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes,
        "redirect_uri": app.redirect_uris.join("\n"),
        "redirect_uris": app.redirect_uris,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "client_secret_expires_at": 0,
    })))
}

fn check_redirect_uri(uri: &str) -> Result<(), ApiError> {
    if uri == OOB_REDIRECT_URI {
        return Ok(());
    }
    match Url::parse(uri) {
        Ok(url) if url.fragment().is_some() => Err(ApiError::validation(
            "Redirect URI cannot contain a fragment.",
        )),
        Ok(_) => Ok(()),
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(ApiError::validation(
            "Redirect URI must be an absolute URI.",
        )),
        Err(_) => Err(ApiError::validation("Redirect URI must be a valid URI.")),
    }
}

/// `GET /oauth/authorize`, approved on the spot for the configured user.
///
/// Errors that cannot safely be sent to the redirect URI (unknown client,
/// unregistered redirect URI) are answered directly with 400; the rest go
/// back to the client's redirect URI, as Doorkeeper does.
pub(crate) async fn authorize(
    State(sim): State<Arc<Sim>>,
    params: Params,
) -> Result<Response, ApiError> {
    let mut state = sim.lock();
    let app = params
        .present("client_id")
        .and_then(|client_id| state.app(client_id))
        .cloned()
        .ok_or_else(|| {
            ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_client", INVALID_CLIENT)
        })?;
    let redirect_uri = params
        .present("redirect_uri")
        .ok_or_else(|| missing_parameter("redirect_uri"))?;
    if !app.redirect_uris.iter().any(|uri| uri == redirect_uri) {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            INVALID_REDIRECT_URI,
        ));
    }
    let back = Back {
        redirect_uri,
        state: params.get("state"),
    };
    match params.present("response_type") {
        None => {
            return Ok(back.error(
                "invalid_request",
                "Missing required parameter: response_type.",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Ok(back.error(
                "unsupported_response_type",
                "The authorization server does not support this response type.",
            ));
        }
    }
    let Some(scopes) = requested_scopes(params.present("scope"), &app) else {
        return Ok(back.error("invalid_scope", INVALID_SCOPE));
    };
    let code_challenge = params.present("code_challenge");
    if code_challenge.is_some() {
        match params.present("code_challenge_method") {
            None => {
                return Ok(back.error(
                    "invalid_request",
                    "Missing required parameter: code_challenge_method.",
                ));
            }
            Some("S256") => {}
            Some(_) => {
                return Ok(back.error("invalid_request", "The code challenge method must be S256."));
            }
        }
    }
    let code = random_secret();
    let account_id = state.default_account_id();
    state.codes.insert(
        code.clone(),
        AuthCode {
            client_id: app.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            account_id,
            code_challenge: code_challenge.map(str::to_owned),
            issued: Instant::now(),
        },
    );
    Ok(back.code(&code))
}

/// Where an authorization request is answered.
struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
}

impl Back<'_> {
    fn code(&self, code: &str) -> Response {
        if self.redirect_uri == OOB_REDIRECT_URI {
            // Mastodon shows out-of-band codes on a page for the user to copy.
            return Html(format!(
                "<!DOCTYPE html><html><body><p>Copy this authorization code and paste it to the application.</p>\
                 <input class=\"oauth-code\" readonly type=\"text\" value=\"{code}\"></body></html>"
            ))
            .into_response();
        }
        self.redirect(&[("code", code)])
    }

    fn error(&self, error: &str, description: &str) -> Response {
        if self.redirect_uri == OOB_REDIRECT_URI {
            return ApiError::oauth(StatusCode::BAD_REQUEST, error, description).into_response();
        }
        self.redirect(&[("error", error), ("error_description", description)])
    }

    fn redirect(&self, pairs: &[(&str, &str)]) -> Response {
        // The redirect URI was validated at registration, so it parses.
        let Ok(mut url) = Url::parse(self.redirect_uri) else {
            return ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                INVALID_REDIRECT_URI,
            )
            .into_response();
        };
        {
            let mut query = url.query_pairs_mut();
            query.extend_pairs(pairs);
            if let Some(state) = self.state {
                query.append_pair("state", state);
            }
        }
        // Doorkeeper answers 302, which `axum::response::Redirect` cannot produce.
        (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
    }
}

/// The scopes a request asks for, `None` if the app may not have them.
/// Without an explicit scope Doorkeeper grants the server default narrowed
/// to the app's scopes, which can leave nothing.
fn requested_scopes(requested: Option<&str>, app: &App) -> Option<Vec<String>> {
    let scopes: Vec<String> = match requested {
        Some(scope) => scope.split_whitespace().map(str::to_owned).collect(),
        None => app
            .scopes
            .iter()
            .filter(|scope| *scope == DEFAULT_SCOPE)
            .cloned()
            .collect(),
    };
    (!scopes.is_empty() && scopes.iter().all(|scope| app.scopes.contains(scope))).then_some(scopes)
}

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let grant_type = params
        .present("grant_type")
        .ok_or_else(|| missing_parameter("grant_type"))?;
    if !matches!(grant_type, "authorization_code" | "client_credentials") {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        ));
    }
    let mut state = sim.lock();
    let app = authenticate_client(&state, &headers, &params)?;
    let (account_id, scopes) = if grant_type == "authorization_code" {
        redeem_code(&mut state, &app, &params)?
    } else {
        let scopes = requested_scopes(params.present("scope"), &app).ok_or_else(|| {
            ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_scope", INVALID_SCOPE)
        })?;
        (None, scopes)
    };
    let (access_token, token) = state.issue_token(&app.client_id, account_id, scopes);
    Ok(Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "scope": token.scopes.join(" "),
        "created_at": token.created_at,
    })))
}

/// Checks an authorization code against the request and spends it.
/// A failed check leaves the code usable, as Doorkeeper does.
fn redeem_code(
    state: &mut Instance,
    app: &App,
    params: &Params,
) -> Result<(Option<String>, Vec<String>), ApiError> {
    let code = params
        .present("code")
        .ok_or_else(|| missing_parameter("code"))?;
    let invalid_grant = || ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", INVALID_GRANT);
    let grant = state
        .codes
        .get(code)
        .filter(|grant| grant.client_id == app.client_id)
        .filter(|grant| grant.issued.elapsed() < CODE_LIFETIME)
        .ok_or_else(invalid_grant)?;
    let redirect_uri = params
        .present("redirect_uri")
        .ok_or_else(|| missing_parameter("redirect_uri"))?;
    if redirect_uri != grant.redirect_uri {
        return Err(invalid_grant());
    }
    let verifier = params.present("code_verifier");
    let pkce_ok = match (&grant.code_challenge, verifier) {
        (None, None) => true,
        (Some(challenge), Some(verifier)) => *challenge == s256(verifier),
        // A verifier for a code issued without a challenge is as wrong as a
        // missing one: Doorkeeper compares it against nothing and fails.
        (None, Some(_)) | (Some(_), None) => false,
    };
    if !pkce_ok {
        return Err(invalid_grant());
    }
    let grant = state.codes.remove(code).ok_or_else(invalid_grant)?;
    Ok((Some(grant.account_id), grant.scopes))
}

/// PKCE's S256 transform: unpadded base64url of the verifier's SHA-256.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The app whose credentials came in the body or in HTTP Basic auth.
fn authenticate_client(
    state: &Instance,
    headers: &HeaderMap,
    params: &Params,
) -> Result<App, ApiError> {
    let (client_id, client_secret) = basic_credentials(headers)
        .or_else(|| {
            Some((
                params.present("client_id")?.to_owned(),
                params.present("client_secret")?.to_owned(),
            ))
        })
        .ok_or_else(|| {
            ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT)
        })?;
    state
        .app(&client_id)
        .filter(|app| app.client_secret == client_secret)
        .cloned()
        .ok_or_else(|| ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// `POST /oauth/revoke` (RFC 7009): unknown tokens are "revoked" too.
pub(crate) async fn revoke(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let mut state = sim.lock();
    let app = authenticate_client(&state, &headers, &params)?;
    let Some(token) = params
        .present("token")
        .and_then(|value| state.tokens.get_mut(value))
    else {
        return Ok(Json(json!({})));
    };
    if token.client_id != app.client_id {
        return Err(ApiError::oauth(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        ));
    }
    token.revoked = true;
    Ok(Json(json!({})))
}

fn missing_parameter(name: &str) -> ApiError {
    ApiError::oauth(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        format!("Missing required parameter: {name}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
