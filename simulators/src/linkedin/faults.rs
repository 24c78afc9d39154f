//! Scripted misbehaviour, on demand: throttles, server errors, slowness, and tokens that
//! expire or are revoked in the middle of a flow.

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// A fault waiting in the queue for matching requests (`POST /__sim/faults` takes the
/// same shape as JSON; `method` may be omitted, `times` defaults to 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    /// Matches requests whose path starts with this.
    pub path_prefix: String,
    #[serde(default = "once")]
    pub times: u32,
    /// Matching requests to let through untouched first (e.g. to fail the second part).
    #[serde(default)]
    pub after: u32,
    pub action: FaultAction,
}

fn once() -> u32 {
    1
}

impl Fault {
    /// A fault for the next `method` request under `path_prefix`.
    pub fn new(method: &str, path_prefix: &str, action: FaultAction) -> Self {
        Fault {
            method: Some(method.to_owned()),
            path_prefix: path_prefix.to_owned(),
            times: 1,
            after: 0,
            action,
        }
    }

    /// Lets `after` matching requests pass before the fault applies.
    pub fn after(self, after: u32) -> Self {
        Fault { after, ..self }
    }

    /// Applies the fault to the next `times` matching requests instead of one.
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
    /// 429 with LinkedIn's throttle envelope and `Retry-After: reset_after_secs`.
    RateLimited { reset_after_secs: u64 },
    /// Answer `status` with `body` without handling (an interrupted upload part looks
    /// like this to the client: the part is not stored).
    ServerError { status: u16, body: String },
    /// Wait, then handle normally.
    Delay { ms: u64 },
    /// Expire the request's bearer token, then handle (→ 401 EXPIRED_ACCESS_TOKEN).
    ExpireToken,
    /// Revoke the request's bearer token, then handle (→ 401 REVOKED_ACCESS_TOKEN).
    RevokeToken,
}
