//! Settings, the `{"data","error"}` envelope and its error codes mapped onto the contract.

use plugboard_sdk::http::Response;
use plugboard_sdk::prelude::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub const API_URL: &str = "https://open.tiktokapis.com";
pub const AUTH_URL: &str = "https://www.tiktok.com";

fn setting(name: &str, default: &str) -> Result<String, PluginError> {
    Ok(secrets::app(name)?
        .unwrap_or_else(|| default.into())
        .trim_end_matches('/')
        .to_string())
}

/// The API base (`api_url` setting, for simulators) or TikTok's.
pub fn api_url() -> Result<String, PluginError> {
    setting("api_url", API_URL)
}

/// The consent page's base (`auth_url` setting) or TikTok's.
pub fn auth_url() -> Result<String, PluginError> {
    setting("auth_url", AUTH_URL)
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Deserialize, Default)]
struct ErrorField {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    #[serde(default)]
    error: ErrorField,
}

/// POSTs JSON with the account's token and unwraps `data`.
pub fn call<T: DeserializeOwned>(path: &str, body: &serde_json::Value) -> Result<T, PluginError> {
    let token = secrets::account_required("access_token")?;
    let resp = http::post(&format!("{}{path}", api_url()?))
        .bearer(&token)
        .bytes(
            "application/json; charset=UTF-8",
            serde_json::to_vec(body).map_err(|e| PluginError::Permanent(e.to_string()))?,
        )
        .send()?;
    unwrap(resp)
}

pub fn unwrap<T: DeserializeOwned>(resp: Response) -> Result<T, PluginError> {
    let envelope: Option<Envelope<T>> = serde_json::from_slice(&resp.body).ok();
    let (code, message) = match &envelope {
        Some(e) => (e.error.code.clone(), e.error.message.clone()),
        None => (String::new(), resp.text()),
    };
    if resp.is_success() && (code == "ok" || code.is_empty()) {
        return envelope.and_then(|e| e.data).ok_or_else(|| {
            PluginError::Transient(format!("TikTok answered {} without data", resp.status))
        });
    }
    Err(error(&resp, &code, &message))
}

/// TikTok's error codes onto the contract's variants.
pub fn error(resp: &Response, code: &str, message: &str) -> PluginError {
    let text = format!("TikTok: {code}: {message}");
    match code {
        "access_token_invalid" => PluginError::AuthExpired(text),
        "rate_limit_exceeded" => PluginError::RateLimited(RateLimit {
            retry_after_secs: http::retry_after(resp).unwrap_or(60),
            message: text,
        }),
        "unaudited_client_can_only_post_to_private_accounts" => invalid(
            "options.privacy_level",
            "unaudited-app",
            "This TikTok app is not audited yet, so TikTok only accepts posts visible to the creator alone (privacy_level SELF_ONLY)",
        ),
        "privacy_level_option_mismatch" => invalid(
            "options.privacy_level",
            "privacy-not-allowed",
            format!("TikTok refused the privacy level: {message}"),
        ),
        "invalid_params"
        | "spam_risk_too_many_posts"
        | "spam_risk_user_banned_from_posting"
        | "spam_risk_too_many_pending_share"
        | "url_ownership_unverified" => invalid("", code, text),
        _ => match resp.status {
            401 => PluginError::AuthExpired(text),
            429 => PluginError::RateLimited(RateLimit {
                retry_after_secs: http::retry_after(resp).unwrap_or(60),
                message: text,
            }),
            408 | 416 | 500..=599 => PluginError::Transient(text),
            _ => PluginError::Permanent(text),
        },
    }
}

#[derive(Deserialize)]
pub struct CreatorInfo {
    pub creator_username: String,
    pub creator_nickname: String,
    pub creator_avatar_url: Option<String>,
    pub privacy_level_options: Vec<String>,
    pub max_video_post_duration_sec: u64,
}

#[derive(Deserialize)]
pub struct Token {
    pub open_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

#[derive(Deserialize)]
pub struct Init {
    pub publish_id: String,
    pub upload_url: Option<String>,
}

#[derive(Deserialize)]
pub struct Status {
    pub status: String,
    pub fail_reason: Option<String>,
    #[serde(default)]
    pub publicaly_available_post_id: Vec<serde_json::Value>,
}
