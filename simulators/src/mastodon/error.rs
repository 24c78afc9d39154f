//! The error envelopes Mastodon and its OAuth provider (Doorkeeper) answer with.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
    www_authenticate: Option<&'static str>,
}

impl ApiError {
    /// Mastodon's own envelope: `{"error": message}`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
            www_authenticate: None,
        }
    }

    /// Doorkeeper's envelope: `{"error": code, "error_description": text}`.
    pub fn oauth(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": error, "error_description": description.into() }),
            www_authenticate: None,
        }
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// A failed model validation, which Rails prefixes.
    pub fn validation(message: impl std::fmt::Display) -> Self {
        ApiError::unprocessable(format!("Validation failed: {message}"))
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "Record not found")
    }

    pub fn bad_parameters() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Error occurred while parsing request parameters",
        )
    }

    pub fn invalid_token() -> Self {
        ApiError {
            www_authenticate: Some(
                r#"Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid""#,
            ),
            ..ApiError::new(StatusCode::UNAUTHORIZED, "The access token is invalid")
        }
    }

    pub fn insufficient_scope() -> Self {
        ApiError {
            www_authenticate: Some(
                r#"Bearer realm="Doorkeeper", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token.""#,
            ),
            ..ApiError::new(
                StatusCode::FORBIDDEN,
                "This action is outside the authorized scopes",
            )
        }
    }

    /// Endpoints acting as a user refuse client-credentials tokens this way.
    pub fn user_required() -> Self {
        ApiError::unprocessable("This method requires an authenticated user")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(challenge) = self.www_authenticate {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
