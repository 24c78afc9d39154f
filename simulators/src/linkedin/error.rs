//! LinkedIn's error envelopes: Rest.li's `{"status","serviceErrorCode","code","message"}`
//! for the API and `{"error","error_description"}` for OAuth.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        service_code: u32,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            body: json!({
                "status": status.as_u16(),
                "serviceErrorCode": service_code,
                "code": code,
                "message": message.into(),
            }),
            retry_after: None,
        }
    }

    pub fn oauth(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": error, "error_description": description.into() }),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, 100, "ILLEGAL_ARGUMENT", message)
    }

    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 0, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 0, "NOT_FOUND", message)
    }

    pub fn access_denied(permission: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            100,
            "ACCESS_DENIED",
            format!("Not enough permissions to access: {permission}"),
        )
    }

    /// A throttle: LinkedIn's daily limits reset at midnight UTC.
    pub fn throttled(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                0,
                "TOO_MANY_REQUESTS",
                message,
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}
