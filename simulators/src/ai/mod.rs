//! Machinery shared by the AI provider simulators (OpenAI, Anthropic, Gemini): the request
//! record, the fault queue, API keys that can be revoked, a request quota, server-sent event
//! streams that notice a client leaving, deterministic answers derived from the prompt, and
//! real small PNG and WAV files.
//!
//! Each provider module owns its routes and its error envelopes (through [`Envelope`]);
//! everything here is protocol-neutral.

pub(crate) mod admin;
pub(crate) mod answer;
mod core;
mod faults;
pub(crate) mod files;
mod handle;
mod record;
pub(crate) mod sse;

pub(crate) use core::{Call, Core, Envelope, Field, intercept, multipart, presented_key};
pub use faults::{AiFault, AiFaultAction};
pub use handle::AiSim;
pub use record::{AiPart, AiRequest, StreamRecord};

/// Path prefix of the simulators' own controls; never recorded or faulted.
pub(crate) const ADMIN_PREFIX: &str = "/__sim/";
