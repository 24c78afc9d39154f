//! Token refresh: the plugin's `refresh` now, its new values merged into the stored ones,
//! the account's health updated either way. Used by the API and by the job scheduler.

use super::context::context_of;
use super::{AccountError, from_unix, merge_credentials, plugin_error_text};
use crate::app::App;
use crate::crypto::credentials::SecretMap;
use crate::store::accounts::{self as store, ACTIVE, AccountRow};
use crate::store::activity::{self, Entry};
use chrono::Utc;
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use serde_json::json;

/// Refreshes an active account's credentials. On failure the account keeps its
/// credentials and records the error; an authorization the platform no longer accepts
/// marks it as needing a reconnect.
pub async fn refresh(app: &App, account_id: &str) -> Result<AccountRow, AccountError> {
    let row = store::get_any(&app.db, account_id)
        .await?
        .ok_or_else(|| AccountError::NotFound(format!("account `{account_id}` not found")))?;
    if row.status != ACTIVE {
        return Err(AccountError::Conflict {
            kind: "account-not-active",
            detail: format!(
                "account `{account_id}` is {}; only active accounts are refreshed",
                row.status
            ),
        });
    }
    if row.credentials.is_none() {
        let detail = match &row.parent_account_id {
            Some(p) => format!(
                "account `{account_id}` acts with the credentials of account `{p}`: refresh that one"
            ),
            None => format!("account `{account_id}` has no credentials to refresh"),
        };
        return Err(AccountError::Conflict {
            kind: "nothing-to-refresh",
            detail,
        });
    }
    let ctx = context_of(app, &row, None).await?;
    let outcome = match app.runtime.platform(&row.plugin_id, "refresh", ctx).await {
        Ok(call) => call.refresh().await,
        Err(e) => Err(e),
    };
    let failure = match outcome {
        Ok(Ok(creds)) => {
            let mut tx = app.db.write_tx(&format!("account:{account_id}")).await?;
            // Re-read inside the transaction: a reconnect may have changed the credentials
            // while the plugin was running.
            let mut current = store::get_in(&app.db, &mut tx, account_id)
                .await?
                .ok_or_else(|| {
                    AccountError::NotFound(format!("account `{account_id}` not found"))
                })?;
            let old: SecretMap = match &current.credentials {
                Some(sealed) => app.cipher.open_json(sealed)?,
                None => SecretMap::default(),
            };
            let now = Utc::now();
            current.credentials = Some(
                app.cipher
                    .seal_json(&merge_credentials(&old, &creds.values))?,
            );
            current.expires_at = creds.expires_at.and_then(from_unix);
            current.last_refresh_at = Some(now);
            current.last_error = None;
            current.needs_reconnect = false;
            current.updated_at = now;
            store::update(&app.db, &mut tx, &current).await?;
            tx.commit().await?;
            return Ok(current);
        }
        Ok(Err(PluginError::Unsupported(m))) => {
            return Err(AccountError::Invalid {
                kind: "refresh-unsupported",
                detail: format!("`{}` credentials cannot be refreshed: {m}", row.plugin_id),
            });
        }
        Ok(Err(error)) => AccountError::Plugin {
            plugin: row.plugin_id.clone(),
            error,
        },
        Err(call) => AccountError::Call(call),
    };
    // Only the platform's refusal means the grant is gone; a timeout or outage does not.
    let reconnect = matches!(
        &failure,
        AccountError::Plugin {
            error: PluginError::AuthExpired(_) | PluginError::Permanent(_),
            ..
        }
    );
    let message = match &failure {
        AccountError::Plugin { error, .. } => plugin_error_text(error),
        other => other.to_string(),
    };
    let mut tx = app.db.write_tx(&format!("account:{account_id}")).await?;
    if let Some(mut current) = store::get_in(&app.db, &mut tx, account_id).await? {
        current.last_error = Some(message.clone());
        current.needs_reconnect = current.needs_reconnect || reconnect;
        current.updated_at = Utc::now();
        store::update(&app.db, &mut tx, &current).await?;
        activity::record_in(
            &app.db,
            &mut tx,
            Entry {
                workspace_id: &current.workspace_id,
                actor_id: None,
                action: "account.refresh_failed",
                subject_type: "account",
                subject_id: Some(&current.id),
                details: json!({"plugin": current.plugin_id, "error": message, "needs_reconnect": current.needs_reconnect}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::warn!(account = %account_id, plugin = %row.plugin_id, error = %message, "refreshing account credentials failed");
    Err(failure)
}
