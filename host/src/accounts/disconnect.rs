//! Disconnecting an account: the grant is revoked at the platform (best effort: a failure
//! is recorded, not fatal), then the credentials are wiped and the account kept as
//! disconnected so it can be reconnected.

use super::context::context_of;
use super::{AccountError, plugin_error_text};
use crate::app::App;
use crate::store::accounts::{self as store, DISCONNECTED, PENDING_SELECTION};
use crate::store::activity::{self, Entry};
use chrono::Utc;
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use serde_json::json;

/// What happened at the platform.
#[derive(Debug)]
pub struct Disconnected {
    /// Why revoking the grant at the platform failed, if it did.
    pub revoke_error: Option<String>,
}

pub async fn disconnect(
    app: &App,
    workspace_id: &str,
    actor_id: &str,
    account_id: &str,
) -> Result<Disconnected, AccountError> {
    let row = store::get(&app.db, workspace_id, account_id)
        .await?
        .ok_or_else(|| AccountError::NotFound(format!("account `{account_id}` not found")))?;
    // Only a grant of its own is revoked: a sub-account acting with its parent's
    // credentials must not revoke the parent's grant.
    let revoke_error = match (&row.credentials, row.status == DISCONNECTED) {
        (Some(_), false) => {
            let ctx = context_of(app, &row, None).await?;
            let outcome = match app.runtime.platform(&row.plugin_id, "revoke", ctx).await {
                Ok(call) => call.revoke().await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(Ok(())) | Ok(Err(PluginError::Unsupported(_))) => None,
                Ok(Err(e)) => Some(plugin_error_text(&e)),
                Err(e) => Some(e.to_string()),
            }
        }
        _ => None,
    };
    if let Some(e) = &revoke_error {
        tracing::warn!(account = %account_id, plugin = %row.plugin_id, error = %e, "revoking the grant at the platform failed; disconnecting anyway");
    }
    let now = Utc::now();
    let mut tx = app.db.write_tx(&format!("accounts:{workspace_id}")).await?;
    let Some(mut current) = store::get_in(&app.db, &mut tx, account_id).await? else {
        return Err(AccountError::NotFound(format!(
            "account `{account_id}` not found"
        )));
    };
    let wipe = |a: &mut store::AccountRow| {
        a.status = DISCONNECTED.into();
        a.credentials = None;
        a.expires_at = None;
        a.needs_reconnect = false;
        a.updated_at = now;
    };
    wipe(&mut current);
    current.last_error = revoke_error
        .as_ref()
        .map(|e| format!("revoking at the platform failed: {e}"));
    store::update(&app.db, &mut tx, &current).await?;
    // Sub-accounts came with this grant: offers are dropped, connected ones go with it.
    for mut child in store::children(&app.db, &mut tx, account_id).await? {
        if child.status == PENDING_SELECTION {
            store::delete(&app.db, &mut tx, &child.id).await?;
        } else if child.status != DISCONNECTED {
            wipe(&mut child);
            store::update(&app.db, &mut tx, &child).await?;
        }
    }
    activity::record_in(
        &app.db,
        &mut tx,
        Entry {
            workspace_id,
            actor_id: Some(actor_id),
            action: "account.disconnected",
            subject_type: "account",
            subject_id: Some(account_id),
            details: json!({"plugin": current.plugin_id, "remote_id": current.remote_id, "revoke_error": revoke_error}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Disconnected { revoke_error })
}
