//! XRPC errors: `{"error": Name, "message": text}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub(crate) struct XrpcError {
    pub status: StatusCode,
    pub error: &'static str,
    pub message: String,
}

impl XrpcError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        XrpcError {
            status,
            error,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        XrpcError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    pub fn auth_missing() -> Self {
        XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "Authentication Required",
        )
    }

    pub fn invalid_token(message: &str) -> Self {
        XrpcError::new(StatusCode::BAD_REQUEST, "InvalidToken", message)
    }

    pub fn expired() -> Self {
        XrpcError::new(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired")
    }
}

impl IntoResponse for XrpcError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.error, "message": self.message })),
        )
            .into_response()
    }
}
