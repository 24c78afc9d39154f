//! Protocol simulators of the platforms Plugboard publishes to.
//!
//! Each simulator is a real HTTP server on 127.0.0.1 that speaks the platform's
//! API closely enough for a plugin to run its whole flow against it, records
//! what it was sent, and can be told to misbehave, so that end-to-end tests
//! exercise the failure paths real platforms produce.

pub mod mastodon;

pub use mastodon::{
    Fault, FaultAction, MastodonConfig, MastodonSim, RecordedPart, RecordedRequest, RecordedStatus,
};
