//! App secrets granted to the plugin and the current account's credentials.

use crate::PluginError;
use crate::wit::platform::plugboard::plugin::secrets::{self as raw, SecretError};

fn to_plugin_error(e: SecretError) -> PluginError {
    match e {
        SecretError::NotGranted(msg) => PluginError::Permanent(msg),
        SecretError::NoAccount => {
            PluginError::Permanent("this operation needs a connected account".into())
        }
    }
}

/// An app secret or setting, if configured.
pub fn app(name: &str) -> Result<Option<String>, PluginError> {
    raw::app(name).map_err(to_plugin_error)
}

/// An app secret that must be configured.
pub fn app_required(name: &str) -> Result<String, PluginError> {
    app(name)?.ok_or_else(|| {
        PluginError::Permanent(format!(
            "the platform app has no '{name}' configured; set it in the app settings"
        ))
    })
}

/// A credential or property of the current account, if present.
pub fn account(name: &str) -> Result<Option<String>, PluginError> {
    raw::account(name).map_err(to_plugin_error)
}

/// A credential that must be present; its absence means the account must reconnect.
pub fn account_required(name: &str) -> Result<String, PluginError> {
    account(name)?.ok_or_else(|| {
        PluginError::AuthExpired(format!("the account has no '{name}'; reconnect it"))
    })
}
