//! What clients sent, in arrival order, for tests to assert on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::faults::FaultAction;

/// One request (admin `/__sim/` requests excluded). Secrets are not kept: the access
/// token only as whether and how it came, the proof only as present or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub seq: u64,
    pub method: String,
    /// The full path, version prefix included.
    pub path: String,
    /// The path without the version prefix (what routing and faults see).
    pub route: String,
    /// Parameters from query and body, without `access_token`, `client_secret` and
    /// `appsecret_proof`.
    pub params: BTreeMap<String, String>,
    /// `param`, `Bearer` or `OAuth` when a token was sent.
    pub token_scheme: Option<String>,
    pub has_appsecret_proof: bool,
    /// Upload headers (`offset`, `file_offset`, `file_size`, `file_url`) as sent.
    pub upload_headers: BTreeMap<String, String>,
    /// Bytes of a binary (upload) body as received (after an interruption: kept).
    pub body_bytes: usize,
    pub status: Option<u16>,
    pub fault: Option<FaultAction>,
}

impl RecordedRequest {
    /// `METHOD route`, e.g. `POST /123/feed`, for sequence assertions.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.route)
    }
}
