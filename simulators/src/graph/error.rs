//! Graph's error envelope: `{"error":{"message","type","code","error_subcode",
//! "error_user_title","error_user_msg","fbtrace_id"}}`.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Boxed: handlers return it in every `Err`, and it is large.
#[derive(Debug, Clone)]
pub struct GraphError(Box<Details>);

#[derive(Debug, Clone)]
pub struct Details {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: u32,
    pub subcode: Option<u32>,
    pub message: String,
    pub user_title: Option<String>,
    pub user_msg: Option<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl GraphError {
    pub fn new(
        kind: &'static str,
        code: u32,
        subcode: Option<u32>,
        message: impl Into<String>,
    ) -> Self {
        GraphError(Box::new(Details {
            status: StatusCode::BAD_REQUEST,
            kind,
            code,
            subcode,
            message: message.into(),
            user_title: None,
            user_msg: None,
            headers: Vec::new(),
        }))
    }

    pub fn details(&self) -> &Details {
        &self.0
    }

    /// `OAuthException`: tokens, permissions, throttling.
    pub fn oauth(code: u32, subcode: Option<u32>, message: impl Into<String>) -> Self {
        GraphError::new("OAuthException", code, subcode, message)
    }

    /// `GraphMethodException` (e.g. a missing `appsecret_proof`, an unknown object).
    pub fn method(code: u32, message: impl Into<String>) -> Self {
        GraphError::new("GraphMethodException", code, None, message)
    }

    /// `(#100)` invalid parameter.
    pub fn invalid(message: impl Into<String>) -> Self {
        GraphError::oauth(100, None, format!("(#100) {}", message.into()))
    }

    /// `(#200)` missing permission.
    pub fn permission(scope: &str) -> Self {
        let mut e = GraphError::oauth(
            200,
            None,
            format!(
                "(#200) The user hasn't authorized the application to perform this action; requires {scope}"
            ),
        );
        e.0.status = StatusCode::FORBIDDEN;
        e
    }

    /// Graph's answer for an id that does not exist or is not visible to the token.
    pub fn unknown_object(id: &str) -> Self {
        GraphError::method(
            100,
            format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
        )
    }

    pub fn with_user_message(mut self, title: &str, msg: impl Into<String>) -> Self {
        self.0.user_title = Some(title.to_string());
        self.0.user_msg = Some(msg.into());
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.0.headers.push((name, value));
        self
    }

    pub fn body(&self) -> Value {
        let d = &self.0;
        let mut error = json!({
            "message": d.message,
            "type": d.kind,
            "code": d.code,
            "fbtrace_id": super::new_secret("A"),
        });
        if let Some(s) = d.subcode {
            error["error_subcode"] = s.into();
        }
        if let Some(t) = &d.user_title {
            error["error_user_title"] = t.clone().into();
        }
        if let Some(m) = &d.user_msg {
            error["error_user_msg"] = m.clone().into();
        }
        json!({ "error": error })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut response = (self.0.status, Json(self.body())).into_response();
        for (name, value) in &self.0.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), v);
            }
        }
        response
    }
}
