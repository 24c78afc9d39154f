//! Who a request acts for: an OAuth 2.0 user token (`Authorization: Bearer`) or an OAuth
//! 1.0a signed request (`Authorization: OAuth …`), whose HMAC-SHA1 signature is recomputed
//! here independently of any client library (RFC 5849 §3.4).

use std::collections::BTreeMap;
use std::time::Instant;

use axum::http::{HeaderMap, Method, Uri, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use super::error::ApiError;
use super::state::{Sim, State};

/// How far an OAuth 1.0a timestamp may be from the simulator's clock.
const TIMESTAMP_SKEW_SECS: i64 = 300;

/// A request as the signature sees it.
pub(crate) struct Signed<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Checks the request's credentials and that they carry every scope in `needed` (OAuth
/// 1.0a user tokens carry the app's full permissions).
pub(crate) fn authenticate(
    sim: &Sim,
    state: &mut State,
    request: &Signed<'_>,
    needed: &[&str],
) -> Result<(), ApiError> {
    let value = request
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        let token = state
            .tokens
            .get(token.trim())
            .ok_or_else(ApiError::unauthorized)?;
        if token.revoked || token.expires <= Instant::now() {
            return Err(ApiError::unauthorized());
        }
        if let Some(missing) = needed
            .iter()
            .find(|s| !token.scopes.iter().any(|t| t == *s))
        {
            return Err(ApiError::forbidden(&format!(
                "Missing scope `{missing}`: the token does not permit this request"
            )));
        }
        return Ok(());
    }
    if value.starts_with("OAuth ") {
        let params = oauth_params(value).ok_or_else(ApiError::unauthorized)?;
        let token = params
            .get("oauth_token")
            .ok_or_else(ApiError::unauthorized)?;
        let secret = state
            .oauth1_tokens
            .get(token)
            .cloned()
            .ok_or_else(ApiError::unauthorized)?;
        return verify(sim, state, request, &params, &secret).map_err(|_| ApiError::unauthorized());
    }
    Err(ApiError::unauthorized())
}

/// The `oauth_*` parameters of an `Authorization: OAuth` header, percent-decoded.
pub(crate) fn oauth_params(value: &str) -> Option<BTreeMap<String, String>> {
    let rest = value.strip_prefix("OAuth ")?;
    let mut params = BTreeMap::new();
    for field in rest.split(',') {
        let (key, quoted) = field.trim().split_once('=')?;
        let raw = quoted.strip_prefix('"')?.strip_suffix('"')?;
        let decoded = percent_decode(raw)?;
        params.insert(percent_decode(key)?, decoded);
    }
    Some(params)
}

/// Checks consumer key, method, timestamp window, nonce freshness and the signature, with
/// `token_secret` as the second half of the key ("" before a token exists).
pub(crate) fn verify(
    sim: &Sim,
    state: &mut State,
    request: &Signed<'_>,
    params: &BTreeMap<String, String>,
    token_secret: &str,
) -> Result<(), ApiError> {
    let bad = || ApiError::oauth1(32, "Could not authenticate you.");
    if params.get("oauth_consumer_key") != Some(&sim.config.consumer_key)
        || params.get("oauth_signature_method").map(String::as_str) != Some("HMAC-SHA1")
        || params
            .get("oauth_version")
            .is_some_and(|v| v.as_str() != "1.0")
    {
        return Err(bad());
    }
    let timestamp = params.get("oauth_timestamp").ok_or_else(bad)?;
    let nonce = params.get("oauth_nonce").ok_or_else(bad)?;
    let at: i64 = timestamp.parse().map_err(|_| bad())?;
    if (chrono::Utc::now().timestamp() - at).abs() > TIMESTAMP_SKEW_SECS {
        return Err(ApiError::oauth1(135, "Timestamp out of bounds."));
    }
    let signature = params.get("oauth_signature").ok_or_else(bad)?;
    let given = STANDARD.decode(signature).map_err(|_| bad())?;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(
        format!(
            "{}&{}",
            encode(&sim.config.consumer_secret),
            encode(token_secret)
        )
        .as_bytes(),
    )
    .map_err(|_| bad())?;
    mac.update(base_string(sim, request, params).as_bytes());
    mac.verify_slice(&given).map_err(|_| bad())?;
    if !state.nonces.insert((timestamp.clone(), nonce.clone())) {
        return Err(bad());
    }
    Ok(())
}

/// `METHOD&pct(url)&pct(sorted params)` over the query, a form body and the protocol
/// parameters (JSON and multipart bodies are not signed).
fn base_string(sim: &Sim, request: &Signed<'_>, oauth: &BTreeMap<String, String>) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(query) = request.uri.query() {
        pairs.extend(url::form_urlencoded::parse(query.as_bytes()).into_owned());
    }
    let form = request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form {
        pairs.extend(url::form_urlencoded::parse(request.body).into_owned());
    }
    pairs.extend(
        oauth
            .iter()
            .filter(|(k, _)| k.as_str() != "oauth_signature")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let mut encoded: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let joined: Vec<String> = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}&{}&{}",
        request.method.as_str().to_ascii_uppercase(),
        encode(&format!("{}{}", sim.base_url, request.uri.path())),
        encode(&joined.join("&"))
    )
}

/// RFC 3986 percent-encoding: only unreserved characters stay.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x::XConfig;

    /// The worked example of X's "Creating a signature" page, recomputed here.
    #[test]
    fn signature_matches_the_documented_example() {
        let sim = Sim::new(
            XConfig {
                consumer_key: "xvz1evFS4wEEPTGEFPHBog".into(),
                consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw".into(),
                ..XConfig::default()
            },
            "https://api.twitter.com".into(),
        );
        let uri: Uri = "/1.1/statuses/update.json?include_entities=true"
            .parse()
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let body = b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21";
        let params: BTreeMap<String, String> = [
            ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
            ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1318622958"),
            (
                "oauth_token",
                "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            ),
            ("oauth_version", "1.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let request = Signed {
            method: &Method::POST,
            uri: &uri,
            headers: &headers,
            body,
        };
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(
            b"kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw&LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        )
        .unwrap();
        mac.update(base_string(&sim, &request, &params).as_bytes());
        assert_eq!(
            STANDARD.encode(mac.finalize().into_bytes()),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
        );
    }
}
