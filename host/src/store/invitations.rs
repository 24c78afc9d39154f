//! Invitations to a workspace: single-use tokens stored as hashes, bound to an email and
//! a role, valid for a week.

use super::{Db, Tx};
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};

/// How long an invitation can be accepted: long enough to reach someone on holiday, short
/// enough that a forgotten link in a mailbox stops working.
pub const INVITATION_TTL: Duration = Duration::days(7);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl InvitationRow {
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}

pub async fn insert(db: &Db, tx: &mut Tx, row: &InvitationRow, token_hash: &str) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&row.id)
        .bind(&row.workspace_id)
        .bind(&row.email)
        .bind(&row.role)
        .bind(token_hash)
        .bind(&row.invited_by)
        .bind(row.expires_at)
        .bind(row.created_at)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Invitations of the workspace that can still be accepted, newest first.
pub async fn pending(db: &Db, workspace_id: &str) -> Result<Vec<InvitationRow>> {
    let sql = db.sql(
        "SELECT id, workspace_id, email, role, invited_by, expires_at, accepted_at, revoked_at, created_at FROM invitations WHERE workspace_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id DESC",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(Utc::now())
        .fetch_all(p)
        .await?))
}

/// Whether `email` already has an invitation to the workspace that can be accepted.
pub async fn has_pending(db: &Db, tx: &mut Tx, workspace_id: &str, email: &str) -> Result<bool> {
    let sql = db.sql(
        "SELECT COUNT(*) FROM invitations WHERE workspace_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
    );
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(workspace_id)
        .bind(email)
        .bind(Utc::now())
        .fetch_one(&mut **c)
        .await?);
    Ok(n > 0)
}

/// One invitation of the workspace (any state).
pub async fn get_in(
    db: &Db,
    tx: &mut Tx,
    workspace_id: &str,
    id: &str,
) -> Result<Option<InvitationRow>> {
    let sql = db.sql(
        "SELECT id, workspace_id, email, role, invited_by, expires_at, accepted_at, revoked_at, created_at FROM invitations WHERE workspace_id = ? AND id = ?",
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&mut **c)
        .await?))
}

pub async fn by_token_hash(
    db: &Db,
    tx: &mut Tx,
    token_hash: &str,
) -> Result<Option<InvitationRow>> {
    let sql = db.sql(
        "SELECT id, workspace_id, email, role, invited_by, expires_at, accepted_at, revoked_at, created_at FROM invitations WHERE token_hash = ?",
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(token_hash)
        .fetch_optional(&mut **c)
        .await?))
}

pub async fn mark_revoked(db: &Db, tx: &mut Tx, id: &str) -> Result<()> {
    let sql = db.sql("UPDATE invitations SET revoked_at = ? WHERE id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(Utc::now())
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn mark_accepted(db: &Db, tx: &mut Tx, id: &str) -> Result<()> {
    let sql = db.sql("UPDATE invitations SET accepted_at = ? WHERE id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(Utc::now())
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}
