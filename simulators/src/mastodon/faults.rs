//! Scripted misbehaviour: the failures a real instance produces now and then,
//! on demand.

use axum::http::Method;
use serde::{Deserialize, Serialize};

use super::state::State;

/// A fault waiting in the queue for matching requests.
///
/// Over HTTP (`POST /__sim/faults`) the same shape is JSON, e.g.
/// `{"method": "POST", "path_prefix": "/api/v1/statuses", "times": 2,
/// "action": {"type": "server_error", "status": 503, "body": "busy"}}`;
/// `method` may be omitted (any method) and `times` defaults to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Method to match, case-insensitively; `None` matches every method.
    #[serde(default)]
    pub method: Option<String>,
    /// Matches requests whose path starts with this.
    pub path_prefix: String,
    /// How many matching requests the fault still applies to.
    #[serde(default = "once")]
    pub times: u32,
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
            ..Fault::any_method(path_prefix, action)
        }
    }

    /// A fault for the next request of any method under `path_prefix`.
    pub fn any_method(path_prefix: &str, action: FaultAction) -> Self {
        Fault {
            method: None,
            path_prefix: path_prefix.to_owned(),
            times: 1,
            action,
        }
    }

    /// Applies the fault to the next `times` matching requests instead of one.
    pub fn times(self, times: u32) -> Self {
        Fault { times, ..self }
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
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
    /// Answer 429 `{"error":"Too many requests"}` without handling, with
    /// rate-limit headers whose reset lies `reset_after_secs` ahead.
    RateLimited { reset_after_secs: u64 },
    /// Answer `status` with `body` without handling (JSON when `body` parses
    /// as JSON, plain text otherwise). An invalid status becomes 500.
    ServerError { status: u16, body: String },
    /// Wait `ms` milliseconds, then handle the request normally.
    Delay { ms: u64 },
    /// Revoke `token`, or the request's own bearer token when `None`, then
    /// handle the request (which then fails with 401 if it used that token).
    RevokeToken {
        #[serde(default)]
        token: Option<String>,
    },
    /// Revoke every token of local account `username`, or of the account the
    /// request's token acts for when `None`, then handle the request.
    RevokeAccountTokens {
        #[serde(default)]
        username: Option<String>,
    },
    /// Handle the request completely (a status really gets created), then keep
    /// the client from learning the outcome: hold the response for `hang_ms`
    /// milliseconds before sending it, or, when `None`, close the connection
    /// without answering.
    DropAfterHandling {
        #[serde(default)]
        hang_ms: Option<u64>,
    },
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
    fn fault_json_defaults_to_any_method_once() {
        let fault: Fault = serde_json::from_str(
            r#"{"path_prefix": "/api", "action": {"type": "drop_after_handling"}}"#,
        )
        .unwrap();
        assert_eq!(
            fault,
            Fault::any_method("/api", FaultAction::DropAfterHandling { hang_ms: None })
        );
    }

    #[test]
    fn matching_is_by_method_and_path_prefix() {
        let fault = Fault::new("post", "/api/v1/statuses", FaultAction::Delay { ms: 1 });
        assert!(fault.matches(&Method::POST, "/api/v1/statuses"));
        assert!(fault.matches(&Method::POST, "/api/v1/statuses/1"));
        assert!(!fault.matches(&Method::GET, "/api/v1/statuses"));
        assert!(!fault.matches(&Method::POST, "/api/v2/media"));
    }
}
