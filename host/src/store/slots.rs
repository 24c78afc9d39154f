//! Queue slots of accounts, and the instants their targets already hold.

use super::{Db, Tx};
use crate::on_db;
use crate::posts::slots::Slot;
use anyhow::{Context, Result};
use chrono::Utc;
use std::collections::HashSet;

/// An account's slot set as stored.
pub struct SlotSet {
    pub timezone: String,
    pub slots: Vec<Slot>,
}

/// Whether the account belongs to the workspace (whatever its status).
pub async fn account_exists(db: &Db, workspace_id: &str, account_id: &str) -> Result<bool> {
    let sql = db.sql("SELECT COUNT(*) FROM accounts WHERE id = ? AND workspace_id = ?");
    let n: i64 = on_db!(db, |p| sqlx::query_scalar(sql)
        .bind(account_id)
        .bind(workspace_id)
        .fetch_one(p)
        .await?);
    Ok(n > 0)
}

pub async fn get(db: &Db, workspace_id: &str, account_id: &str) -> Result<Option<SlotSet>> {
    let sql = db
        .sql("SELECT timezone, slots FROM account_slots WHERE account_id = ? AND workspace_id = ?");
    let row: Option<(String, String)> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(account_id)
        .bind(workspace_id)
        .fetch_optional(p)
        .await?);
    row.map(|(timezone, slots)| {
        Ok(SlotSet {
            timezone,
            slots: serde_json::from_str(&slots).context("stored queue slots")?,
        })
    })
    .transpose()
}

/// Replaces the account's slot set.
pub async fn put(db: &Db, workspace_id: &str, account_id: &str, set: &SlotSet) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO account_slots (account_id, workspace_id, timezone, slots, updated_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (account_id) DO UPDATE SET timezone = excluded.timezone, slots = excluded.slots, updated_at = excluded.updated_at",
    );
    let slots = serde_json::to_string(&set.slots)?;
    on_db!(db, |p| sqlx::query(sql)
        .bind(account_id)
        .bind(workspace_id)
        .bind(&set.timezone)
        .bind(&slots)
        .bind(Utc::now())
        .execute(p)
        .await
        .map(|_| ()))?;
    Ok(())
}

// A target holds its instant unless it went back to draft or failed (both keep a stale
// `scheduled_at`).
const TAKEN: &str = "SELECT scheduled_at FROM post_targets WHERE workspace_id = ? AND account_id = ? AND post_id <> ? \
     AND scheduled_at > ? AND status NOT IN ('draft', 'failed')";

/// Instants (Unix ms) after `after_ms` held by targets of the account, except those of
/// post `except_post` (a post being queued again gives up its own slots).
pub async fn taken(
    db: &Db,
    tx: &mut Tx,
    workspace_id: &str,
    account_id: &str,
    after_ms: i64,
    except_post: &str,
) -> Result<HashSet<i64>> {
    let sql = db.sql(TAKEN);
    let rows: Vec<Option<i64>> = crate::on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(workspace_id)
        .bind(account_id)
        .bind(except_post)
        .bind(after_ms)
        .fetch_all(&mut **c)
        .await?);
    Ok(rows.into_iter().flatten().collect())
}

/// As [`taken`], outside a transaction (for showing which slots are free).
pub async fn taken_now(
    db: &Db,
    workspace_id: &str,
    account_id: &str,
    after_ms: i64,
) -> Result<HashSet<i64>> {
    let sql = db.sql(TAKEN);
    let rows: Vec<Option<i64>> = on_db!(db, |p| sqlx::query_scalar(sql)
        .bind(workspace_id)
        .bind(account_id)
        .bind("")
        .bind(after_ms)
        .fetch_all(p)
        .await?);
    Ok(rows.into_iter().flatten().collect())
}
