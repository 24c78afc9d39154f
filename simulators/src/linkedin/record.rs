//! What clients sent, kept in arrival order for tests to inspect.

use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use super::faults::FaultAction;

/// One request as the simulator received it (admin `/__sim/` requests excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Whether an `Authorization` header was sent (its value is not kept).
    pub has_authorization: bool,
    pub linkedin_version: Option<String>,
    pub restli_protocol_version: Option<String>,
    pub content_type: Option<String>,
    /// JSON and form bodies as text (form bodies with secrets masked).
    pub body: Option<String>,
    pub body_len: usize,
    /// The status the simulator answered; `None` while in flight.
    pub status: Option<u16>,
    pub fault: Option<FaultAction>,
}

impl RecordedRequest {
    /// `METHOD /path?query` — what tests compare protocol sequences with.
    pub fn line(&self) -> String {
        match &self.query {
            Some(q) => format!("{} {}?{}", self.method, self.path, q),
            None => format!("{} {}", self.method, self.path),
        }
    }

    pub(crate) fn capture(seq: u64, parts: &Parts, body: &[u8]) -> Self {
        let headers = &parts.headers;
        let content_type = text(headers, "content-type");
        let textual = content_type.as_deref().is_some_and(|t| {
            t.starts_with("application/json") || t.starts_with("application/x-www-form-urlencoded")
        });
        let body_text = textual.then(|| mask_secrets(&String::from_utf8_lossy(body)));
        RecordedRequest {
            seq,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            has_authorization: headers.contains_key("authorization"),
            linkedin_version: text(headers, "linkedin-version"),
            restli_protocol_version: text(headers, "x-restli-protocol-version"),
            content_type,
            body: body_text,
            body_len: body.len(),
            status: None,
            fault: None,
        }
    }
}

/// Form bodies carry the client secret and tokens; the record keeps their names only.
fn mask_secrets(body: &str) -> String {
    if body.trim_start().starts_with('{') {
        return body.to_owned();
    }
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if matches!(k, "client_secret" | "refresh_token" | "code") => {
                format!("{k}=***")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
