//! LinkedIn's REST conventions (version and Rest.li headers, pinned here), its error
//! envelopes, and the authenticated session of the current account.

use plugboard_sdk::http::{self, RequestBuilder, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;

/// The Marketing API version every call pins. LinkedIn retires a version about a year
/// after release; the app setting `linkedin_version` overrides it until the plugin is
/// updated.
pub const LINKEDIN_VERSION: &str = "202611";
/// Rest.li 2.0 is what the URN-in-path and JSON encodings of `/rest/` assume.
const RESTLI_PROTOCOL_VERSION: &str = "2.0.0";

pub const DEFAULT_API_URL: &str = "https://api.linkedin.com";
pub const DEFAULT_OAUTH_URL: &str = "https://www.linkedin.com";

/// The API origin: the `api_url` app setting (tests point it at a simulator) or LinkedIn.
pub fn api_url() -> Result<String, PluginError> {
    Ok(secrets::app("api_url")?
        .unwrap_or_else(|| DEFAULT_API_URL.into())
        .trim_end_matches('/')
        .to_string())
}

pub fn oauth_url() -> Result<String, PluginError> {
    Ok(secrets::app("oauth_url")?
        .unwrap_or_else(|| DEFAULT_OAUTH_URL.into())
        .trim_end_matches('/')
        .to_string())
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// URNs go into paths percent-encoded (`urn%3Ali%3Avideo%3A…`).
pub fn encode_urn(urn: &str) -> String {
    oauth::percent_encode(urn)
}

#[derive(Deserialize)]
pub struct Token {
    pub access_token: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub scope: String,
}

impl Token {
    pub fn credentials(self) -> Credentials {
        let mut values = vec![pair("access_token", self.access_token)];
        if let Some(r) = self.refresh_token {
            values.push(pair("refresh_token", r));
        }
        Credentials {
            values,
            expires_at: self.expires_in.map(|s| now() + s),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    code: Option<String>,
    message: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A refusal LinkedIn gave, in its own words, and its stable code.
pub struct Refusal {
    pub code: String,
    pub message: String,
}

pub fn refusal(resp: &Response) -> Refusal {
    let env = serde_json::from_slice::<Envelope>(&resp.body).ok();
    let code = env
        .as_ref()
        .and_then(|e| e.code.clone().or_else(|| e.error.clone()))
        .unwrap_or_default();
    let message = env
        .and_then(|e| e.message.or(e.error_description))
        .unwrap_or_else(|| format!("LinkedIn answered HTTP {}", resp.status));
    Refusal { code, message }
}

/// Maps LinkedIn's answers onto the contract's error variants.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let Refusal { code, message } = refusal(&resp);
    Err(match resp.status {
        401 => PluginError::AuthExpired(format!(
            "LinkedIn no longer accepts the access token ({code}: {message})"
        )),
        403 => PluginError::Permanent(format!(
            "LinkedIn refused: {message} (the connection lacks a permission; reconnect with the needed scopes)"
        )),
        404 => PluginError::Permanent(format!("LinkedIn could not find it: {message}")),
        426 => PluginError::Permanent(format!(
            "LinkedIn no longer serves API version {} ({message}); set the app setting `linkedin_version` or update the plugin",
            LINKEDIN_VERSION
        )),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_secs: http::retry_after(&resp).unwrap_or_else(until_midnight_utc),
            message: format!("LinkedIn throttled the request: {message}"),
        }),
        400 | 422 => invalid(
            "",
            "rejected-by-platform",
            format!("LinkedIn rejected the post: {message}"),
        ),
        _ => http::status_error(&resp, &format!("LinkedIn: {message}")),
    })
}

/// LinkedIn's daily limits reset at midnight UTC.
fn until_midnight_utc() -> u32 {
    (86_400 - now() % 86_400) as u32
}

/// The connected account's token and the author it posts as.
pub struct Session {
    pub api: String,
    pub token: String,
    pub version: String,
}

impl Session {
    pub fn current() -> Result<Session, PluginError> {
        Ok(Session {
            api: api_url()?,
            token: secrets::account_required("access_token")?,
            version: secrets::app("linkedin_version")?.unwrap_or_else(|| LINKEDIN_VERSION.into()),
        })
    }

    pub fn with_token(token: &str) -> Result<Session, PluginError> {
        Ok(Session {
            api: api_url()?,
            token: token.into(),
            version: secrets::app("linkedin_version")?.unwrap_or_else(|| LINKEDIN_VERSION.into()),
        })
    }

    /// A `/rest/` request with the bearer token and the pinned version headers.
    pub fn rest(&self, req: RequestBuilder) -> RequestBuilder {
        req.bearer(&self.token)
            .header("Linkedin-Version", &self.version)
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION)
    }

    pub fn get(&self, path: &str) -> Result<Response, PluginError> {
        self.rest(http::get(&format!("{}{path}", self.api))).send()
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Response, PluginError> {
        self.rest(http::post(&format!("{}{path}", self.api)).json(body))
            .send()
    }
}
