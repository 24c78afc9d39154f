//! The Graph API as this plugin speaks it: base URLs (overridable by app settings so tests
//! reach a simulator), token + `appsecret_proof` on every call, and Graph's error envelope
//! mapped onto the contract's error variants.

use plugboard_sdk::http::{self, RequestBuilder, Response};
use plugboard_sdk::prelude::*;
use serde_json::Value;

use metagraph::graph::regain_secs;
pub use metagraph::graph::{graph_error, iso_to_unix, now, url};

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

/// A token with its proof.
pub struct Auth {
    pub token: String,
    proof: String,
}

impl Auth {
    pub fn new(token: String) -> Result<Auth, PluginError> {
        let secret = secrets::app_required("client_secret")?;
        let proof = metagraph::graph::appsecret_proof(&secret, &token);
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

/// Passes 2xx through; maps Graph's error envelope (or rupload's `debug_info`) otherwise.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let Some(error) = graph_error(&resp) else {
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
    let text = error.text();
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

/// A string (or numeric) field of a Graph answer, or a transient error naming it.
pub fn field(v: &Value, name: &str) -> Result<String, PluginError> {
    metagraph::graph::field(v, name, "Facebook")
}
