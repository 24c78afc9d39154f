//! Host bindings of the `plugboard:plugin` contract, generated from `wit/`.
//!
//! Kept in their own crate because `bindgen!` expansion is slow to compile and changes only
//! when the contract does; the host implements the generated traits.

/// Host resource behind `http.body-stream`: a response body read chunk by chunk.
pub struct BodyStream {
    pub inner: Box<dyn BodyChunks>,
}

/// Host resource behind `sink.completion-sink`: where streamed AI output goes.
pub struct CompletionSink {
    pub inner: Box<dyn DeltaSink>,
}

/// The next chunk of a body: `None` at the end, `Err` with a description on failure.
pub type NextChunk<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Vec<u8>>, String>> + Send + 'a>,
>;

/// Source of body chunks for `BodyStream` (implemented by the host's HTTP capability).
pub trait BodyChunks: Send + 'static {
    fn next_chunk(&mut self) -> NextChunk<'_>;
}

/// Receiver of streamed text deltas (implemented by the host's AI streaming).
pub trait DeltaSink: Send + 'static {
    /// Returns false when the receiver is gone and generation should stop.
    fn deliver(&mut self, text: String) -> bool;
}

pub mod platform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "platform",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plugboard:plugin/http.body-stream": crate::BodyStream,
        },
    });
}

pub mod ai {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "ai-provider",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plugboard:plugin/types": crate::platform::plugboard::plugin::types,
            "plugboard:plugin/http": crate::platform::plugboard::plugin::http,
            "plugboard:plugin/media": crate::platform::plugboard::plugin::media,
            "plugboard:plugin/storage": crate::platform::plugboard::plugin::storage,
            "plugboard:plugin/secrets": crate::platform::plugboard::plugin::secrets,
            "plugboard:plugin/log": crate::platform::plugboard::plugin::log,
            "plugboard:plugin/sink.completion-sink": crate::CompletionSink,
        },
    });
}
