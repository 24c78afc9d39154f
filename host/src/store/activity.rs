//! The activity log: who did what in a workspace. Entries are never changed; they go when
//! their workspace is deleted.

use super::{Db, Tx};
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One action to record. `details` never holds secrets (ids, names, roles, emails only).
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub workspace_id: &'a str,
    pub actor_id: Option<&'a str>,
    /// Dotted `noun.verb`, e.g. `member.role_changed`.
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: Option<&'a str>,
    pub details: serde_json::Value,
}

const INSERT: &str = "INSERT INTO activity (id, workspace_id, actor_id, action, subject_type, subject_id, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

/// Records one action on its own.
pub async fn record(
    db: &Db,
    workspace_id: &str,
    actor_id: Option<&str>,
    action: &str,
    subject_type: &str,
    subject_id: Option<&str>,
    details: serde_json::Value,
) -> Result<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let details = details.to_string();
    let sql = db.sql(INSERT);
    on_db!(db, |p| sqlx::query(sql)
        .bind(&id)
        .bind(workspace_id)
        .bind(actor_id)
        .bind(action)
        .bind(subject_type)
        .bind(subject_id)
        .bind(&details)
        .bind(Utc::now())
        .execute(p)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Records one action inside the transaction that makes the change, so the log and the
/// change commit (or fail) together.
pub async fn record_in(db: &Db, tx: &mut Tx, entry: Entry<'_>) -> Result<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let details = entry.details.to_string();
    let sql = db.sql(INSERT);
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&id)
        .bind(entry.workspace_id)
        .bind(entry.actor_id)
        .bind(entry.action)
        .bind(entry.subject_type)
        .bind(entry.subject_id)
        .bind(&details)
        .bind(Utc::now())
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Activity {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<String>,
    /// JSON text of the action's details.
    pub details: String,
    pub created_at: DateTime<Utc>,
}

/// Which entries to list. Ids are UUIDv7, so ordering by id is ordering by time and an
/// id is a stable cursor.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only entries older than this entry id.
    pub before: Option<String>,
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub limit: i64,
}

/// Entries of the workspace, newest first.
pub async fn list(db: &Db, workspace_id: &str, filter: &Filter) -> Result<Vec<Activity>> {
    let sql = db.sql(
        "SELECT id, actor_id, action, subject_type, subject_id, details, created_at FROM activity \
         WHERE workspace_id = ? AND (? IS NULL OR id < ?) AND (? IS NULL OR action = ?) AND (? IS NULL OR actor_id = ?) \
         ORDER BY id DESC LIMIT ?",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(&filter.before)
        .bind(&filter.before)
        .bind(&filter.action)
        .bind(&filter.action)
        .bind(&filter.actor_id)
        .bind(&filter.actor_id)
        .bind(filter.limit)
        .fetch_all(p)
        .await?))
}

/// How many entries of each action the workspace has since `since`, by action name.
pub async fn counts_since(
    db: &Db,
    workspace_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64)>> {
    let sql = db.sql(
        "SELECT action, COUNT(*) FROM activity WHERE workspace_id = ? AND created_at >= ? GROUP BY action ORDER BY action",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(since)
        .fetch_all(p)
        .await?))
}
