//! Workspace members and their roles. Changes run inside the caller's transaction, where
//! the role checks (who may change whom, the last owner) are made on current rows.

use super::{Db, Tx};
use crate::api::caller::Role;
use crate::{on_db, on_tx};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

/// Members with their names and emails, by join date.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<MemberRow>> {
    let sql = db.sql(
        "SELECT m.user_id, u.email, u.name, m.role, m.created_at FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? ORDER BY m.created_at, m.user_id",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .fetch_all(p)
        .await?))
}

pub async fn get(db: &Db, workspace_id: &str, user_id: &str) -> Result<Option<MemberRow>> {
    let sql = db.sql(
        "SELECT m.user_id, u.email, u.name, m.role, m.created_at FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? AND m.user_id = ?",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(p)
        .await?))
}

/// The role of `user_id` in the workspace as of this transaction.
pub async fn role_in(
    db: &Db,
    tx: &mut Tx,
    workspace_id: &str,
    user_id: &str,
) -> Result<Option<Role>> {
    let sql = db.sql("SELECT role FROM members WHERE workspace_id = ? AND user_id = ?");
    let role: Option<String> = on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&mut **c)
        .await?);
    role.map(|r| Role::parse(&r).with_context(|| format!("unknown stored role `{r}`")))
        .transpose()
}

pub async fn count_owners(db: &Db, tx: &mut Tx, workspace_id: &str) -> Result<i64> {
    let sql = db.sql("SELECT COUNT(*) FROM members WHERE workspace_id = ? AND role = 'owner'");
    Ok(on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(workspace_id)
        .fetch_one(&mut **c)
        .await?))
}

pub async fn insert(
    db: &Db,
    tx: &mut Tx,
    workspace_id: &str,
    user_id: &str,
    role: Role,
) -> Result<()> {
    let sql =
        db.sql("INSERT INTO members (workspace_id, user_id, role, created_at) VALUES (?, ?, ?, ?)");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(workspace_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(Utc::now())
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn set_role(
    db: &Db,
    tx: &mut Tx,
    workspace_id: &str,
    user_id: &str,
    role: Role,
) -> Result<()> {
    let sql = db.sql("UPDATE members SET role = ? WHERE workspace_id = ? AND user_id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(role.as_str())
        .bind(workspace_id)
        .bind(user_id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn remove(db: &Db, tx: &mut Tx, workspace_id: &str, user_id: &str) -> Result<()> {
    let sql = db.sql("DELETE FROM members WHERE workspace_id = ? AND user_id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(workspace_id)
        .bind(user_id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}
