//! The comments inbox: items (comments and mentions of connected accounts), their log,
//! auto-reply rules, polling cursors, and the inbound webhook events already taken in.

use super::{Db, Tx};
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub const PENDING: &str = "pending";
pub const HANDLED: &str = "handled";
pub const IGNORED: &str = "ignored";

/// One comment or mention.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Item {
    pub id: String,
    pub workspace_id: String,
    pub account_id: String,
    pub plugin_id: String,
    /// `comment` or `mention`.
    pub kind: String,
    pub remote_id: String,
    pub post_remote_id: Option<String>,
    pub parent_remote_id: Option<String>,
    /// The post target the comment is on, when it is one of this workspace's.
    pub target_id: Option<String>,
    pub author_name: String,
    pub author_id: Option<String>,
    pub text: String,
    pub remote_created_at: DateTime<Utc>,
    /// `webhook` or `poll`.
    pub source: String,
    /// `pending`, `handled` or `ignored`.
    pub state: String,
    pub draft: Option<String>,
    /// Who wrote the draft: `ai`, `person` or `rule`.
    pub draft_source: Option<String>,
    /// None, `queued`, `sent` or `failed`.
    pub reply_status: Option<String>,
    pub reply_text: Option<String>,
    pub reply_remote_id: Option<String>,
    pub reply_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A comment as it arrives, before it has an id.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub workspace_id: String,
    pub account_id: String,
    pub plugin_id: String,
    pub kind: &'static str,
    pub remote_id: String,
    pub post_remote_id: Option<String>,
    pub parent_remote_id: Option<String>,
    pub author_name: String,
    pub author_id: Option<String>,
    pub text: String,
    pub remote_created_at: DateTime<Utc>,
    pub source: &'static str,
}

/// Adds an item unless the account already has this remote comment; returns the new id.
/// The target is the workspace's published target with that remote post id, if any.
pub async fn insert(db: &Db, tx: &mut Tx, item: &NewItem) -> Result<Option<String>> {
    let target: Option<String> = match &item.post_remote_id {
        Some(remote) => {
            let sql = db.sql(
                "SELECT id FROM post_targets WHERE account_id = ? AND workspace_id = ? AND remote_id = ? LIMIT 1",
            );
            on_tx!(tx, |c| sqlx::query_scalar(sql)
                .bind(&item.account_id)
                .bind(&item.workspace_id)
                .bind(remote)
                .fetch_optional(&mut **c)
                .await?)
        }
        None => None,
    };
    let id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now();
    let sql = db.sql(
        "INSERT INTO inbox_items (id, workspace_id, account_id, plugin_id, kind, remote_id, post_remote_id, parent_remote_id, target_id, author_name, author_id, text, remote_created_at, source, state, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
    );
    let n = on_tx!(tx, |c| sqlx::query(sql)
        .bind(&id)
        .bind(&item.workspace_id)
        .bind(&item.account_id)
        .bind(&item.plugin_id)
        .bind(item.kind)
        .bind(&item.remote_id)
        .bind(&item.post_remote_id)
        .bind(&item.parent_remote_id)
        .bind(&target)
        .bind(&item.author_name)
        .bind(&item.author_id)
        .bind(&item.text)
        .bind(item.remote_created_at)
        .bind(item.source)
        .bind(now)
        .bind(now)
        .execute(&mut **c)
        .await?
        .rows_affected());
    Ok((n == 1).then_some(id))
}

pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Option<Item>> {
    let sql = db.sql("SELECT * FROM inbox_items WHERE id = ? AND workspace_id = ?");
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(p)
        .await?))
}

/// An item by id alone (background work that holds a checked id).
pub async fn get_any(db: &Db, id: &str) -> Result<Option<Item>> {
    let sql = db.sql("SELECT * FROM inbox_items WHERE id = ?");
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await?))
}

/// The item inside a write transaction (read before a change).
pub async fn get_in(db: &Db, tx: &mut Tx, id: &str) -> Result<Option<Item>> {
    let sql = db.sql("SELECT * FROM inbox_items WHERE id = ?");
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut **c)
        .await?))
}

