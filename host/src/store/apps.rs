//! Platform apps: developer-app settings of a workspace, or server-wide ones from the
//! operator. The settings column holds ciphertext only.

use super::{Db, Tx};
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRow {
    pub id: String,
    /// None: a server-wide app.
    pub workspace_id: Option<String>,
    pub plugin_id: String,
    pub name: String,
    /// Sealed JSON object of setting name → value.
    pub settings: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whose apps: a workspace's own, or the server-wide ones.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    Workspace(&'a str),
    Server,
}

pub async fn insert(db: &Db, tx: &mut Tx, row: &AppRow) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO platform_apps (id, workspace_id, plugin_id, name, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&row.id)
        .bind(&row.workspace_id)
        .bind(&row.plugin_id)
        .bind(&row.name)
        .bind(&row.settings)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// An app owned by `owner`.
pub async fn get(db: &Db, owner: Owner<'_>, id: &str) -> Result<Option<AppRow>> {
    Ok(match owner {
        Owner::Workspace(ws) => {
            let sql = db.sql(
                "SELECT id, workspace_id, plugin_id, name, settings, created_at, updated_at FROM platform_apps WHERE id = ? AND workspace_id = ?",
            );
            on_db!(db, |p| sqlx::query_as(sql)
                .bind(id)
                .bind(ws)
                .fetch_optional(p)
                .await?)
        }
        Owner::Server => {
            let sql = db.sql(
                "SELECT id, workspace_id, plugin_id, name, settings, created_at, updated_at FROM platform_apps WHERE id = ? AND workspace_id IS NULL",
            );
            on_db!(db, |p| sqlx::query_as(sql)
                .bind(id)
                .fetch_optional(p)
                .await?)
        }
    })
}

/// An app a workspace may use: its own or a server-wide one.
pub async fn get_usable(db: &Db, workspace_id: &str, id: &str) -> Result<Option<AppRow>> {
    let sql = db.sql(
        "SELECT id, workspace_id, plugin_id, name, settings, created_at, updated_at FROM platform_apps WHERE id = ? AND (workspace_id = ? OR workspace_id IS NULL)",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(p)
        .await?))
}

/// Any app by id, whoever owns it (for work that already holds a checked reference).
pub async fn get_any(db: &Db, id: &str) -> Result<Option<AppRow>> {
    let sql = db.sql(
        "SELECT id, workspace_id, plugin_id, name, settings, created_at, updated_at FROM platform_apps WHERE id = ?",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await?))
}

/// The apps of `owner`, oldest first.
pub async fn list(db: &Db, owner: Owner<'_>) -> Result<Vec<AppRow>> {
    Ok(match owner {
        Owner::Workspace(ws) => {
            let sql = db.sql(
                "SELECT id, workspace_id, plugin_id, name, settings, created_at, updated_at FROM platform_apps WHERE workspace_id = ? ORDER BY created_at, id",
            );
            on_db!(db, |p| sqlx::query_as(sql).bind(ws).fetch_all(p).await?)
        }
        Owner::Server => {
            let sql = db.sql(
                "SELECT id, workspace_id, plugin_id, name, settings, created_at, updated_at FROM platform_apps WHERE workspace_id IS NULL ORDER BY created_at, id",
            );
            on_db!(db, |p| sqlx::query_as(sql).fetch_all(p).await?)
        }
    })
}

/// The apps of one plugin `owner` has, oldest first.
pub async fn list_for_plugin(db: &Db, owner: Owner<'_>, plugin_id: &str) -> Result<Vec<AppRow>> {
    Ok(list(db, owner)
        .await?
        .into_iter()
        .filter(|a| a.plugin_id == plugin_id)
        .collect())
}

pub async fn update(db: &Db, tx: &mut Tx, row: &AppRow) -> Result<()> {
    let sql =
        db.sql("UPDATE platform_apps SET name = ?, settings = ?, updated_at = ? WHERE id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&row.name)
        .bind(&row.settings)
        .bind(row.updated_at)
        .bind(&row.id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Accounts that still act through the app (any status but disconnected).
pub async fn accounts_using(db: &Db, tx: &mut Tx, id: &str) -> Result<i64> {
    let sql = db.sql("SELECT COUNT(*) FROM accounts WHERE app_id = ? AND status <> 'disconnected'");
    Ok(on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut **c)
        .await?))
}

/// Deletes an app; disconnected accounts forget it, pending authorizations go with it.
pub async fn delete(db: &Db, tx: &mut Tx, id: &str) -> Result<()> {
    let detach = db.sql("UPDATE accounts SET app_id = NULL WHERE app_id = ?");
    on_tx!(tx, |c| sqlx::query(detach)
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    let sql = db.sql("DELETE FROM platform_apps WHERE id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Re-encrypts every app's settings with `reseal` (None: already current). Returns how many
/// changed.
pub async fn reseal_all(
    db: &Db,
    tx: &mut Tx,
    reseal: &dyn Fn(&str) -> Result<Option<String>>,
) -> Result<usize> {
    let sql = db.sql("SELECT id, settings FROM platform_apps");
    let rows: Vec<(String, String)> =
        on_tx!(tx, |c| sqlx::query_as(sql).fetch_all(&mut **c).await?);
    let mut changed = 0;
    for (id, sealed) in rows {
        if let Some(new) = reseal(&sealed)? {
            // Only if unchanged since read: a concurrent write (sealed with a key still
            // loaded everywhere) wins over the re-encryption of the old value.
            let update =
                db.sql("UPDATE platform_apps SET settings = ? WHERE id = ? AND settings = ?");
            on_tx!(tx, |c| sqlx::query(update)
                .bind(&new)
                .bind(&id)
                .bind(&sealed)
                .execute(&mut **c)
                .await
                .map(|_| ())?);
            changed += 1;
        }
    }
    Ok(changed)
}
