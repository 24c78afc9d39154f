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

/// How long a refresh may hold its account before another worker may try.
const LEASE_MS: i64 = 60_000;

/// Refreshes the account's credentials through its plugin. Only one refresh of an account
/// runs at a time, across workers and nodes: a caller that finds one in flight waits for
/// it and takes its result instead of refreshing again.
///
/// A sub-account that acts with its parent's credentials (a LinkedIn organization posting
/// with its administrator's token) is refreshed by refreshing the parent.
pub async fn refresh(app: &App, account_id: &str) -> Result<AccountRow, AccountError> {
    let not_found = || AccountError::NotFound(format!("account `{account_id}` not found"));
    let row = store::get_any(&app.db, account_id)
        .await?
        .ok_or_else(not_found)?;
    if row.credentials.is_none()
        && let Some(parent) = &row.parent_account_id
    {
        refresh_own(app, parent).await?;
        return store::get_any(&app.db, account_id)
            .await?
            .ok_or_else(not_found);
    }
    refresh_own(app, account_id).await
}

/// [`refresh`] of an account with credentials of its own, under its refresh lease.
async fn refresh_own(app: &App, account_id: &str) -> Result<AccountRow, AccountError> {
    let claim = app.db.sql(
        "UPDATE accounts SET refresh_lease_until = ? WHERE id = ? AND (refresh_lease_until IS NULL OR refresh_lease_until < ?)",
    );
    let now = crate::jobs::now_ms();
    let won: u64 = crate::on_db!(&app.db, |p| sqlx::query(claim)
        .bind(now + LEASE_MS)
        .bind(account_id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
    if won == 1 {
        let result = refresh_now(app, account_id).await;
        let release = app
            .db
            .sql("UPDATE accounts SET refresh_lease_until = NULL WHERE id = ?");
        crate::on_db!(&app.db, |p| sqlx::query(release)
            .bind(account_id)
            .execute(p)
            .await
            .map(|_| ()))?;
        return result;
    }
    // Someone else is refreshing: wait for the lease to be released (or to lapse).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(LEASE_MS as u64);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let check = app
            .db
            .sql("SELECT refresh_lease_until FROM accounts WHERE id = ?");
        let lease: Option<Option<i64>> = crate::on_db!(&app.db, |p| sqlx::query_scalar(check)
            .bind(account_id)
            .fetch_optional(p)
            .await)?;
        let free = match lease {
            None => {
                return Err(AccountError::NotFound(format!(
                    "account `{account_id}` not found"
                )));
            }
            Some(l) => l.is_none_or(|until| until < crate::jobs::now_ms()),
        };
        if free || tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    let row = store::get_any(&app.db, account_id)
        .await?
        .ok_or_else(|| AccountError::NotFound(format!("account `{account_id}` not found")))?;
    if row.needs_reconnect {
        return Err(AccountError::Conflict {
            kind: "needs-reconnect",
            detail: format!(
                "refreshing account `{account_id}` failed: {}",
                row.last_error
                    .clone()
                    .unwrap_or_else(|| "reconnect it".into())
            ),
        });
    }
    Ok(row)
}

/// Refreshes an active account's credentials. On failure the account keeps its
/// credentials and records the error; an authorization the platform no longer accepts
/// marks it as needing a reconnect.
async fn refresh_now(app: &App, account_id: &str) -> Result<AccountRow, AccountError> {
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
