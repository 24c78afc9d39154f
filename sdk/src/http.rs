//! Outbound HTTP through the host (only to granted hosts).
//!
//! ```ignore
//! let me: Account = http::get(&format!("{base}/api/v1/accounts/verify_credentials"))
//!     .bearer(&token)
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! ```

use crate::wit::platform::plugboard::plugin::http as raw;
pub use crate::wit::platform::plugboard::plugin::http::{
    BodyStream, HttpError, MediaBody, Method, Part, PartBody,
};
use crate::{PluginError, RateLimit};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request being built.
#[must_use]
pub struct RequestBuilder {
    method: Method,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: raw::Body,
    timeout_ms: Option<u32>,
    follow_redirects: bool,
    error: Option<String>,
}

pub fn request(method: Method, url: &str) -> RequestBuilder {
    RequestBuilder {
        method,
        url: url.to_string(),
        query: Vec::new(),
        headers: Vec::new(),
        body: raw::Body::Empty,
        timeout_ms: None,
        follow_redirects: false,
        error: None,
    }
}
pub fn get(url: &str) -> RequestBuilder {
    request(Method::Get, url)
}
pub fn post(url: &str) -> RequestBuilder {
    request(Method::Post, url)
}
pub fn put(url: &str) -> RequestBuilder {
    request(Method::Put, url)
}
pub fn patch(url: &str) -> RequestBuilder {
    request(Method::Patch, url)
}
pub fn delete(url: &str) -> RequestBuilder {
    request(Method::Delete, url)
}

impl RequestBuilder {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    /// Appends query parameters (percent-encoded).
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, params: &[(K, V)]) -> Self {
        self.query.extend(
            params
                .iter()
                .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())),
        );
        self
    }
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.body = raw::Body::Bytes(bytes);
                self.header("Content-Type", "application/json")
            }
            Err(e) => {
                self.error = Some(format!("cannot encode JSON body: {e}"));
                self
            }
        }
    }
    /// An `application/x-www-form-urlencoded` body.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, params: &[(K, V)]) -> Self {
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        match serde_urlencoded::to_string(pairs) {
            Ok(body) => {
                self.body = raw::Body::Bytes(body.into_bytes());
                self.header("Content-Type", "application/x-www-form-urlencoded")
            }
            Err(e) => {
                self.error = Some(format!("cannot encode form body: {e}"));
                self
            }
        }
    }
    pub fn bytes(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = raw::Body::Bytes(body);
        self.header("Content-Type", content_type)
    }
    /// Sends (a byte range of) a stored media object as the body; the bytes never enter
    /// the plugin's memory.
    pub fn media_body(mut self, handle: &str, offset: u64, length: Option<u64>) -> Self {
        self.body = raw::Body::Media(MediaBody {
            handle: handle.to_string(),
            offset,
            length,
        });
        self
    }
    /// A multipart/form-data body; parts may be text, bytes or stored media.
    pub fn multipart(mut self, parts: Vec<Part>) -> Self {
        self.body = raw::Body::Multipart(parts);
        self
    }
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
    pub fn follow_redirects(mut self) -> Self {
        self.follow_redirects = true;
        self
    }

    fn build(self) -> Result<raw::Request, PluginError> {
        if let Some(e) = self.error {
            return Err(PluginError::Permanent(e));
        }
        let mut url = self.url;
        if !self.query.is_empty() {
            let pairs: Vec<(&str, &str)> = self
                .query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let encoded = serde_urlencoded::to_string(pairs)
                .map_err(|e| PluginError::Permanent(format!("cannot encode query: {e}")))?;
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&encoded);
        }
        Ok(raw::Request {
            method: self.method,
            url,
            headers: self.headers,
            body: self.body,
            timeout_ms: self.timeout_ms,
            follow_redirects: self.follow_redirects,
        })
    }

    /// Sends the request and reads the whole response (capped by the host).
    pub fn send(self) -> Result<Response, PluginError> {
        let req = self.build()?;
        let resp = raw::send(&req).map_err(http_error)?;
        Ok(Response {
            status: resp.status,
            headers: resp.headers,
            body: resp.body,
        })
    }

    /// Sends the request and returns the status and headers at once, the body as a
    /// stream to read chunk by chunk (server-sent events, long downloads).
    pub fn open(self) -> Result<StreamingResponse, PluginError> {
        let req = self.build()?;
        let (head, body) = raw::open(&req).map_err(http_error)?;
        Ok(StreamingResponse {
            status: head.status,
            headers: head.headers,
            body,
        })
    }
}

/// Maps a host-side HTTP failure to a plugin error: refusals by the sandbox are permanent
/// (the operator must grant), network trouble is transient.
pub fn http_error(e: HttpError) -> PluginError {
    match e {
        HttpError::Denied(msg) => PluginError::Permanent(msg),
        HttpError::InvalidRequest(msg) => PluginError::Permanent(msg),
        HttpError::Timeout => PluginError::Transient("the platform did not answer in time".into()),
        HttpError::TooLarge(limit) => {
            PluginError::Permanent(format!("the platform's response exceeded {limit} bytes"))
        }
        HttpError::Connection(msg) => PluginError::Transient(msg),
    }
}

/// A response whose body is read incrementally.
pub struct StreamingResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: BodyStream,
}

/// A complete response.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// First header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            PluginError::Transient(format!(
                "the platform answered {} with a body that is not the expected JSON: {e}",
                self.status
            ))
        })
    }
    /// Passes 2xx through; maps anything else with [`status_error`].
    pub fn error_for_status(self) -> Result<Self, PluginError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(status_error(&self, &self.text()))
        }
    }
}

/// The usual mapping of an HTTP failure to the contract's error variants. `message` is
/// the platform's own words (extracted by the plugin from its error envelope).
pub fn status_error(resp: &Response, message: &str) -> PluginError {
    let message = if message.is_empty() {
        format!("HTTP {}", resp.status)
    } else {
        message.to_string()
    };
    match resp.status {
        401 => PluginError::AuthExpired(message),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_secs: retry_after(resp).unwrap_or(60),
            message,
        }),
        408 | 500..=599 => PluginError::Transient(message),
        400 | 413 | 422 => PluginError::InvalidContent(vec![crate::Problem {
            field: String::new(),
            code: "rejected-by-platform".into(),
            message,
        }]),
        _ => PluginError::Permanent(message),
    }
}

/// Seconds to wait from `Retry-After` (seconds form).
pub fn retry_after(resp: &Response) -> Option<u32> {
    resp.header("retry-after")?.trim().parse().ok()
}
