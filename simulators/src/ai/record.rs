//! What clients sent, in arrival order, for tests to inspect.

use serde::{Deserialize, Serialize};

use super::faults::AiFaultAction;

/// Headers whose values are credentials: recorded as `<redacted>`.
const SECRET_HEADERS: [&str; 3] = ["authorization", "x-api-key", "x-goog-api-key"];

/// One request as the simulator received it (admin `/__sim/` requests excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Every header, names lower-case; credential values redacted.
    pub headers: Vec<(String, String)>,
    /// JSON bodies, parsed (`None` for other bodies and for JSON that does not parse).
    pub body: Option<serde_json::Value>,
    /// The fields of multipart requests.
    pub parts: Vec<AiPart>,
    /// The status answered; `None` while the request is being handled.
    pub status: Option<u16>,
    pub fault: Option<AiFaultAction>,
    /// For streamed answers: how the stream went.
    pub stream: Option<StreamRecord>,
}

impl AiRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One field of a multipart request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiPart {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub size: usize,
    /// The content of text fields (those without a file name).
    pub value: Option<String>,
}

/// The fate of a streamed answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// Events written (deltas and the rest).
    pub events_sent: u32,
    /// Text deltas written.
    pub deltas_sent: u32,
    /// Every event was written.
    pub completed: bool,
    /// The client went away before the last event: generation stopped there, as the
    /// providers stop (and stop billing) when the connection closes.
    pub client_disconnected: bool,
}

pub(crate) fn record_headers(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}
