//! Scripted misbehaviour, on demand.

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// A fault waiting for matching requests. Graph paths carry user and media ids,
/// so a fault matches on a part of the path (`"/threads_publish"`) rather than a prefix.
///
/// Over HTTP (`POST /__sim/faults`) the same shape is JSON, e.g.
/// `{"method":"POST","path_contains":"/threads_publish","action":{"type":"rate_limited","code":17,"regain_minutes":7}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    pub path_contains: String,
    #[serde(default = "once")]
    pub times: u32,
    pub action: FaultAction,
}

fn once() -> u32 {
    1
}

impl Fault {
    pub fn new(method: &str, path_contains: &str, action: FaultAction) -> Self {
        Fault {
            method: Some(method.to_owned()),
            path_contains: path_contains.to_owned(),
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
            && path.contains(&self.path_contains)
    }
}

/// What a fault does to the request it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// Graph throttling: HTTP 429 with error `code` (4 app, 17 user, 32 page, 613
    /// custom) and usage headers whose `estimated_time_to_regain_access` is
    /// `regain_minutes`.
    RateLimited { code: u32, regain_minutes: u64 },
    /// Answer `status` with `body` (JSON when it parses) without handling.
    ServerError { status: u16, body: String },
    /// Wait `ms` milliseconds, then handle normally.
    Delay { ms: u64 },
    /// Answer this request as Meta answers a session that expired (190/463)
    /// without touching the token: what a client sees when Meta's clock says the
    /// token expired before the client's did.
    ExpireSession,
    /// Revoke the request's token (190/460 from now on), then handle.
    RevokeToken,
}

impl super::state::State {
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