/// Which items to list, newest first.
#[derive(Debug, Default)]
pub struct Filter {
    pub account_id: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    /// Only items older than this id (the previous page's last).
    pub before: Option<String>,
    pub limit: i64,
}

pub async fn list(db: &Db, workspace_id: &str, f: &Filter) -> Result<Vec<Item>> {
    // Absent filters bind NULL and match everything, so one statement serves all.
    let sql = db.sql(
        "SELECT * FROM inbox_items WHERE workspace_id = ? \
         AND (? IS NULL OR account_id = ?) AND (? IS NULL OR state = ?) \
         AND (? IS NULL OR kind = ?) AND (? IS NULL OR id < ?) \
         ORDER BY id DESC LIMIT ?",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(&f.account_id)
        .bind(&f.account_id)
        .bind(&f.state)
        .bind(&f.state)
        .bind(&f.kind)
        .bind(&f.kind)
        .bind(&f.before)
        .bind(&f.before)
        .bind(f.limit)
        .fetch_all(p)
        .await?))
}

pub async fn set_state(db: &Db, tx: &mut Tx, id: &str, state: &str) -> Result<()> {
    let sql = db.sql("UPDATE inbox_items SET state = ?, updated_at = ? WHERE id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(state)
        .bind(Utc::now())
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn set_draft(db: &Db, tx: &mut Tx, id: &str, text: &str, source: &str) -> Result<()> {
    let sql =
        db.sql("UPDATE inbox_items SET draft = ?, draft_source = ?, updated_at = ? WHERE id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(text)
        .bind(source)
        .bind(Utc::now())
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// The reply's progress; `sent` also marks the item handled.
pub struct Reply<'a> {
    pub status: &'a str,
    pub text: Option<&'a str>,
    pub remote_id: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub async fn set_reply(db: &Db, tx: &mut Tx, id: &str, r: &Reply<'_>) -> Result<()> {
    let sql = db.sql(
        "UPDATE inbox_items SET reply_status = ?, reply_text = COALESCE(?, reply_text), reply_remote_id = ?, reply_error = ?, \
         state = CASE WHEN ? = 'sent' THEN 'handled' ELSE state END, updated_at = ? \
         WHERE id = ? AND NOT (? = 'queued' AND COALESCE(reply_status, '') = 'sent')",
    );
    // The reply job is queued before its approval is written (its dedupe key is what keeps
    // two approvals from sending twice) and may already have sent the reply: `queued`
    // never overwrites `sent`.
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(r.status)
        .bind(r.text)
        .bind(r.remote_id)
        .bind(r.error)
        .bind(r.status)
        .bind(Utc::now())
        .bind(id)
        .bind(r.status)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// One entry of an item's log.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LogEntry {
    pub id: String,
    /// The member who acted; None for the server (webhooks, polling, rules, jobs).
    pub actor_id: Option<String>,
    pub action: String,
    /// JSON object.
    pub details: String,
    pub created_at: DateTime<Utc>,
}

pub async fn log(
    db: &Db,
    tx: &mut Tx,
    item_id: &str,
    actor_id: Option<&str>,
    action: &str,
    details: serde_json::Value,
) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO inbox_log (id, item_id, actor_id, action, details, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(item_id)
        .bind(actor_id)
        .bind(action)
        .bind(details.to_string())
        .bind(Utc::now())
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn log_of(db: &Db, item_id: &str) -> Result<Vec<LogEntry>> {
    let sql = db.sql(
        "SELECT id, actor_id, action, details, created_at FROM inbox_log WHERE item_id = ? ORDER BY id",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(item_id)
        .fetch_all(p)
        .await?))
}

/// Records an inbound event key; false when it was already taken in (a replay).
pub async fn claim_event(db: &Db, tx: &mut Tx, plugin_id: &str, key: &str) -> Result<bool> {
    let sql = db.sql(
        "INSERT INTO inbound_events (plugin_id, event_key, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    );
    let n = on_tx!(tx, |c| sqlx::query(sql)
        .bind(plugin_id)
        .bind(key)
        .bind(Utc::now())
        .execute(&mut **c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Where polling of `post_remote_id` ('' for the account) left off.
pub async fn cursor(db: &Db, account_id: &str, post_remote_id: &str) -> Result<Option<String>> {
    let sql =
        db.sql("SELECT cursor FROM comment_cursors WHERE account_id = ? AND post_remote_id = ?");
    let found: Option<Option<String>> = on_db!(db, |p| sqlx::query_scalar(sql)
        .bind(account_id)
        .bind(post_remote_id)
        .fetch_optional(p)
        .await?);
    Ok(found.flatten())
}

pub async fn set_cursor(
    db: &Db,
    tx: &mut Tx,
    account_id: &str,
    post_remote_id: &str,
    cursor: Option<&str>,
) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO comment_cursors (account_id, post_remote_id, cursor, updated_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (account_id, post_remote_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
    );
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(account_id)
        .bind(post_remote_id)
        .bind(cursor)
        .bind(Utc::now())
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// An auto-reply rule of an account.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Rule {
    pub id: String,
    pub account_id: String,
    /// Matched case-insensitively anywhere in the comment's text.
    pub keyword: String,
    /// `template` (send `template`) or `ai` (send an AI-drafted reply).
    pub mode: String,
    pub template: Option<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_rule(db: &Db, tx: &mut Tx, workspace_id: &str, rule: &Rule) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO auto_reply_rules (id, workspace_id, account_id, keyword, mode, template, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&rule.id)
        .bind(workspace_id)
        .bind(&rule.account_id)
        .bind(&rule.keyword)
        .bind(&rule.mode)
        .bind(&rule.template)
        .bind(rule.enabled)
        .bind(rule.created_at)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// The rules of an account (of the workspace), oldest first.
pub async fn rules(db: &Db, workspace_id: &str, account_id: &str) -> Result<Vec<Rule>> {
    let sql = db.sql(
        "SELECT id, account_id, keyword, mode, template, enabled, created_at FROM auto_reply_rules WHERE workspace_id = ? AND account_id = ? ORDER BY created_at, id",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(account_id)
        .fetch_all(p)
        .await?))
}

/// Deletes a rule of the account; false when there is none.
pub async fn delete_rule(
    db: &Db,
    tx: &mut Tx,
    workspace_id: &str,
    account_id: &str,
    id: &str,
) -> Result<bool> {
    let sql =
        db.sql("DELETE FROM auto_reply_rules WHERE id = ? AND workspace_id = ? AND account_id = ?");
    let n = on_tx!(tx, |c| sqlx::query(sql)
        .bind(id)
        .bind(workspace_id)
        .bind(account_id)
        .execute(&mut **c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Records that periodic work of `kind` ran for the account now.
pub async fn mark_run(db: &Db, account_id: &str, kind: &str) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO engagement_runs (account_id, kind, ran_at) VALUES (?, ?, ?) \
         ON CONFLICT (account_id, kind) DO UPDATE SET ran_at = excluded.ran_at",
    );
    on_db!(db, |p| sqlx::query(sql)
        .bind(account_id)
        .bind(kind)
        .bind(Utc::now())
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Active accounts (id, workspace, plugin) for which `kind` has not run since `before`.
pub async fn due_accounts(
    db: &Db,
    kind: &str,
    before: DateTime<Utc>,
) -> Result<Vec<(String, String, String)>> {
    let sql = db.sql(
        "SELECT a.id, a.workspace_id, a.plugin_id FROM accounts a \
         LEFT JOIN engagement_runs r ON r.account_id = a.id AND r.kind = ? \
         WHERE a.status = 'active' AND a.needs_reconnect = ? AND (r.ran_at IS NULL OR r.ran_at < ?)",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(kind)
        .bind(false)
        .bind(before)
        .fetch_all(p)
        .await?))
}
