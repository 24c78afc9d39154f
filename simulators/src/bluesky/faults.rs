//! Scripted misbehaviour, on demand.

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// A fault waiting for the next request whose method matches and whose XRPC
/// method (NSID) is `nsid`. Over HTTP (`POST /__sim/faults`) the same shape is
/// JSON, e.g. `{"nsid":"com.atproto.repo.createRecord","skip":1,"action":{"type":"server_error","status":502,"body":""}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub nsid: String,
    /// Matching requests to let through first.
    #[serde(default)]
    pub skip: u32,
    #[serde(default = "once")]
    pub times: u32,
    pub action: FaultAction,
}

fn once() -> u32 {
    1
}

impl Fault {
    pub fn new(nsid: &str, action: FaultAction) -> Self {
        Fault {
            nsid: nsid.to_owned(),
            skip: 0,
            times: 1,
            action,
        }
    }

    /// Lets `n` matching requests through before the fault applies.
    pub fn after(self, n: u32) -> Self {
        Fault { skip: n, ..self }
    }
}

/// What a fault does to the request it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// 429 `RateLimitExceeded` with `ratelimit-*` headers resetting in `reset_after_secs`.
    RateLimited { reset_after_secs: u64 },
    /// Answer `status` with `body` without handling.
    ServerError { status: u16, body: String },
    /// Wait `ms` milliseconds, then handle normally.
    Delay { ms: u64 },
    /// Every access JWT issued so far is expired from now on (refresh JWTs stay
    /// good), then the request is handled.
    ExpireAccessTokens,
}

impl super::state::State {
    pub fn inject(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.faults.push(fault);
        }
    }

    pub fn take_fault(&mut self, _method: &Method, nsid: &str) -> Option<FaultAction> {
        let position = self.faults.iter().position(|f| f.nsid == nsid)?;
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
