//! Workspaces and their business settings (name, time zone, brand voice). Writes take an
//! open transaction so callers change members and the activity log in the same step.

use super::{Db, Tx};
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub brand_voice: String,
    pub created_at: DateTime<Utc>,
}

/// A workspace with the role one user has in it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Membership {
    #[sqlx(flatten)]
    pub workspace: WorkspaceRow,
    pub role: String,
}

pub async fn insert(db: &Db, tx: &mut Tx, row: &WorkspaceRow) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO workspaces (id, name, timezone, brand_voice, created_at) VALUES (?, ?, ?, ?, ?)",
    );
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.timezone)
        .bind(&row.brand_voice)
        .bind(row.created_at)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<WorkspaceRow>> {
    let sql =
        db.sql("SELECT id, name, timezone, brand_voice, created_at FROM workspaces WHERE id = ?");
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await?))
}

/// Same as [`get`], inside a transaction (read before changing).
pub async fn get_in(db: &Db, tx: &mut Tx, id: &str) -> Result<Option<WorkspaceRow>> {
    let sql =
        db.sql("SELECT id, name, timezone, brand_voice, created_at FROM workspaces WHERE id = ?");
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut **c)
        .await?))
}

/// The workspaces `user_id` belongs to, oldest first.
pub async fn of_user(db: &Db, user_id: &str) -> Result<Vec<Membership>> {
    let sql = db.sql(
        "SELECT w.id, w.name, w.timezone, w.brand_voice, w.created_at, m.role FROM workspaces w JOIN members m ON m.workspace_id = w.id WHERE m.user_id = ? ORDER BY w.created_at, w.id",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(user_id)
        .fetch_all(p)
        .await?))
}

/// Writes the settings of `row` (its id names the workspace).
pub async fn update(db: &Db, tx: &mut Tx, row: &WorkspaceRow) -> Result<()> {
    let sql = db.sql("UPDATE workspaces SET name = ?, timezone = ?, brand_voice = ? WHERE id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&row.name)
        .bind(&row.timezone)
        .bind(&row.brand_voice)
        .bind(&row.id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Deletes the workspace; members, invitations and activity go with it (ON DELETE CASCADE).
pub async fn delete(db: &Db, tx: &mut Tx, id: &str) -> Result<bool> {
    let sql = db.sql("DELETE FROM workspaces WHERE id = ?");
    let n = on_tx!(tx, |c| sqlx::query(sql)
        .bind(id)
        .execute(&mut **c)
        .await?
        .rows_affected());
    Ok(n > 0)
}
