//! Generated files handed to the host for storage.

use plugboard_sdk::wit::platform::plugboard::plugin::media::{self, MediaError};
use plugboard_sdk::{MediaRef, PluginError};

/// Stores `bytes` as a new media object of the call's workspace.
pub fn store(mime_type: &str, bytes: &[u8]) -> Result<MediaRef, PluginError> {
    media::create(mime_type, bytes).map_err(|e| match e {
        MediaError::UnknownHandle(h) => PluginError::Permanent(format!("unknown media {h}")),
        MediaError::Failed(m) => PluginError::Transient(format!("storing generated media: {m}")),
    })
}
