//! OpenAI's error envelope (and xAI's variant of it) and the rate-limit headers.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::config::ErrorStyle;
use crate::ai::Envelope;

/// An error answer: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    pub style: ErrorStyle,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            style: ErrorStyle::OpenAi,
            headers: Vec::new(),
        }
    }

    /// A 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn style(mut self, style: ErrorStyle) -> Self {
        self.style = style;
        self
    }

    pub fn model_not_found(model: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .code("model_not_found")
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", "Not found")
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            format!("Rate limit reached for requests. Please try again in {retry_after_secs}s."),
        )
        .code("rate_limit_exceeded");
        // OpenAI states when the window resets in Go duration form, not as Retry-After.
        e.headers = vec![
            ("x-ratelimit-limit-requests", "60".to_owned()),
            ("x-ratelimit-remaining-requests", "0".to_owned()),
            ("x-ratelimit-reset-requests", go_duration(retry_after_secs)),
        ];
        e
    }

    pub fn server_error(status: StatusCode) -> Self {
        ApiError::new(
            status,
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
        )
    }

    /// The body as it appears in the envelope (also inside a chat stream's `data:`).
    pub fn body(&self) -> Value {
        match self.style {
            ErrorStyle::OpenAi => json!({
                "error": {
                    "message": self.message,
                    "type": self.kind,
                    "param": self.param,
                    "code": self.code,
                }
            }),
            ErrorStyle::Xai => json!({
                "code": self.code.unwrap_or(self.kind),
                "error": self.message,
            }),
        }
    }
}

/// `90` → `1m30s`, as in `x-ratelimit-reset-*`.
fn go_duration(secs: u64) -> String {
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m0s"),
        (m, s) => format!("{m}m{s}s"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

pub(crate) struct OpenAiEnvelope(pub ErrorStyle);

impl Envelope for OpenAiEnvelope {
    fn rate_limited(&self, retry_after_secs: u64) -> Response {
        ApiError::rate_limited(retry_after_secs)
            .style(self.0)
            .into_response()
    }
    fn server_error(&self, status: StatusCode) -> Response {
        ApiError::server_error(status).style(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_durations_use_go_form() {
        assert_eq!(go_duration(7), "7s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(120), "2m0s");
    }
}
