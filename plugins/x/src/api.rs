//! The app settings, the authenticated session (OAuth 2.0 bearer or OAuth 1.0a signed) and
//! X's error envelopes mapped onto the contract.

use plugboard_sdk::http::{Method, RequestBuilder, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;

pub const API_URL: &str = "https://api.x.com";
pub const WEB_URL: &str = "https://x.com";

/// The API base: the `api_url` setting (tests point it at a simulator) or X's.
pub fn api_url() -> Result<String, PluginError> {
    Ok(secrets::app("api_url")?
        .unwrap_or_else(|| API_URL.into())
        .trim_end_matches('/')
        .to_string())
}

/// The consent pages' base: the `web_url` setting or X's.
pub fn web_url() -> Result<String, PluginError> {
    Ok(secrets::app("web_url")?
        .unwrap_or_else(|| WEB_URL.into())
        .trim_end_matches('/')
        .to_string())
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The OAuth 1.0a consumer, when the app is configured for it.
pub struct Consumer {
    pub key: String,
    pub secret: String,
}

impl Consumer {
    pub fn configured() -> Result<Option<Consumer>, PluginError> {
        match (
            secrets::app("consumer_key")?,
            secrets::app("consumer_secret")?,
        ) {
            (Some(key), Some(secret)) => Ok(Some(Consumer { key, secret })),
            (Some(_), None) => Err(PluginError::Permanent(
                "the X app has a consumer_key but no consumer_secret; set both in the app settings"
                    .into(),
            )),
            _ => Ok(None),
        }
    }

    /// The `Authorization` header of a request signed with this consumer and `token`.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        form: &[(String, String)],
        token: Option<(&str, &str)>,
        extra: &[(&str, &str)],
    ) -> String {
        let signer = oauth::OAuth1 {
            consumer_key: &self.key,
            consumer_secret: &self.secret,
            token: token.map(|t| t.0),
            token_secret: token.map(|t| t.1),
        };
        let nonce = oauth::random_token(16);
        signer.authorization_with(method, url, form, &nonce, &now().to_string(), extra)
    }
}

/// How the connected account authenticates.
pub enum Session {
    Bearer(String),
    OAuth1 {
        consumer: Consumer,
        token: String,
        secret: String,
    },
}

impl Session {
    /// The current account's credentials: an OAuth 1.0a token pair if it has one, else
    /// its OAuth 2.0 access token.
    pub fn current() -> Result<Session, PluginError> {
        if let Some(secret) = secrets::account("oauth_token_secret")? {
            let consumer = Consumer::configured()?.ok_or_else(|| {
                PluginError::Permanent(
                    "the account was connected with OAuth 1.0a but the X app has no consumer_key"
                        .into(),
                )
            })?;
            return Ok(Session::OAuth1 {
                consumer,
                token: secrets::account_required("oauth_token")?,
                secret,
            });
        }
        Ok(Session::Bearer(secrets::account_required("access_token")?))
    }

    /// Sends `builder` for `method url` (the URL with its query, as signed); `form` are the
    /// form-body parameters, which OAuth 1.0a signs too.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        form: &[(String, String)],
        builder: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, PluginError> {
        let auth = match self {
            Session::Bearer(token) => format!("Bearer {token}"),
            Session::OAuth1 {
                consumer,
                token,
                secret,
            } => consumer.sign(method_name(&method), url, form, Some((token, secret)), &[]),
        };
        builder(http::request(method, url).header("Authorization", &auth)).send()
    }

    pub fn get(&self, url: &str) -> Result<Response, PluginError> {
        self.send(Method::Get, url, &[], |b| b)
    }

    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Response, PluginError> {
        self.send(Method::Post, url, &[], |b| b.json(body))
    }
}

fn method_name(method: &Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
    }
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    message: String,
}

/// X's own words from any of its envelopes.
fn message(resp: &Response) -> String {
    let body: ErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
    let items: Vec<String> = body
        .errors
        .into_iter()
        .map(|e| e.message)
        .filter(|m| !m.is_empty())
        .collect();
    if !items.is_empty() {
        return items.join("; ");
    }
    body.error_description
        .or(body.detail)
        .or(body.title)
        .or(body.error.map(|e| e.to_string()))
        .unwrap_or_else(|| format!("HTTP {}", resp.status))
}

/// Passes 2xx through and maps X's refusals onto the contract: 401 → auth expired, 429 →
/// rate limited until `x-rate-limit-reset`, 400 and content 403s → invalid content, 5xx →
/// transient.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let text = message(&resp);
    Err(match resp.status {
        401 => PluginError::AuthExpired(format!("X refused the credentials: {text}")),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_secs: retry_after(&resp),
            message: format!("X: {text}"),
        }),
        400 => invalid(
            "",
            "rejected-by-platform",
            format!("X refused the post: {text}"),
        ),
        403 if text.contains("duplicate") => {
            invalid("text", "duplicate", format!("X refused the post: {text}"))
        }
        403 if text.contains("too long") => invalid(
            "text",
            "text-too-long",
            format!("X refused the post: {text}"),
        ),
        408 | 500..=599 => PluginError::Transient(format!("X answered {}: {text}", resp.status)),
        _ => PluginError::Permanent(format!("X answered {}: {text}", resp.status)),
    })
}

/// Seconds until the window resets, from `x-rate-limit-reset` (epoch seconds), else
/// `Retry-After`, else a 15-minute window.
pub fn retry_after(resp: &Response) -> u32 {
    if let Some(reset) = resp
        .header("x-rate-limit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return u32::try_from(reset.saturating_sub(now()).max(1)).unwrap_or(u32::MAX);
    }
    http::retry_after(resp).unwrap_or(900)
}

#[derive(Deserialize)]
pub struct Data<T> {
    pub data: T,
}

#[derive(Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub username: String,
}

#[derive(Deserialize)]
pub struct Tweet {
    pub id: String,
    #[serde(default)]
    pub text: String,
}

#[derive(Deserialize)]
pub struct Timeline {
    #[serde(default)]
    pub data: Vec<Tweet>,
}

#[derive(Deserialize)]
pub struct Token {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
}

#[derive(Deserialize)]
pub struct MediaUpload {
    pub id: String,
    pub processing_info: Option<ProcessingInfo>,
}

#[derive(Deserialize)]
pub struct ProcessingInfo {
    pub state: String,
    pub check_after_secs: Option<u32>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}
