//! Wire code shared by the AI provider plugins.
//!
//! - [`sse`]: server-sent events read from a host body stream, event by event.
//! - [`errors`]: HTTP failures and provider error bodies mapped onto `plugin-error`, with
//!   the retry delay read from whichever rate-limit header the provider sends.
//! - [`request`]: reading the contract's completion request (options, messages).
//! - [`media`]: storing generated files through the host.
//! - [`openai`]: the OpenAI protocol (Chat Completions, Responses, images, speech, models),
//!   spoken by the `openai`, `xai` and `compatible` plugins.

pub mod errors;
pub mod media;
pub mod openai;
pub mod request;
pub mod sse;

pub use plugboard_sdk::wit::ai::exports::plugboard::plugin::provider::{
    Capability, Completion, CompletionRequest, ImageRequest, Message, ModelInfo, ProviderInfo,
    Role, SpeechRequest, Usage,
};
pub use plugboard_sdk::wit::ai::plugboard::plugin::sink::CompletionSink;

use plugboard_sdk::PluginError;

/// The `describe()` entry of each offered model: id, capabilities, context window (tokens).
pub fn model_infos(models: &[(&str, &[Capability], Option<u32>)]) -> Vec<ModelInfo> {
    models
        .iter()
        .map(|(id, caps, window)| ModelInfo {
            id: (*id).into(),
            capabilities: caps.to_vec(),
            context_window: *window,
        })
        .collect()
}

/// A token count from a provider's usage object: 0 when absent or out of range.
pub fn token_count(v: &serde_json::Value) -> u32 {
    v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

/// Hands a delta to the host; an error means the client went away, so the caller stops
/// reading (dropping the response stream closes the connection, and the provider stops
/// generating).
pub fn deliver(sink: &CompletionSink, text: &str) -> Result<(), PluginError> {
    if text.is_empty() {
        return Ok(());
    }
    sink.delta(text)
        .map_err(|()| PluginError::Transient("the client cancelled the stream".into()))
}
