//! What clients sent, kept in arrival order for tests to inspect.

use axum::http::request::Parts as RequestParts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::faults::FaultAction;

/// One request as the simulator received it (admin `/__sim/` requests excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The `Authorization` scheme sent (`Bearer`, `OAuth`, `Basic`); the value is not kept.
    pub auth_scheme: Option<String>,
    pub content_type: Option<String>,
    /// The body of form and JSON requests, as text.
    pub body: Option<String>,
    /// The fields of multipart requests.
    pub parts: Vec<RecordedPart>,
    /// The status the simulator answered.
    pub status: Option<u16>,
    /// The fault applied to this request, if any.
    pub fault: Option<FaultAction>,
}

/// One field of a multipart request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedPart {
    pub name: String,
    pub file_name: Option<String>,
    /// Size of the field's content in bytes.
    pub size: usize,
    /// The content of text fields (those without a file name).
    pub value: Option<String>,
}

/// One field of a multipart body, read whole.
pub(crate) struct Field {
    pub name: String,
    pub file_name: Option<String>,
    pub data: Bytes,
}

/// The fields of a multipart body; `None` when the body is not multipart.
pub(crate) async fn multipart(
    content_type: Option<&str>,
    body: Bytes,
) -> Option<Result<Vec<Field>, multer::Error>> {
    let boundary = multer::parse_boundary(content_type?).ok()?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut reader = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    loop {
        match reader.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let file_name = field.file_name().map(str::to_owned);
                match field.bytes().await {
                    Ok(data) => fields.push(Field {
                        name,
                        file_name,
                        data,
                    }),
                    Err(error) => return Some(Err(error)),
                }
            }
            Ok(None) => return Some(Ok(fields)),
            Err(error) => return Some(Err(error)),
        }
    }
}

pub(crate) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

impl RecordedRequest {
    pub(crate) async fn capture(seq: u64, request: &RequestParts, body: &Bytes) -> Self {
        let headers = &request.headers;
        let content_type = header_text(headers, header::CONTENT_TYPE.as_str());
        let textual = content_type.as_deref().is_some_and(|t| {
            t.starts_with("application/json") || t.starts_with("application/x-www-form-urlencoded")
        });
        let parts = match multipart(content_type.as_deref(), body.clone()).await {
            Some(Ok(fields)) => fields
                .into_iter()
                .map(|f| RecordedPart {
                    value: f
                        .file_name
                        .is_none()
                        .then(|| String::from_utf8_lossy(&f.data).into_owned()),
                    name: f.name,
                    file_name: f.file_name,
                    size: f.data.len(),
                })
                .collect(),
            _ => Vec::new(),
        };
        RecordedRequest {
            seq,
            method: request.method.to_string(),
            path: request.uri.path().to_owned(),
            query: request.uri.query().map(str::to_owned),
            auth_scheme: header_text(headers, header::AUTHORIZATION.as_str())
                .and_then(|v| v.split_whitespace().next().map(str::to_owned)),
            content_type,
            body: textual.then(|| String::from_utf8_lossy(body).into_owned()),
            parts,
            status: None,
            fault: None,
        }
    }
}
