//! What clients sent, kept in arrival order for tests to inspect.

use axum::http::request::Parts as RequestParts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::faults::FaultAction;
use super::params::{media_type, multipart};

/// One request as the simulator received it (admin `/__sim/` requests excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Arrival order, from 1; keeps counting across resets.
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Whether an `Authorization` header was sent (its value is not kept).
    pub has_authorization: bool,
    pub idempotency_key: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    /// The body of form and JSON requests, as text.
    pub body: Option<String>,
    /// The fields of multipart requests.
    pub parts: Vec<RecordedPart>,
    /// The status the simulator produced. `None` while the request is still
    /// being handled or if its client went away first. With
    /// [`FaultAction::DropAfterHandling`] this is the status the client never
    /// received.
    pub status: Option<u16>,
    /// The fault applied to this request, if any.
    pub fault: Option<FaultAction>,
}

/// One field of a multipart request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedPart {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    /// Size of the field's content in bytes.
    pub size: usize,
    /// The content of text fields (those without a file name).
    pub value: Option<String>,
}

impl RecordedRequest {
    /// `body` is `None` when it could not be read (too large).
    pub(crate) async fn capture(seq: u64, request: &RequestParts, body: Option<&Bytes>) -> Self {
        let headers = &request.headers;
        let content_type = header_text(headers, header::CONTENT_TYPE.as_str());
        let kind = content_type.as_deref().map(media_type);
        let textual = matches!(
            kind.as_deref(),
            Some("application/json" | "application/x-www-form-urlencoded")
        );
        let text = body
            .filter(|_| textual)
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned());
        let parts = match body {
            Some(bytes) => multipart(content_type.as_deref(), bytes.clone())
                .await
                .ok()
                .flatten()
                .unwrap_or_default()
                .into_iter()
                .map(|part| RecordedPart {
                    value: part
                        .file_name
                        .is_none()
                        .then(|| String::from_utf8_lossy(&part.data).into_owned()),
                    name: part.name,
                    file_name: part.file_name,
                    content_type: part.content_type,
                    size: part.data.len(),
                })
                .collect(),
            None => Vec::new(),
        };
        RecordedRequest {
            seq,
            method: request.method.to_string(),
            path: request.uri.path().to_owned(),
            query: request.uri.query().map(str::to_owned),
            has_authorization: headers.contains_key(header::AUTHORIZATION),
            idempotency_key: header_text(headers, "idempotency-key"),
            content_type,
            user_agent: header_text(headers, header::USER_AGENT.as_str()),
            body: text,
            parts,
            status: None,
            fault: None,
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
