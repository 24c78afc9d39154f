//! The Graph API as this plugin speaks it: which login the app uses and the hosts that
//! follow from it (each overridable by an app setting so tests reach a simulator), token +
//! `appsecret_proof` on every call, and Graph's error envelope mapped onto the contract's
//! error variants.

use plugboard_sdk::http::{self, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

/// The one Graph API version this plugin speaks.
pub const VERSION: &str = "v25.0";

/// Which login the app was registered for (app setting `login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Instagram Login: graph.instagram.com, `instagram_business_*` scopes.
    Instagram,
    /// Facebook Login: graph.facebook.com, an Instagram account linked to a Page.
    Facebook,
}

impl Login {
    pub fn current() -> Result<Login, PluginError> {
        match secrets::app("login")?.as_deref() {
            None | Some("" | "instagram") => Ok(Login::Instagram),
            Some("facebook") => Ok(Login::Facebook),
            Some(other) => Err(PluginError::Permanent(format!(
                "the app setting login is '{other}'; use 'instagram' or 'facebook'"
            ))),
        }
    }
}

fn setting_or(name: &str, fallback: Option<String>, real: &str) -> Result<String, PluginError> {
    let url = secrets::app(name)?
        .or(fallback)
        .unwrap_or_else(|| real.to_string());
    Ok(url.trim_end_matches('/').to_string())
}

/// `graph_url` setting, else graph.instagram.com or graph.facebook.com.
pub fn graph_base(login: Login) -> Result<String, PluginError> {
    let real = match login {
        Login::Instagram => "https://graph.instagram.com",
        Login::Facebook => "https://graph.facebook.com",
    };
    setting_or("graph_url", None, real)
}

/// `api_url` setting (Instagram's code exchange), else the `graph_url` override, else
/// api.instagram.com.
pub fn api_base() -> Result<String, PluginError> {
    setting_or(
        "api_url",
        secrets::app("graph_url")?,
        "https://api.instagram.com",
    )
}

/// `www_url` setting (the login page), else the `graph_url` override, else the real host.
pub fn www_base(login: Login) -> Result<String, PluginError> {
    let real = match login {
        Login::Instagram => "https://www.instagram.com",
        Login::Facebook => "https://www.facebook.com",
    };
    setting_or("www_url", secrets::app("graph_url")?, real)
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

    pub fn account() -> Result<Auth, PluginError> {
        Auth::new(secrets::account_required("access_token")?)
    }

    fn params<'a>(&'a self, extra: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all: Vec<(&str, &str)> = extra.to_vec();
        all.push(("access_token", &self.token));
        all.push(("appsecret_proof", &self.proof));
        all
    }

    pub fn get(&self, url: &str, query: &[(&str, &str)]) -> Result<Value, PluginError> {
        check(http::get(url).query(&self.params(query)).send()?)?.json()
    }

    pub fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<Value, PluginError> {
        check(self.post_response(url, form)?)?.json()
    }

    /// The answer unchecked, for callers that act on particular errors.
    pub fn post_response(&self, url: &str, form: &[(&str, &str)]) -> Result<Response, PluginError> {
        http::post(url).form(&self.params(form)).send()
    }
}

/// Graph's error, when the answer carries one.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: i64,
    pub error_subcode: Option<i64>,
    pub error_user_msg: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

/// api.instagram.com's own envelope.
#[derive(Deserialize)]
struct ApiEnvelope {
    error_message: String,
}

/// The Graph error of a failed answer, if it is one.
pub fn graph_error(resp: &Response) -> Option<GraphError> {
    serde_json::from_slice::<Envelope>(&resp.body)
        .ok()
        .map(|e| e.error)
}

/// Passes 2xx through; maps Graph's (or api.instagram.com's) error envelope otherwise.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let Some(error) = graph_error(&resp) else {
        if let Ok(api) = serde_json::from_slice::<ApiEnvelope>(&resp.body) {
            return Err(PluginError::Permanent(format!(
                "Instagram refused the login: {}",
                api.error_message
            )));
        }
        return Err(http::status_error(
            &resp,
            &format!("Instagram answered HTTP {}", resp.status),
        ));
    };
    let text = match (&error.error_user_msg, error.error_subcode) {
        (Some(user), _) => format!("{} ({user})", error.message),
        (None, Some(sub)) => format!("{} (code {}, subcode {sub})", error.message, error.code),
        (None, None) => format!("{} (code {})", error.message, error.code),
    };
    Err(match (error.code, error.error_subcode) {
        (190 | 102, _) => {
            PluginError::AuthExpired(format!("Instagram no longer accepts the token: {text}"))
        }
        (9, Some(2_207_042)) => PluginError::RateLimited(RateLimit {
            retry_after_secs: 3600,
            message: format!("Instagram's 24-hour publishing quota is used up: {text}"),
        }),
        (4 | 17 | 32 | 613 | 80_002, _) => PluginError::RateLimited(RateLimit {
            retry_after_secs: regain_secs(&resp).unwrap_or(if error.code == 4 {
                3600
            } else {
                600
            }),
            message: format!("Instagram throttled the calls: {text}"),
        }),
        (9007, Some(2_207_027)) => {
            PluginError::Transient(format!("Instagram is still processing the media: {text}"))
        }
        (10 | 200..=299, _) => PluginError::Permanent(format!(
            "Instagram refused for a missing permission: {text}; reconnect and grant it"
        )),
        (100 | 9004 | 9007 | 36_000..=36_999 | 2_207_026, _) => invalid(
            "",
            "rejected-by-platform",
            format!("Instagram rejected the post: {text}"),
        ),
        (1 | 2, _) => PluginError::Transient(format!("Instagram had a temporary problem: {text}")),
        _ if resp.status >= 500 => PluginError::Transient(format!("Instagram: {text}")),
        _ => PluginError::Permanent(format!("Instagram: {text}")),
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

/// `YYYY-MM-DDTHH:MM:SS…` (Graph's `timestamp`) to Unix seconds.
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

/// A string (or numeric) field of a Graph answer, or a transient error naming it.
pub fn field(v: &Value, name: &str) -> Result<String, PluginError> {
    match &v[name] {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PluginError::Transient(format!(
            "Instagram's answer has no '{name}': {v}"
        ))),
    }
}
