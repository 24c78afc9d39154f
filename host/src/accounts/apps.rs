//! Platform apps: the developer-app settings (client id and secret, instance URL, API key,
//! redirect URI, …) a plugin acts with, registered by a workspace or by the operator for
//! the whole server. Settings are stored sealed and shown masked.

use super::AccountError;
use crate::app::App;
use crate::crypto::credentials::SecretMap;
use crate::store::apps::{self as store, AppRow, Owner};
use std::collections::BTreeMap;

/// What a secret setting looks like in responses.
pub const MASK: &str = "••••";
pub const MAX_SETTINGS: usize = 50;
pub const MAX_SETTING_NAME: usize = 64;
pub const MAX_SETTING_VALUE: usize = 8192;
pub const MAX_APP_NAME_CHARS: usize = 100;

/// Settings whose values are never shown: anything named like a secret.
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["secret", "key", "token", "password"]
        .iter()
        .any(|w| n.contains(w))
}

/// Setting names with non-secret values shown and secret ones masked.
pub fn masked(settings: &SecretMap) -> BTreeMap<String, String> {
    settings
        .0
        .iter()
        .map(|(k, v)| {
            let shown = if is_secret(k) {
                MASK.to_string()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

/// Settings that are URLs the host itself uses or hands to a browser.
const URL_SETTINGS: &[&str] = &["redirect_uri", "instance_url"];

/// Checks one setting; the error says what is wrong with it.
pub fn check_setting(name: &str, value: &str) -> Result<(), String> {
    let name_ok = !name.is_empty()
        && name.len() <= MAX_SETTING_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !name_ok {
        return Err(format!(
            "setting names are 1–{MAX_SETTING_NAME} lowercase letters, digits or `_`, starting with a letter"
        ));
    }
    if value.len() > MAX_SETTING_VALUE {
        return Err(format!("must be at most {MAX_SETTING_VALUE} bytes"));
    }
    if URL_SETTINGS.contains(&name) {
        let ok = url::Url::parse(value)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .unwrap_or(false);
        if !ok {
            return Err("must be an absolute http(s) URL".into());
        }
    }
    Ok(())
}

/// The decrypted settings of an app.
pub fn settings_of(app: &App, row: &AppRow) -> Result<SecretMap, AccountError> {
    Ok(app.cipher.open_json(&row.settings)?)
}

/// The app a connection uses: the one asked for (the workspace's own or a server-wide one,
/// of this plugin), else the workspace's only app of the plugin, else the server's only
/// one, else none (plugins that need no app settings).
pub async fn choose(
    app: &App,
    workspace_id: &str,
    plugin: &str,
    app_id: Option<&str>,
) -> Result<Option<AppRow>, AccountError> {
    if let Some(id) = app_id {
        return match store::get_usable(&app.db, workspace_id, id).await? {
            Some(row) if row.plugin_id == plugin => Ok(Some(row)),
            Some(row) => Err(AccountError::Invalid {
                kind: "app-plugin-mismatch",
                detail: format!(
                    "app `{id}` is for plugin `{}`, not `{plugin}`",
                    row.plugin_id
                ),
            }),
            None => Err(AccountError::NotFound(format!("app `{id}` not found"))),
        };
    }
    for owner in [Owner::Workspace(workspace_id), Owner::Server] {
        let mut found = store::list_for_plugin(&app.db, owner, plugin).await?;
        match found.len() {
            0 => continue,
            1 => return Ok(found.pop()),
            n => {
                return Err(AccountError::Invalid {
                    kind: "app-required",
                    detail: format!(
                        "there are {n} apps for `{plugin}`; say which with `app_id` ({})",
                        found
                            .iter()
                            .map(|a| a.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_by_name() {
        let s = SecretMap(BTreeMap::from([
            ("client_id".to_string(), "abc".to_string()),
            ("client_secret".to_string(), "s3cret".to_string()),
            ("api_key".to_string(), "k".to_string()),
            ("bot_token".to_string(), "t".to_string()),
            ("Password".to_string(), "p".to_string()),
            ("instance_url".to_string(), "https://m.example".to_string()),
        ]));
        let shown = masked(&s);
        assert_eq!(shown["client_id"], "abc");
        assert_eq!(shown["instance_url"], "https://m.example");
        for secret in ["client_secret", "api_key", "bot_token", "Password"] {
            assert_eq!(shown[secret], MASK);
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(check_setting("client_id", "x").is_ok());
        assert!(check_setting("Client", "x").is_err());
        assert!(check_setting("", "x").is_err());
        assert!(check_setting("a-b", "x").is_err());
        assert!(check_setting("redirect_uri", "javascript:alert(1)").is_err());
        assert!(check_setting("instance_url", "https://mastodon.social").is_ok());
        assert!(check_setting("x", &"v".repeat(MAX_SETTING_VALUE + 1)).is_err());
    }
}
