//! Scripted misbehaviour: the failures X produces now and then, on demand.

use axum::http::Method;
use serde::{Deserialize, Serialize};

use super::state::State;

/// A fault waiting in the queue for matching requests.
///
/// Over HTTP (`POST /__sim/faults`) the same shape is JSON, e.g.
/// `{"method": "POST", "path": "/2/media/upload/*/append", "skip": 1,
/// "action": {"type": "server_error", "status": 503, "body": "busy"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Method to match, case-insensitively; `None` matches every method.
    #[serde(default)]
    pub method: Option<String>,
    /// Path to match: a prefix, where a `*` segment matches any one segment (media ids are
    /// only known once issued).
    pub path: String,
    /// Matching requests let through untouched before the fault applies.
    #[serde(default)]
    pub skip: u32,
    /// How many matching requests the fault applies to.
    #[serde(default = "once")]
    pub times: u32,
    pub action: FaultAction,
}

fn once() -> u32 {
    1
}

impl Fault {
    /// A fault for the next `method` request matching `path`.
    pub fn new(method: &str, path: &str, action: FaultAction) -> Self {
        Fault {
            method: Some(method.to_owned()),
            path: path.to_owned(),
            skip: 0,
            times: 1,
            action,
        }
    }

    /// Applies the fault to the next `times` matching requests instead of one.
    pub fn times(self, times: u32) -> Self {
        Fault { times, ..self }
    }

    /// Lets the first `skip` matching requests through before the fault applies.
    pub fn skip(self, skip: u32) -> Self {
        Fault { skip, ..self }
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method.as_str()));
        let wanted: Vec<&str> = self.path.split('/').collect();
        let got: Vec<&str> = path.split('/').collect();
        method_ok
            && got.len() >= wanted.len()
            && wanted.iter().zip(&got).enumerate().all(|(i, (w, g))| {
                *w == "*" || w == g || (i + 1 == wanted.len() && g.starts_with(w))
            })
    }
}

/// What a fault does to the request it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer 429 with `x-rate-limit-*` headers whose reset lies `reset_after_secs` ahead.
    RateLimited { reset_after_secs: u64 },
    /// Answer `status` with `body` without handling.
    ServerError { status: u16, body: String },
    /// Wait `ms` milliseconds, then handle the request normally.
    Delay { ms: u64 },
    /// Let the request's OAuth 2.0 access token expire now, then handle the request (401).
    ExpireToken,
    /// Revoke every credential of the user the request acts for (OAuth 2.0 tokens,
    /// refresh tokens and OAuth 1.0a tokens), then handle the request (401).
    RevokeUser,
}

impl State {
    /// Queues `fault`; one that applies to no request is dropped.
    pub fn inject(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.faults.push_back(fault);
        }
    }

    /// Consumes one use of the first queued fault matching the request.
    pub fn take_fault(&mut self, method: &Method, path: &str) -> Option<FaultAction> {
        let position = self
            .faults
            .iter()
            .position(|fault| fault.matches(method, path))?;
        let fault = &mut self.faults[position];
        if fault.skip > 0 {
            fault.skip -= 1;
            return None;
        }
        fault.times -= 1;
        let action = fault.action.clone();
        if fault.times == 0 {
            self.faults.remove(position);
        }
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_segments_match_any_id() {
        let fault = Fault::new(
            "POST",
            "/2/media/upload/*/append",
            FaultAction::Delay { ms: 1 },
        );
        assert!(fault.matches(&Method::POST, "/2/media/upload/123/append"));
        assert!(!fault.matches(&Method::POST, "/2/media/upload/123/finalize"));
        assert!(!fault.matches(&Method::GET, "/2/media/upload/123/append"));
        assert!(
            Fault::new("POST", "/2/tweets", FaultAction::ExpireToken)
                .matches(&Method::POST, "/2/tweets")
        );
    }
}
