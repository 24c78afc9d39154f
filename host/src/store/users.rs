//! User accounts. Emails are stored normalised (lowercase); passwords only as argon2id
//! PHC strings.

use super::Db;
use crate::on_db;
use anyhow::Result;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] anyhow::Error),
}

/// True when `e` is a UNIQUE (or primary key) violation, on either dialect.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Creates a user; the UNIQUE constraint on `email` decides races between two sign-ups.
pub async fn create(
    db: &Db,
    email: &str,
    name: &str,
    password_hash: &str,
) -> Result<UserRow, CreateError> {
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        email: email.to_string(),
        name: name.to_string(),
        password_hash: password_hash.to_string(),
        created_at: Utc::now(),
    };
    let sql = db.sql(
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
    );
    let done: Result<_, sqlx::Error> = on_db!(db, |p| sqlx::query(sql)
        .bind(&row.id)
        .bind(&row.email)
        .bind(&row.name)
        .bind(&row.password_hash)
        .bind(row.created_at)
        .execute(p)
        .await
        .map(|_| ()));
    match done {
        Ok(()) => Ok(row),
        Err(e) if is_unique_violation(&e) => Err(CreateError::EmailTaken),
        Err(e) => Err(CreateError::Db(e.into())),
    }
}

pub async fn by_email(db: &Db, email: &str) -> Result<Option<UserRow>> {
    let sql =
        db.sql("SELECT id, email, name, password_hash, created_at FROM users WHERE email = ?");
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(email)
        .fetch_optional(p)
        .await?))
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<UserRow>> {
    let sql = db.sql("SELECT id, email, name, password_hash, created_at FROM users WHERE id = ?");
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await?))
}
