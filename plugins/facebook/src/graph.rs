//! The Graph API as this plugin speaks it: base URLs (overridable by app settings so tests
//! reach a simulator), token + `appsecret_proof` on every call, and Graph's error envelope
//! mapped onto the contract's error variants.

use plugboard_sdk::http::{self, RequestBuilder, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

/// The one Graph API version this plugin speaks.
pub const VERSION: &str = "v25.0";

/// `graph_url` setting, else the real host.
pub fn graph_base() -> Result<String, PluginError> {
    Ok(secrets::app("graph_url")?
        .unwrap_or_else(|| "https://graph.facebook.com".into())
        .trim_end_matches('/')
        .to_string())
}

/// `graph_video_url` setting, else the `graph_url` override, else the real video host.
pub fn video_base() -> Result<String, PluginError> {
    let url = match (secrets::app("graph_video_url")?, secrets::app("graph_url")?) {
        (Some(v), _) | (None, Some(v)) => v,
        (None, None) => "https://graph-video.facebook.com".into(),
    };
    Ok(url.trim_end_matches('/').to_string())
}

/// `www_url` setting (the login dialog), else the `graph_url` override, else the real host.
pub fn www_base() -> Result<String, PluginError> {
    let url = match (secrets::app("www_url")?, secrets::app("graph_url")?) {
        (Some(v), _) | (None, Some(v)) => v,
        (None, None) => "https://www.facebook.com".into(),
    };
    Ok(url.trim_end_matches('/').to_string())
}

/// `{base}/{VERSION}{path}`.
pub fn url(base: &str, path: &str) -> String {
    format!("{base}/{VERSION}{path}")
}

/// A token with its proof.
pub struct Auth {
    pub token: String,
    proof: String,
}

impl Auth {
    pub fn new(token: String) -> Result<Auth, PluginError> {
        let secret = secrets::app_required("client_secret")?;
        let proof = oauth::hmac_sha256_hex(secret.as_bytes(), token.as_bytes());
        Ok(Auth { token, proof })
    }

    /// The current account's `access_token` (the Page token for a Page).
    pub fn account() -> Result<Auth, PluginError> {
        Auth::new(secrets::account_required("access_token")?)
    }

    /// The user token a Page was connected with (uploads, refresh).
    pub fn user() -> Result<Auth, PluginError> {
        Auth::new(secrets::account_required("user_access_token")?)
    }

    fn params<'a>(&'a self, extra: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all: Vec<(&str, &str)> = extra.to_vec();
        all.push(("access_token", &self.token));
        all.push(("appsecret_proof", &self.proof));
        all
    }

    pub fn get(&self, url: &str, query: &[(&str, &str)]) -> Result<Value, PluginError> {
        json(check(http::get(url).query(&self.params(query)).send()?)?)
    }

    pub fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<Value, PluginError> {
        json(check(http::post(url).form(&self.params(form)).send()?)?)
    }

    pub fn delete(&self, url: &str) -> Result<Value, PluginError> {
        json(check(http::delete(url).query(&self.params(&[])).send()?)?)
    }

    /// `Authorization: OAuth <token>` on a raw request (upload endpoints).
    pub fn oauth_header(&self, req: RequestBuilder) -> RequestBuilder {
        req.header("Authorization", &format!("OAuth {}", self.token))
    }
}

pub fn json(resp: Response) -> Result<Value, PluginError> {
    resp.json()
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i64,
    error_subcode: Option<i64>,
    error_user_msg: Option<String>,
}

/// Passes 2xx through; maps Graph's error envelope (or rupload's `debug_info`) otherwise.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(&resp.body) else {
        let detail = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v["debug_info"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {}", resp.status));
        return Err(match resp.status {
            400 => invalid(
                "media",
                "rejected-by-platform",
                format!("Facebook refused the upload: {detail}"),
            ),
            _ => http::status_error(&resp, &format!("Facebook: {detail}")),
        });
    };
    let text = match (&error.error_user_msg, error.error_subcode) {
        (Some(user), _) => format!("{} ({user})", error.message),
        (None, Some(sub)) => format!("{} (code {}, subcode {sub})", error.message, error.code),
        (None, None) => format!("{} (code {})", error.message, error.code),
    };
    Err(match error.code {
        190 | 102 => {
            PluginError::AuthExpired(format!("Facebook no longer accepts the token: {text}"))
        }
        4 | 17 | 32 | 613 | 80001..=80014 => PluginError::RateLimited(RateLimit {
            retry_after_secs: regain_secs(&resp).unwrap_or(if error.code == 4 {
                3600
            } else {
                600
            }),
            message: format!("Facebook throttled the calls: {text}"),
        }),
        10 | 200..=299 => PluginError::Permanent(format!(
            "Facebook refused for missing permission: {text}; reconnect and grant it"
        )),
        100 | 324 | 352 | 390 | 506 | 1_609_005 => invalid(
            "",
            "rejected-by-platform",
            format!("Facebook rejected the post: {text}"),
        ),
        1 | 2 | 6000 => PluginError::Transient(format!("Facebook had a temporary problem: {text}")),
        _ if resp.status >= 500 => PluginError::Transient(format!("Facebook: {text}")),
        _ => PluginError::Permanent(format!("Facebook: {text}")),
    })
}

/// The longest `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`.
pub fn regain_secs(resp: &Response) -> Option<u32> {
    let usage: Value = serde_json::from_str(resp.header("x-business-use-case-usage")?).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|e| e["estimated_time_to_regain_access"].as_u64())
        .max()?;
    Some(u32::try_from(minutes.max(1) * 60).unwrap_or(u32::MAX))
}

/// `YYYY-MM-DDTHH:MM:SS…` (Graph's `created_time`) to Unix seconds.
pub fn iso_to_unix(s: &str) -> Option<u64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if mo <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se).ok()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A string field of a Graph answer, or a transient error naming it.
pub fn field(v: &Value, name: &str) -> Result<String, PluginError> {
    match &v[name] {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PluginError::Transient(format!(
            "Facebook's answer has no '{name}': {v}"
        ))),
    }
}
