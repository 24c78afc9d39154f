//! The plugin's private key-value storage.

use crate::PluginError;
pub use crate::wit::platform::plugboard::plugin::storage::{
    StorageError, compare_and_swap, delete, get, increment, list_keys, set,
};

/// Maps a storage failure to a plugin error (quota problems are permanent).
pub fn to_plugin_error(e: StorageError) -> PluginError {
    match e {
        StorageError::QuotaExceeded(q) => {
            PluginError::Permanent(format!("plugin storage quota of {q} bytes exceeded"))
        }
        StorageError::InvalidKey(k) => PluginError::Permanent(format!("invalid storage key {k}")),
        StorageError::Failed(m) => PluginError::Transient(m),
    }
}

/// Reads a UTF-8 string value.
pub fn get_string(key: &str) -> Result<Option<String>, PluginError> {
    Ok(get(key)
        .map_err(to_plugin_error)?
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Writes a UTF-8 string value.
pub fn set_string(key: &str, value: &str) -> Result<(), PluginError> {
    set(key, value.as_bytes()).map_err(to_plugin_error)
}
