//! What clients sent, in arrival order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::faults::FaultAction;

/// Parameters whose values are secrets and are not kept.
const SECRET_PARAMS: &[&str] = &["access_token", "client_secret", "code"];

/// One request as the simulator received it (admin `/__sim/` requests excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub seq: u64,
    pub method: String,
    /// The path as sent, version prefix included.
    pub path: String,
    /// Query, form and JSON parameters merged; secrets appear as `"[redacted]"`.
    pub params: BTreeMap<String, String>,
    /// Whether a token came as `Authorization: Bearer` or `access_token`.
    pub authenticated: bool,
    pub status: Option<u16>,
    pub fault: Option<FaultAction>,
}

impl RecordedRequest {
    pub(crate) fn new(
        seq: u64,
        method: &str,
        path: &str,
        params: &BTreeMap<String, String>,
        authenticated: bool,
    ) -> Self {
        let params = params
            .iter()
            .map(|(k, v)| {
                let v = if SECRET_PARAMS.contains(&k.as_str()) {
                    "[redacted]".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        RecordedRequest {
            seq,
            method: method.to_owned(),
            path: path.to_owned(),
            params,
            authenticated,
            status: None,
            fault: None,
        }
    }

    /// `METHOD /path` without the version prefix and with numeric ids as `{id}`,
    /// e.g. `POST /{id}/threads_publish`: what tests compare sequences of.
    pub fn endpoint(&self) -> String {
        let path: Vec<&str> = super::params::unversioned(&self.path)
            .split('/')
            .map(|s| {
                if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                    "{id}"
                } else {
                    s
                }
            })
            .collect();
        format!("{} {}", self.method, path.join("/"))
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}
