//! Personal API keys: the secret is shown once at creation and stored only as a hash.

use super::Db;
use crate::on_db;
use anyhow::Result;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    /// The first characters of the key, for telling keys apart in a list.
    pub prefix: String,
    /// Comma-separated scope names.
    pub scopes: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn create(
    db: &Db,
    user_id: &str,
    name: &str,
    key_hash: &str,
    prefix: &str,
    scopes: &str,
) -> Result<ApiKeyRow> {
    let row = ApiKeyRow {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_string(),
        prefix: prefix.to_string(),
        scopes: scopes.to_string(),
        last_used_at: None,
        created_at: Utc::now(),
    };
    let sql = db.sql(
        "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    on_db!(db, |p| sqlx::query(sql)
        .bind(&row.id)
        .bind(user_id)
        .bind(&row.name)
        .bind(key_hash)
        .bind(&row.prefix)
        .bind(&row.scopes)
        .bind(row.created_at)
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(row)
}

/// The user's keys that still work, newest first.
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<ApiKeyRow>> {
    let sql = db.sql(
        "SELECT id, name, prefix, scopes, last_used_at, created_at FROM api_keys WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(user_id)
        .fetch_all(p)
        .await?))
}

pub async fn count_active(db: &Db, user_id: &str) -> Result<i64> {
    let sql = db.sql("SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked_at IS NULL");
    Ok(on_db!(db, |p| sqlx::query_scalar(sql)
        .bind(user_id)
        .fetch_one(p)
        .await?))
}

/// Revokes one of the user's keys; false when it is not theirs or already revoked.
pub async fn revoke(db: &Db, user_id: &str, id: &str) -> Result<bool> {
    let sql = db.sql(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
    );
    let n = on_db!(db, |p| sqlx::query(sql)
        .bind(Utc::now())
        .bind(id)
        .bind(user_id)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n > 0)
}
