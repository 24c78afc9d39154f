//! Capabilities the host offers plugins: one module per capability, each checking the
//! plugin's effective grants on every use.

pub mod http;
pub mod ledger;
pub mod log;
pub mod media;
pub mod secrets;
pub mod sink;
pub mod storage;

use std::sync::Arc;

/// Process-wide services the capabilities use; shared by every call.
pub struct Services {
    pub http: http::HttpService,
    pub storage: Arc<dyn storage::KvStore>,
    pub media: Arc<media::MediaService>,
}

/// The generated `types` interface has no functions, only the marker trait.
impl plugboard_bindings::platform::plugboard::plugin::types::Host for super::state::HostState {}
