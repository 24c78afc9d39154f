//! The Graph session (host, version, token), Threads' wire types and the Graph
//! error envelope mapped onto the contract's errors.

use plugboard_sdk::http::{self, RequestBuilder, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;

/// The Graph version this plugin speaks, pinned in one place.
pub const VERSION: &str = "v1.0";
pub const DEFAULT_GRAPH: &str = "https://graph.threads.net";
pub const DEFAULT_AUTHORIZE: &str = "https://threads.net/oauth/authorize";

/// The Graph host: the app's `graph_url` setting (tests point it at a simulator).
pub fn graph_url() -> Result<String, PluginError> {
    Ok(secrets::app("graph_url")?
        .unwrap_or_else(|| DEFAULT_GRAPH.to_string())
        .trim_end_matches('/')
        .to_string())
}

/// An authenticated Graph client for the current account.
pub struct Session {
    pub graph: String,
    pub user_id: String,
    token: String,
}

impl Session {
    pub fn current() -> Result<Session, PluginError> {
        Ok(Session {
            graph: graph_url()?,
            user_id: secrets::account_required("user_id")?,
            token: secrets::account_required("access_token")?,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{VERSION}/{}", self.graph, path.trim_start_matches('/'))
    }

    pub fn send(&self, req: RequestBuilder) -> Result<Response, PluginError> {
        check(req.bearer(&self.token).send()?)
    }

    /// Sends without mapping errors, for callers that read a Graph error themselves.
    pub fn send_unchecked(&self, req: RequestBuilder) -> Result<Response, PluginError> {
        req.bearer(&self.token).send()
    }

    pub fn get<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, PluginError> {
        self.send(http::get(&self.url(path)).query(query))?.json()
    }

    pub fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<T, PluginError> {
        self.send(http::post(&self.url(path)).form(form))?.json()
    }
}

#[derive(Deserialize)]
pub struct Id {
    pub id: String,
}

#[derive(Deserialize)]
pub struct Token {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

#[derive(Deserialize)]
pub struct ShortToken {
    pub access_token: String,
}

#[derive(Deserialize)]
pub struct Me {
    pub id: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub threads_profile_picture_url: Option<String>,
}

#[derive(Deserialize)]
pub struct ContainerStatus {
    pub status: String,
    pub error_message: Option<String>,
}

#[derive(Deserialize)]
pub struct ThreadsPost {
    pub id: String,
    pub text: Option<String>,
    pub permalink: Option<String>,
}

#[derive(Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
}

#[derive(Deserialize)]
pub struct Quota {
    #[serde(default)]
    pub quota_usage: u32,
    pub config: Option<QuotaConfig>,
    #[serde(default)]
    pub reply_quota_usage: u32,
    pub reply_config: Option<QuotaConfig>,
}

#[derive(Deserialize)]
pub struct QuotaConfig {
    pub quota_total: u32,
    pub quota_duration: u32,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

#[derive(Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: u32,
    pub error_subcode: Option<u32>,
    pub error_user_msg: Option<String>,
}

/// Publishing before a container finished processing.
pub fn is_not_ready(e: &GraphError) -> bool {
    e.code == 9007 && e.error_subcode == Some(2207027)
}

/// The Graph error of a failed response, if it carries the envelope.
pub fn graph_error(resp: &Response) -> Option<GraphError> {
    serde_json::from_slice::<Envelope>(&resp.body)
        .ok()
        .map(|e| e.error)
}

/// Passes 2xx through; maps Graph errors by their code (Graph throttles with
/// 400, 403 and 429 alike, so the status alone says little).
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let Some(e) = graph_error(&resp) else {
        return Err(http::status_error(
            &resp,
            &format!("Threads answered HTTP {}", resp.status),
        ));
    };
    let words = e
        .error_user_msg
        .clone()
        .unwrap_or_else(|| e.message.clone());
    let message = format!(
        "Threads: {words} (code {}{})",
        e.code,
        match e.error_subcode {
            Some(s) => format!("/{s}"),
            None => String::new(),
        }
    );
    Err(match e.code {
        190 | 102 => PluginError::AuthExpired(message),
        4 | 17 | 32 | 613 | 80001..=80009 => PluginError::RateLimited(RateLimit {
            retry_after_secs: regain_secs(&resp).unwrap_or(3600),
            message,
        }),
        // The 24-hour publishing quota: the oldest post leaves the window within a day.
        9 if e.error_subcode == Some(2207042) => PluginError::RateLimited(RateLimit {
            retry_after_secs: 3600,
            message,
        }),
        1 | 2 => PluginError::Transient(message),
        10 | 200..=299 => PluginError::Permanent(format!(
            "{message}; reconnect the account granting threads_content_publish"
        )),
        100 if resp.status == 400 => invalid("", "rejected-by-platform", message),
        _ if resp.status >= 500 => PluginError::Transient(message),
        _ if resp.status == 429 => PluginError::RateLimited(RateLimit {
            retry_after_secs: http::retry_after(&resp).unwrap_or(3600),
            message,
        }),
        _ => PluginError::Permanent(message),
    })
}

/// Seconds until access returns: the largest `estimated_time_to_regain_access`
/// (minutes) in `X-Business-Use-Case-Usage`, else `Retry-After`.
fn regain_secs(resp: &Response) -> Option<u32> {
    let from_usage = resp
        .header("x-business-use-case-usage")
        .and_then(|h| serde_json::from_str::<serde_json::Value>(h).ok())
        .and_then(|v| {
            v.as_object()?
                .values()
                .filter_map(|entries| entries.as_array())
                .flatten()
                .filter_map(|e| e["estimated_time_to_regain_access"].as_u64())
                .max()
        })
        .filter(|m| *m > 0)
        .map(|m| u32::try_from(m * 60).unwrap_or(u32::MAX));
    from_usage.or_else(|| http::retry_after(resp))
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
