//! X's error envelopes: RFC 7807-style problems for API v2, OAuth 2.0 errors at the token
//! endpoint, and the v1.1-style `{"errors":[{"code","message"}]}` of the OAuth 1.0a routes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    fn problem(status: StatusCode, title: &str, detail: &str) -> Self {
        ApiError {
            status,
            body: json!({
                "title": title,
                "type": "about:blank",
                "status": status.as_u16(),
                "detail": detail,
            }),
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(detail: &str) -> Self {
        ApiError::problem(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    pub fn not_found(detail: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            body: json!({
                "errors": [{"message": detail}],
                "title": "Not Found Error",
                "detail": detail,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }),
        }
    }

    pub fn too_many_requests() -> Self {
        ApiError::problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "Too Many Requests",
        )
    }

    /// A refused parameter: `{"errors":[{"message"}], "title":"Invalid Request", …}`.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "errors": [{"message": message.into()}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }),
        }
    }

    /// The token endpoint's OAuth 2.0 envelope.
    pub fn oauth(status: StatusCode, error: &str, description: &str) -> Self {
        ApiError {
            status,
            body: json!({"error": error, "error_description": description}),
        }
    }

    /// The OAuth 1.0a routes' envelope (code 32: could not authenticate you).
    pub fn oauth1(code: u32, message: &str) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            body: json!({"errors": [{"code": code, "message": message}]}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
