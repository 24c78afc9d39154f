//! Mastodon's wire types, error envelope and the authenticated session.

use plugboard_sdk::http::{self, RequestBuilder, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Token {
    pub access_token: String,
}

#[derive(Deserialize)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub acct: String,
    #[serde(default)]
    pub display_name: String,
    pub avatar: Option<String>,
    #[serde(default)]
    pub followers_count: u64,
    #[serde(default)]
    pub following_count: u64,
    #[serde(default)]
    pub statuses_count: u64,
}

impl Account {
    /// The name people see: the display name, else the handle.
    pub fn shown_name(&self) -> String {
        if self.display_name.is_empty() {
            self.acct.clone()
        } else {
            self.display_name.clone()
        }
    }
}

#[derive(Deserialize)]
pub struct MediaAttachment {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Deserialize)]
pub struct Status {
    pub id: String,
    pub url: Option<String>,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub created_at: String,
    pub in_reply_to_id: Option<String>,
    pub account: Option<Account>,
    #[serde(default)]
    pub replies_count: u64,
    #[serde(default)]
    pub reblogs_count: u64,
    #[serde(default)]
    pub favourites_count: u64,
}

/// `GET /api/v1/statuses/:id/context`.
#[derive(Deserialize)]
pub struct Context {
    #[serde(default)]
    pub descendants: Vec<Status>,
}

#[derive(Deserialize, Default)]
pub struct Instance {
    #[serde(default)]
    pub configuration: InstanceConfiguration,
}

#[derive(Deserialize, Default)]
pub struct InstanceConfiguration {
    #[serde(default)]
    pub statuses: StatusConfiguration,
    #[serde(default)]
    pub media_attachments: MediaConfiguration,
}

#[derive(Deserialize, Default)]
pub struct StatusConfiguration {
    pub max_characters: Option<u32>,
    pub max_media_attachments: Option<u32>,
    pub characters_reserved_per_url: Option<u32>,
}

#[derive(Deserialize, Default)]
pub struct MediaConfiguration {
    pub image_size_limit: Option<u64>,
    pub video_size_limit: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: String,
    error_description: Option<String>,
}

/// Maps Mastodon's `{"error": …}` envelope onto the contract's error variants.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let message = serde_json::from_slice::<ErrorEnvelope>(&resp.body)
        .map(|e| match e.error_description {
            Some(d) => format!("{}: {d}", e.error),
            None => e.error,
        })
        .unwrap_or_else(|_| format!("Mastodon answered HTTP {}", resp.status));
    Err(match resp.status {
        401 => PluginError::AuthExpired(format!(
            "Mastodon no longer accepts the access token ({message}); reconnect the account"
        )),
        403 => PluginError::Permanent(format!(
            "Mastodon refused: {message} (reconnect to grant the missing permission)"
        )),
        404 => PluginError::Permanent(format!("Mastodon could not find it: {message}")),
        422 => invalid(
            "",
            "rejected-by-platform",
            format!("Mastodon rejected the post: {message}"),
        ),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_secs: reset_in(&resp).unwrap_or(300),
            message: format!("Mastodon's rate limit was reached: {message}"),
        }),
        _ => http::status_error(&resp, &format!("Mastodon: {message}")),
    })
}

/// Seconds until `X-RateLimit-Reset` (an ISO 8601 time), measured against `Date`.
fn reset_in(resp: &Response) -> Option<u32> {
    let reset = iso_to_unix(resp.header("x-ratelimit-reset")?)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some((reset - now).clamp(1, 86_400) as u32)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` to Unix seconds (the only form Mastodon sends).
pub fn iso_to_unix(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

/// The OAuth app of an instance: configured by the operator/workspace, or registered on the
/// fly (`POST /api/v1/apps`) and remembered in plugin storage.
pub struct App {
    pub instance: String,
    pub client_id: String,
    pub client_secret: String,
}

pub fn app_credentials(redirect_uri: &str) -> Result<App, PluginError> {
    let instance = secrets::app_required("instance_url")?
        .trim_end_matches('/')
        .to_string();
    if let (Some(id), Some(secret)) = (secrets::app("client_id")?, secrets::app("client_secret")?) {
        return Ok(App {
            instance,
            client_id: id,
            client_secret: secret,
        });
    }
    let key = format!("app:{instance}:{redirect_uri}");
    if let Some(saved) = storage::get_string(&key)?
        && let Some((id, secret)) = saved.split_once('\n')
    {
        return Ok(App {
            instance,
            client_id: id.into(),
            client_secret: secret.into(),
        });
    }
    #[derive(Deserialize)]
    struct Registered {
        client_id: String,
        client_secret: String,
    }
    let reg: Registered = check(
        http::post(&format!("{instance}/api/v1/apps"))
            .form(&[
                ("client_name", "Plugboard"),
                ("redirect_uris", redirect_uri),
                ("scopes", super::SCOPES.join(" ").as_str()),
            ])
            .send()?,
    )?
    .json()?;
    let value = format!("{}\n{}", reg.client_id, reg.client_secret);
    // Two connections racing: the first registration wins, the other is discarded.
    if !storage::compare_and_swap(&key, None, value.as_bytes()).map_err(storage::to_plugin_error)? {
        return app_credentials(redirect_uri);
    }
    Ok(App {
        instance,
        client_id: reg.client_id,
        client_secret: reg.client_secret,
    })
}

/// App credentials for an account's instance (revocation needs them).
pub fn app_credentials_for(instance: &str) -> Result<App, PluginError> {
    if let (Some(id), Some(secret)) = (secrets::app("client_id")?, secrets::app("client_secret")?) {
        return Ok(App {
            instance: instance.into(),
            client_id: id,
            client_secret: secret,
        });
    }
    let prefix = format!("app:{instance}:");
    let keys = storage::list_keys(&prefix).map_err(storage::to_plugin_error)?;
    let saved = match keys.first() {
        Some(k) => storage::get_string(k)?,
        None => None,
    };
    let (id, secret) = saved
        .as_deref()
        .and_then(|s| s.split_once('\n'))
        .ok_or_else(|| PluginError::Permanent(format!("no OAuth app is known for {instance}")))?;
    Ok(App {
        instance: instance.into(),
        client_id: id.into(),
        client_secret: secret.into(),
    })
}

/// The connected account's instance and token.
pub struct Session {
    pub instance: String,
    token: String,
}

impl Session {
    pub fn current() -> Result<Session, PluginError> {
        Ok(Session {
            instance: secrets::account_required("instance_url")?,
            token: secrets::account_required("access_token")?,
        })
    }

    pub fn request(&self, req: RequestBuilder) -> Result<Response, PluginError> {
        req.bearer(&self.token).send()
    }

    pub fn get(&self, path: &str) -> Result<Response, PluginError> {
        self.request(http::get(&format!("{}{path}", self.instance)))
    }

    pub fn delete(&self, path: &str) -> Result<Response, PluginError> {
        self.request(http::delete(&format!("{}{path}", self.instance)))
    }
}

/// Escapes text the way Mastodon renders plain statuses into HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Text of rendered status HTML, with tags removed and whitespace folded, for comparison.
pub fn plain_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_times() {
        assert_eq!(super::iso_to_unix("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            super::iso_to_unix("2026-11-22T01:02:03.000Z"),
            Some(1_795_309_323)
        );
    }
}
