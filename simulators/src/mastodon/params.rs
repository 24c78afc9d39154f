//! Request parameters the way Rails sees them.
//!
//! Mastodon accepts the same parameters as a query string, a form or a JSON
//! object, merged into one bag where the body wins. Form keys ending in `[]`
//! build arrays; everything else is a scalar (the last one wins). Rails'
//! strong parameters then only let arrays through where an array is expected,
//! so `media_ids=1` without brackets is silently not a list of media.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{FromRequest, Request};
use axum::http::header;
use bytes::Bytes;
use serde_json::Value;

use super::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Param {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, Param>);

impl Params {
    pub fn parse(
        content_type: Option<&str>,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let mut params = Params::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes());
        }
        match content_type.map(media_type).as_deref() {
            Some("application/x-www-form-urlencoded") => params.add_form(body),
            Some("application/json") if !body.is_empty() => {
                let value: Value =
                    serde_json::from_slice(body).map_err(|_| ApiError::bad_parameters())?;
                params.add_json(value);
            }
            _ => {}
        }
        Ok(params)
    }

    fn add_form(&mut self, form: &[u8]) {
        for (key, value) in url::form_urlencoded::parse(form) {
            match key.strip_suffix("[]") {
                Some(list) => self.push(list, value.into_owned()),
                None => {
                    self.0
                        .insert(key.into_owned(), Param::One(value.into_owned()));
                }
            }
        }
    }

    /// Nested objects (polls, media attributes) are features the simulator does
    /// not offer, so they are dropped rather than half-interpreted.
    fn add_json(&mut self, value: Value) {
        let Value::Object(object) = value else {
            return;
        };
        for (key, value) in object {
            match value {
                Value::Array(items) => {
                    let items = items.iter().filter_map(scalar).collect();
                    self.0.insert(key, Param::Many(items));
                }
                other => {
                    if let Some(text) = scalar(&other) {
                        self.0.insert(key, Param::One(text));
                    }
                }
            }
        }
    }

    fn push(&mut self, key: &str, value: String) {
        match self.0.get_mut(key) {
            Some(Param::Many(items)) => items.push(value),
            _ => {
                self.0.insert(key.to_owned(), Param::Many(vec![value]));
            }
        }
    }

    /// A scalar parameter, `None` when absent or given as an array.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self.0.get(key) {
            Some(Param::One(value)) => Some(value),
            _ => None,
        }
    }

    /// A scalar parameter that is present and not blank, as Rails' `present?`.
    pub fn present(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.trim().is_empty())
    }

    /// An array parameter; empty when absent or given as a scalar.
    pub fn list(&self, key: &str) -> &[String] {
        match self.0.get(key) {
            Some(Param::Many(items)) => items,
            _ => &[],
        }
    }

    /// `redirect_uris` and friends, which Mastodon takes as an array or as
    /// one string of whitespace-separated entries.
    pub fn words(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Param::One(value)) => value.split_whitespace().map(str::to_owned).collect(),
            Some(Param::Many(items)) => items
                .iter()
                .flat_map(|item| item.split_whitespace())
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        }
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `type/subtype` of a Content-Type, lowercased and without parameters.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = axum::response::Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;

        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let query = request.uri().query().map(str::to_owned);
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Params::parse(content_type.as_deref(), query.as_deref(), &body)
            .map_err(IntoResponse::into_response)
    }
}

/// One field of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// The fields of a multipart body; `Ok(None)` when the body is not multipart.
pub(crate) async fn multipart(
    content_type: Option<&str>,
    body: Bytes,
) -> Result<Option<Vec<Part>>, multer::Error> {
    let Some(content_type) = content_type.filter(|ct| media_type(ct) == "multipart/form-data")
    else {
        return Ok(None);
    };
    let boundary = multer::parse_boundary(content_type)?;
    let stream = futures::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut reader = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = reader.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let data = field.bytes().await?;
        parts.push(Part {
            name,
            file_name,
            content_type,
            data,
        });
    }
    Ok(Some(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_brackets_build_arrays_and_scalars_stay_scalars() {
        let params = Params::parse(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            None,
            b"status=hi+there&media_ids[]=1&media_ids[]=2&visibility=public",
        )
        .unwrap();
        assert_eq!(params.get("status"), Some("hi there"));
        assert_eq!(params.list("media_ids"), ["1", "2"]);
        assert_eq!(params.get("media_ids"), None);
        assert!(params.list("visibility").is_empty());
    }

    #[test]
    fn json_body_overrides_query_and_stringifies_scalars() {
        let params = Params::parse(
            Some("application/json"),
            Some("limit=5&sensitive=false"),
            br#"{"sensitive": true, "media_ids": [7, "8"], "poll": {"options": []}, "language": null}"#,
        )
        .unwrap();
        assert_eq!(params.get("limit"), Some("5"));
        assert_eq!(params.get("sensitive"), Some("true"));
        assert_eq!(params.list("media_ids"), ["7", "8"]);
        assert_eq!(params.get("poll"), None);
        assert_eq!(params.get("language"), None);
    }

    #[test]
    fn malformed_json_is_a_parameter_error() {
        assert!(Params::parse(Some("application/json"), None, b"{nope").is_err());
    }

    #[test]
    fn words_split_strings_and_arrays() {
        let params = Params::parse(
            Some("application/json"),
            None,
            br#"{"redirect_uris": "https://a.example/cb\nhttps://b.example/cb", "scopes": ["read write"]}"#,
        )
        .unwrap();
        assert_eq!(
            params.words("redirect_uris"),
            ["https://a.example/cb", "https://b.example/cb"]
        );
        assert_eq!(params.words("scopes"), ["read", "write"]);
    }
}
