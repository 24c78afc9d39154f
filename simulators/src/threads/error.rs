//! The Graph API error envelope Threads answers with.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub(crate) struct GraphError {
    pub status: StatusCode,
    pub code: u32,
    pub subcode: Option<u32>,
    pub kind: &'static str,
    pub message: String,
    pub user_msg: Option<String>,
}

impl GraphError {
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        GraphError {
            status: StatusCode::BAD_REQUEST,
            code,
            subcode: None,
            kind: "OAuthException",
            message: message.into(),
            user_msg: None,
        }
    }

    pub fn subcode(mut self, subcode: u32) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn user_msg(mut self, msg: impl Into<String>) -> Self {
        self.user_msg = Some(msg.into());
        self
    }

    /// Code 100: a parameter is missing or wrong.
    pub fn param(message: impl Into<String>) -> Self {
        GraphError {
            kind: "THApiException",
            ..GraphError::new(100, message)
        }
    }

    pub fn no_token() -> Self {
        GraphError::new(
            190,
            "An active access token must be used to query information about the current user.",
        )
    }

    pub fn bad_token() -> Self {
        GraphError::new(
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
    }

    pub fn expired(at: &str) -> Self {
        GraphError::new(
            190,
            format!("Error validating access token: Session has expired on {at}."),
        )
        .subcode(463)
    }

    pub fn revoked() -> Self {
        GraphError::new(
            190,
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
        )
        .subcode(460)
    }

    pub fn permission(scope: &str) -> Self {
        GraphError::new(
            10,
            format!("Application does not have permission for this action ({scope} is required)"),
        )
        .status(StatusCode::FORBIDDEN)
    }

    pub fn not_found(id: &str) -> Self {
        GraphError {
            kind: "GraphMethodException",
            ..GraphError::new(
                100,
                format!(
                    "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
                ),
            )
        }
        .subcode(33)
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": format!("A{}", rand::random::<u64>()),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = subcode.into();
        }
        if let Some(msg) = self.user_msg {
            error["error_user_title"] = "Threads".into();
            error["error_user_msg"] = msg.into();
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}
