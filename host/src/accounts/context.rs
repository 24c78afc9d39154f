//! What a plugin call acting for an account gets: the account's credentials and
//! properties, and the settings of the app it was connected through.

use super::AccountError;
use super::apps::settings_of;
use crate::app::App;
use crate::crypto::credentials::SecretMap;
use crate::runtime::state::{AccountContext, CallContext};
use crate::store::accounts::{self as store, ACTIVE, AccountRow};
use std::collections::HashMap;

/// The context for calls acting for an active account of the workspace: decrypted
/// credentials and properties as the account values, the app settings as app secrets.
pub async fn call_context(
    app: &App,
    workspace_id: &str,
    account_id: &str,
) -> Result<CallContext, AccountError> {
    let row = store::get(&app.db, workspace_id, account_id)
        .await?
        .ok_or_else(|| AccountError::NotFound(format!("account `{account_id}` not found")))?;
    if row.status != ACTIVE {
        return Err(AccountError::Conflict {
            kind: "account-not-active",
            detail: format!(
                "account `{account_id}` is {}; it cannot be used until it is connected (and selected)",
                row.status
            ),
        });
    }
    // A sub-account without credentials of its own acts with its parent's.
    let parent = match (&row.credentials, &row.parent_account_id) {
        (None, Some(pid)) => store::get(&app.db, workspace_id, pid).await?,
        _ => None,
    };
    context_of(app, &row, parent.as_ref()).await
}

/// The context of `row`, with `parent`'s credentials underneath its own when given.
pub(super) async fn context_of(
    app: &App,
    row: &AccountRow,
    parent: Option<&AccountRow>,
) -> Result<CallContext, AccountError> {
    // Credentials over properties (they are the authority), the account's own over its
    // parent's.
    let mut values: HashMap<String, String> =
        serde_json::from_str(&row.properties).map_err(anyhow::Error::from)?;
    for source in parent.iter().copied().chain(std::iter::once(row)) {
        if let Some(sealed) = &source.credentials {
            let creds: SecretMap = app.cipher.open_json(sealed)?;
            values.extend(creds.0);
        }
    }
    let app_id = row
        .app_id
        .as_ref()
        .or(parent.and_then(|p| p.app_id.as_ref()));
    let app_secrets = match app_id {
        Some(id) => match crate::store::apps::get_any(&app.db, id).await? {
            Some(a) => settings_of(app, &a)?.0.into_iter().collect(),
            None => HashMap::new(),
        },
        None => HashMap::new(),
    };
    Ok(CallContext {
        account: Some(AccountContext {
            id: row.id.clone(),
            values,
        }),
        app_secrets,
        ..Default::default()
    })
}
