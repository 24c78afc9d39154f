//! Scripted misbehaviour of a Graph simulator, on demand.

use axum::http::Method;
use serde::{Deserialize, Serialize};

use super::Core;

/// A fault waiting for matching requests. `path_prefix` matches the path without its
/// `/vNN.N` version prefix (e.g. `/upload:`, `/12345/feed`, `/video-upload/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    pub path_prefix: String,
    #[serde(default = "once")]
    pub times: u32,
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
            action,
        }
    }

    pub fn times(self, times: u32) -> Self {
        Fault { times, ..self }
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && path.starts_with(&self.path_prefix)
    }
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// Graph throttling: HTTP 400 with `code` (4 app, 17 user, 32 Page, 613 custom) and
    /// the usage headers, `estimated_time_to_regain_access` = `regain_minutes`.
    Throttled { code: u32, regain_minutes: u32 },
    /// Answer `status` with `body` (JSON if it parses) without handling.
    ServerError { status: u16, body: String },
    /// Wait, then handle normally.
    Delay { ms: u64 },
    /// Expire the request's own token, then handle (→ 190/463).
    ExpireToken,
    /// Revoke the request's own token, then handle (→ 190/460).
    RevokeToken,
    /// Keep only the first `keep_bytes` of the body, let the handler store them, then
    /// close the connection without an answer: an upload cut off mid-way.
    InterruptUpload { keep_bytes: usize },
    /// Handle completely, then close the connection without answering.
    DropAfterHandling,
}

impl Core {
    pub fn inject(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.faults.push_back(fault);
        }
    }

    pub fn take_fault(&mut self, method: &Method, path: &str) -> Option<FaultAction> {
        let position = self.faults.iter().position(|f| f.matches(method, path))?;
        let fault = &mut self.faults[position];
        fault.times -= 1;
        let action = fault.action.clone();
        if fault.times == 0 {
            self.faults.remove(position);
        }
        Some(action)
    }
}
