//! Sign-in sessions: a short-lived access token and a long-lived refresh token, both
//! stored as hashes. Refresh tokens rotate on every use; the spent ones are remembered so
//! that presenting one again (it was copied) revokes the whole session.

use super::Db;
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};

/// Lifetime of an access token: short, so a leaked one is useful only briefly and a
/// revoked session stops working soon even for caches that hold its token.
pub const ACCESS_TTL: Duration = Duration::minutes(15);

/// Lifetime of a refresh token, renewed by each rotation: a client that opens the app at
/// least once a month stays signed in.
pub const REFRESH_TTL: Duration = Duration::days(30);

/// Hashes and lifetimes of a new token pair (the secrets themselves never reach the store).
#[derive(Debug, Clone)]
pub struct TokenHashes {
    pub access_hash: String,
    pub refresh_hash: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
}

impl TokenHashes {
    pub fn new(access_hash: String, refresh_hash: String) -> TokenHashes {
        let now = Utc::now();
        TokenHashes {
            access_hash,
            refresh_hash,
            access_expires_at: now + ACCESS_TTL,
            refresh_expires_at: now + REFRESH_TTL,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn create(db: &Db, user_id: &str, tokens: &TokenHashes) -> Result<SessionRow> {
    let row = SessionRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.to_string(),
        access_expires_at: tokens.access_expires_at,
        refresh_expires_at: tokens.refresh_expires_at,
        created_at: Utc::now(),
    };
    let sql = db.sql(
        "INSERT INTO sessions (id, user_id, access_hash, refresh_hash, access_expires_at, refresh_expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    on_db!(db, |p| sqlx::query(sql)
        .bind(&row.id)
        .bind(&row.user_id)
        .bind(&tokens.access_hash)
        .bind(&tokens.refresh_hash)
        .bind(row.access_expires_at)
        .bind(row.refresh_expires_at)
        .bind(row.created_at)
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(row)
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Refreshed {
    /// The token was current: the session now answers to the new pair.
    Rotated(SessionRow),
    /// The token was already exchanged once: the session has been revoked.
    Reused,
    Expired,
    Revoked,
    Unknown,
}

/// Exchanges the refresh token whose hash is `presented` for `next`, in one transaction
/// serialised per token so two concurrent uses cannot both succeed.
pub async fn refresh(db: &Db, presented: &str, next: &TokenHashes) -> Result<Refreshed> {
    let mut tx = db.write_tx(&format!("refresh:{presented}")).await?;
    let find = db.sql(
        "SELECT id, user_id, refresh_expires_at, created_at, revoked_at FROM sessions WHERE refresh_hash = ?",
    );
    type Found = (
        String,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let found: Option<Found> = on_tx!(&mut tx, |c| sqlx::query_as(find)
        .bind(presented)
        .fetch_optional(&mut **c)
        .await?);
    let now = Utc::now();
    let Some((id, user_id, refresh_expires_at, created_at, revoked_at)) = found else {
        let spent = db.sql("SELECT session_id FROM spent_refresh_tokens WHERE hash = ?");
        let session: Option<String> = on_tx!(&mut tx, |c| sqlx::query_scalar(spent)
            .bind(presented)
            .fetch_optional(&mut **c)
            .await?);
        let Some(session) = session else {
            return Ok(Refreshed::Unknown);
        };
        let revoke =
            db.sql("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
        on_tx!(&mut tx, |c| sqlx::query(revoke)
            .bind(now)
            .bind(&session)
            .execute(&mut **c)
            .await
            .map(|_| ())?);
        tx.commit().await?;
        tracing::warn!(session = %session, "a spent refresh token was presented again; the session is revoked");
        return Ok(Refreshed::Reused);
    };
    if revoked_at.is_some() {
        return Ok(Refreshed::Revoked);
    }
    if refresh_expires_at <= now {
        return Ok(Refreshed::Expired);
    }
    let spend =
        db.sql("INSERT INTO spent_refresh_tokens (hash, session_id, spent_at) VALUES (?, ?, ?)");
    on_tx!(&mut tx, |c| sqlx::query(spend)
        .bind(presented)
        .bind(&id)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    let rotate = db.sql(
        "UPDATE sessions SET access_hash = ?, refresh_hash = ?, access_expires_at = ?, refresh_expires_at = ? WHERE id = ?",
    );
    on_tx!(&mut tx, |c| sqlx::query(rotate)
        .bind(&next.access_hash)
        .bind(&next.refresh_hash)
        .bind(next.access_expires_at)
        .bind(next.refresh_expires_at)
        .bind(&id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    tx.commit().await?;
    Ok(Refreshed::Rotated(SessionRow {
        id,
        user_id,
        access_expires_at: next.access_expires_at,
        refresh_expires_at: next.refresh_expires_at,
        created_at,
    }))
}

/// The user's sessions that can still be refreshed, newest first.
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<SessionRow>> {
    let sql = db.sql(
        "SELECT id, user_id, access_expires_at, refresh_expires_at, created_at FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND refresh_expires_at > ? ORDER BY created_at DESC, id DESC",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(user_id)
        .bind(Utc::now())
        .fetch_all(p)
        .await?))
}

/// Revokes one of the user's sessions; false when it is not theirs or already revoked.
pub async fn revoke(db: &Db, user_id: &str, session_id: &str) -> Result<bool> {
    let sql = db.sql(
        "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
    );
    let n = on_db!(db, |p| sqlx::query(sql)
        .bind(Utc::now())
        .bind(session_id)
        .bind(user_id)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n > 0)
}
