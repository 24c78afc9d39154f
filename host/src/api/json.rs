//! JSON request bodies whose rejections are problem+json with a precise message (axum's
//! own are plain text).

use super::problem::Problem;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Like `axum::Json`, but malformed or mistyped bodies answer problem+json: 400 for
/// syntax, 422 for wrong fields or types, 415 without a JSON content type, 413 when too
/// large.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(Problem::unprocessable("invalid-body", e.body_text()))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => {
                Err(Problem::bad_request("malformed-json", e.body_text()))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "the request body is larger than this endpoint accepts",
            )),
            Err(e) => Err(Problem::bad_request("invalid-body", e.body_text())),
        }
    }
}
