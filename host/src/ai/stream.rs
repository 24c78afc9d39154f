//! From a plugin's completion sink to the client's server-sent events: each delta is sent
//! on as soon as the plugin hands it over (nothing waits for the whole answer), and a
//! client that goes away cancels the plugin call, which closes the provider connection.

use crate::api::problem::Problem;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use plugboard_bindings::DeltaSink;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// What the client receives, in order: any number of `delta`, then one `done` or `error`.
#[derive(Debug)]
pub enum Event {
    Delta(String),
    /// The summary of the finished answer (usage, provider, model, stored message id).
    Done(serde_json::Value),
    Error(Problem),
}

impl Event {
    fn to_sse(&self) -> SseEvent {
        match self {
            Event::Delta(text) => SseEvent::default()
                .event("delta")
                .data(serde_json::json!({ "text": text }).to_string()),
            Event::Done(summary) => SseEvent::default().event("done").data(summary.to_string()),
            Event::Error(problem) => SseEvent::default()
                .event("error")
                .data(serde_json::to_string(problem).unwrap_or_default()),
        }
    }
}

/// Where a streamed answer goes: the client's event channel, and the text so far (kept
/// for storing the answer, also when the stream ends early).
#[derive(Clone)]
pub struct Sink {
    tx: mpsc::UnboundedSender<Event>,
    text: Arc<Mutex<String>>,
}

impl Sink {
    /// The text streamed so far.
    pub fn text(&self) -> String {
        self.text.lock().expect("stream text").clone()
    }

    /// Sends the final event; false when the client is gone.
    pub fn send(&self, event: Event) -> bool {
        self.tx.send(event).is_ok()
    }

    /// The plugin-facing side for one provider attempt; `started` turns true with the
    /// first delta (after which no other provider may take over).
    pub fn for_attempt(&self, started: Arc<AtomicBool>) -> AttemptSink {
        AttemptSink {
            sink: self.clone(),
            started,
        }
    }
}

/// The sink one plugin call writes to.
pub struct AttemptSink {
    sink: Sink,
    started: Arc<AtomicBool>,
}

impl DeltaSink for AttemptSink {
    fn deliver(&mut self, text: String) -> bool {
        self.started.store(true, Ordering::SeqCst);
        self.sink.text.lock().expect("stream text").push_str(&text);
        self.sink.send(Event::Delta(text))
    }
}

/// A channel for one streamed answer. The channel is unbounded because the sink cannot
/// wait (the plugin hands deltas over synchronously) and an answer is bounded by its
/// token limit; a slow client costs at most one answer's text.
pub fn channel() -> (Sink, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Sink {
            tx,
            text: Arc::new(Mutex::new(String::new())),
        },
        rx,
    )
}

/// The client's event stream. It holds `cancel`: when the client disconnects, axum drops
/// the stream, the sender goes with it and the receiving side cancels the provider call.
pub fn sse(
    mut rx: mpsc::UnboundedReceiver<Event>,
    cancel: oneshot::Sender<()>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let events = async_stream::stream! {
        let _cancel_on_drop = cancel;
        while let Some(event) = rx.recv().await {
            let last = !matches!(event, Event::Delta(_));
            yield Ok(event.to_sse());
            if last {
                break;
            }
        }
    };
    Sse::new(events).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn deltas_pass_one_by_one_and_a_dropped_client_cancels() {
        let (sink, rx) = channel();
        let (cancel, mut cancelled) = oneshot::channel();
        let mut plugin_side = sink.for_attempt(Arc::new(AtomicBool::new(false)));
        let body = sse(rx, cancel).into_response_body();
        let mut body = Box::pin(body);
        assert!(plugin_side.deliver("Hel".into()));
        let first = body.next().await.expect("an event");
        assert!(first.contains("event: delta"), "{first}");
        assert!(first.contains("Hel"), "{first}");
        assert!(plugin_side.deliver("lo".into()));
        assert!(body.next().await.expect("an event").contains("lo"));
        assert_eq!(sink.text(), "Hello");
        assert!(
            cancelled.try_recv().is_err(),
            "not cancelled while listening"
        );
        drop(body);
        assert!(
            !plugin_side.deliver("!".into()),
            "the sink reports the client gone"
        );
        assert!(matches!(
            cancelled.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }

    trait IntoBody {
        fn into_response_body(self) -> impl Stream<Item = String>;
    }

    impl<S: Stream<Item = Result<SseEvent, Infallible>> + Send + 'static> IntoBody for Sse<S> {
        fn into_response_body(self) -> impl Stream<Item = String> {
            use axum::response::IntoResponse;
            let body = self.into_response().into_body().into_data_stream();
            body.map(|chunk| String::from_utf8_lossy(&chunk.expect("chunk")).into_owned())
        }
    }
}
