//! Scripted misbehaviour of an AI provider, on demand.

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// A fault waiting for matching requests. Over HTTP (`POST /__sim/faults`) the same shape
/// is JSON, e.g. `{"path_prefix": "/v1/chat", "action": {"type": "stream_error",
/// "after_deltas": 3}}`; `method` may be omitted (any method), `times` defaults to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiFault {
    #[serde(default)]
    pub method: Option<String>,
    /// Matches requests whose path starts with this.
    pub path_prefix: String,
    #[serde(default = "once")]
    pub times: u32,
    pub action: AiFaultAction,
}

fn once() -> u32 {
    1
}

impl AiFault {
    /// A fault for the next request (any method) under `path_prefix`.
    pub fn new(path_prefix: &str, action: AiFaultAction) -> Self {
        AiFault {
            method: None,
            path_prefix: path_prefix.to_owned(),
            times: 1,
            action,
        }
    }

    /// Applies the fault to the next `times` matching requests instead of one.
    pub fn times(self, times: u32) -> Self {
        AiFault { times, ..self }
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
pub enum AiFaultAction {
    /// Answer 429 in the provider's envelope with its rate-limit headers, the limit
    /// resetting `retry_after_secs` from now.
    RateLimited { retry_after_secs: u64 },
    /// Answer `status` (500, 502, 503, Anthropic's 529 …) in the provider's envelope.
    ServerError { status: u16 },
    /// Wait `ms` milliseconds, then handle the request normally.
    Delay { ms: u64 },
    /// Handle the request; if it streams, send `after_deltas` text deltas and then the
    /// provider's mid-stream error event (Anthropic: `overloaded_error`) and end the
    /// stream. A request that does not stream is handled normally.
    StreamError { after_deltas: u32 },
    /// Revoke the API key the request carries, then handle it (so it fails with 401):
    /// a key withdrawn mid-flow.
    RevokeKey,
}
