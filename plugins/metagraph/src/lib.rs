//! Meta Graph API code shared by the `facebook` and `instagram` plugins.
//!
//! - [`graph`]: the API version and URLs, Graph's error envelope, the usage header's
//!   regain time, timestamps, and the answer shapes both plugins read (fields, insights,
//!   comment paging).
//! - [`webhook`]: the `hub.challenge` handshake and `X-Hub-Signature-256` verification;
//!   each plugin turns the verified payload into its own events.
//!
//! What each platform maps differently (which error codes mean what, its hosts, its
//! limits) stays in the plugin.

pub mod graph;
pub mod webhook;
