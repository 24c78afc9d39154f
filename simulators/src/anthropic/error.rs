//! Anthropic's error envelope: `{"type": "error", "error": {"type", "message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::ai::Envelope;

#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn body(kind: &str, message: &str) -> Value {
        json!({"type": "error", "error": {"type": kind, "message": message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(ApiError::body(self.kind, &self.message))).into_response();
        let headers = response.headers_mut();
        if let Ok(id) = HeaderValue::from_str(&format!("req_{}", crate::openai::random_id(24))) {
            headers.insert("request-id", id);
        }
        if let Some(secs) = self.retry_after {
            let reset = chrono::Utc::now() + chrono::Duration::seconds(secs as i64);
            for (name, value) in [
                ("retry-after", secs.to_string()),
                ("anthropic-ratelimit-requests-limit", "50".to_owned()),
                ("anthropic-ratelimit-requests-remaining", "0".to_owned()),
                (
                    "anthropic-ratelimit-requests-reset",
                    reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
        }
        response
    }
}

pub(crate) struct AnthropicEnvelope;

impl Envelope for AnthropicEnvelope {
    fn rate_limited(&self, retry_after_secs: u64) -> Response {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "This request would exceed your organization's rate limit. Please try again later.",
            )
        }
        .into_response()
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let (kind, message) = match status.as_u16() {
            529 => ("overloaded_error", "Overloaded"),
            413 => (
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
            ),
            _ => ("api_error", "Internal server error"),
        };
        ApiError::new(status, kind, message).into_response()
    }
}
