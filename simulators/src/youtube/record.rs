//! What clients sent, kept in arrival order for tests to inspect.

use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use super::faults::FaultAction;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub has_authorization: bool,
    pub content_type: Option<String>,
    pub content_range: Option<String>,
    pub upload_content_length: Option<String>,
    /// JSON and form bodies as text (form secrets masked).
    pub body: Option<String>,
    pub body_len: usize,
    pub status: Option<u16>,
    /// The `Range` header of a 308 answer.
    pub range: Option<String>,
    pub fault: Option<FaultAction>,
}

impl RecordedRequest {
    pub(crate) fn capture(seq: u64, parts: &Parts, body: &[u8]) -> Self {
        let headers = &parts.headers;
        let content_type = text(headers, "content-type");
        let textual = content_type.as_deref().is_some_and(|t| {
            t.starts_with("application/json") || t.starts_with("application/x-www-form-urlencoded")
        });
        RecordedRequest {
            seq,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            has_authorization: headers.contains_key("authorization"),
            content_type,
            content_range: text(headers, "content-range"),
            upload_content_length: text(headers, "x-upload-content-length"),
            body: textual.then(|| mask(&String::from_utf8_lossy(body))),
            body_len: body.len(),
            status: None,
            range: None,
            fault: None,
        }
    }
}

fn mask(body: &str) -> String {
    if body.trim_start().starts_with('{') {
        return body.to_owned();
    }
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _))
                if matches!(
                    k,
                    "client_secret" | "refresh_token" | "code" | "code_verifier"
                ) =>
            {
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
