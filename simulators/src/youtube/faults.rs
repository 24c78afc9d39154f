//! Scripted misbehaviour, on demand.

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// A fault waiting for matching requests (`POST /__sim/faults` takes it as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    pub path_prefix: String,
    #[serde(default = "once")]
    pub times: u32,
    /// Matching requests to let through untouched first.
    #[serde(default)]
    pub after: u32,
    pub action: FaultAction,
}

fn once() -> u32 {
    1
}

impl Fault {
    pub fn new(method: &str, path_prefix: &str, action: FaultAction) -> Self {
        Fault {
            method: Some(method.to_owned()),
            path_prefix: path_prefix.to_owned(),
            times: 1,
            after: 0,
            action,
        }
    }

    pub fn after(self, after: u32) -> Self {
        Fault { after, ..self }
    }

    pub fn times(self, times: u32) -> Self {
        Fault { times, ..self }
    }

    pub(crate) fn matches(&self, method: &Method, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method.as_str()))
            && path.starts_with(&self.path_prefix)
    }
}

/// What a fault does to the request it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// 403 `quotaExceeded` (the daily bucket is spent; it resets at midnight Pacific).
    QuotaExceeded,
    /// 429 `rateLimitExceeded` with `Retry-After: retry_after_secs`.
    RateLimited {
        retry_after_secs: u64,
    },
    /// Answer `status` with Google's envelope and `reason`, without handling.
    ServerError {
        status: u16,
        reason: String,
    },
    Delay {
        ms: u64,
    },
    /// Expire the request's bearer token, then handle (→ 401).
    ExpireToken,
    /// An upload chunk whose transfer breaks: the first `keep_bytes` of it (rounded down
    /// to the chunk granularity) are stored, then 503 `backendError`.
    InterruptUpload {
        keep_bytes: u64,
    },
}
