//! Server-sent event answers, paced like a model producing tokens, that record how far
//! they got and whether the client left before the end.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use super::core::{Call, Core};

/// One event of a stream.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    event: Option<String>,
    data: String,
    /// Carries a text delta: paced by the token delay and counted.
    delta: bool,
}

impl Frame {
    /// `data: <json>` alone (OpenAI chat, Gemini).
    pub fn data(json: &serde_json::Value) -> Frame {
        Frame {
            event: None,
            data: json.to_string(),
            delta: false,
        }
    }

    /// `event: <name>` + `data: <json>` (Anthropic, OpenAI Responses).
    pub fn named(event: &str, json: &serde_json::Value) -> Frame {
        Frame {
            event: Some(event.to_owned()),
            data: json.to_string(),
            delta: false,
        }
    }

    /// `data: <text>` verbatim (OpenAI's `[DONE]`).
    pub fn raw(text: &str) -> Frame {
        Frame {
            event: None,
            data: text.to_owned(),
            delta: false,
        }
    }

    /// Marks the frame as a text delta.
    pub fn delta(self) -> Frame {
        Frame {
            delta: true,
            ..self
        }
    }

    fn encode(&self) -> Bytes {
        let mut out = String::new();
        if let Some(event) = &self.event {
            out.push_str("event: ");
            out.push_str(event);
            out.push('\n');
        }
        out.push_str("data: ");
        out.push_str(&self.data);
        out.push_str("\n\n");
        Bytes::from(out)
    }
}

/// Applies a queued mid-stream error: keeps the frames up to and including the
/// `after`-th delta, then `error` ends the stream.
pub(crate) fn cut(frames: Vec<Frame>, call: &Call, error: Frame) -> Vec<Frame> {
    let Some(after) = call.stream_error_after else {
        return frames;
    };
    let mut out = Vec::new();
    let mut deltas = 0;
    for frame in frames {
        if frame.delta {
            if deltas == after {
                break;
            }
            deltas += 1;
        }
        out.push(frame);
    }
    out.push(error);
    out
}

/// Records the stream's end: if the body is dropped before its last event, the client
/// went away.
struct Progress {
    core: Arc<Core>,
    seq: u64,
    finished: bool,
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.finished {
            self.core
                .update_stream(self.seq, |s| s.client_disconnected = true);
        }
    }
}

/// A `text/event-stream` answer writing `frames` one by one, pausing the core's token
/// delay before each delta.
pub(crate) fn respond(call: &Call, frames: Vec<Frame>) -> Response {
    let core = Arc::clone(&call.core);
    let delay = core.lock().token_delay;
    core.update_stream(call.seq, |_| {});
    let progress = Progress {
        core,
        seq: call.seq,
        finished: false,
    };
    let total = frames.len();
    let stream = futures::stream::unfold(
        (frames.into_iter(), progress, 0usize),
        move |(mut frames, mut progress, sent)| async move {
            let frame = frames.next()?;
            if frame.delta && delay > Duration::ZERO {
                tokio::time::sleep(delay).await;
            }
            let sent = sent + 1;
            progress.core.update_stream(progress.seq, |s| {
                s.events_sent += 1;
                if frame.delta {
                    s.deltas_sent += 1;
                }
                if sent == total {
                    s.completed = true;
                }
            });
            if sent == total {
                progress.finished = true;
            }
            Some((
                Ok::<_, std::convert::Infallible>(frame.encode()),
                (frames, progress, sent),
            ))
        },
    );
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_encode_as_server_sent_events() {
        let named = Frame::named("ping", &serde_json::json!({"type": "ping"}));
        assert_eq!(
            named.encode(),
            Bytes::from("event: ping\ndata: {\"type\":\"ping\"}\n\n")
        );
        assert_eq!(
            Frame::raw("[DONE]").encode(),
            Bytes::from("data: [DONE]\n\n")
        );
    }
}
