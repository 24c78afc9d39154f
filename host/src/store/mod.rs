//! Database access: SQLite (default, embedded) or PostgreSQL (several nodes). One thin
//! layer over two dialects — no `sqlx::Any`, which cannot decode our types.

pub mod accounts;
pub mod activity;
pub mod api_keys;
pub mod apps;
pub mod inbox;
pub mod invitations;
pub mod media;
pub mod members;
pub mod metrics;
pub mod plugin_kv;
pub mod plugins;
pub mod post_batches;
pub mod posts;
pub mod recurrences;
pub mod sessions;
pub mod slots;
pub mod users;
pub mod workspaces;

use anyhow::{Context, Result};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction: `BEGIN IMMEDIATE` on SQLite (a deferred read-then-write transaction
/// fails with "database is locked" under concurrency), a normal one on PostgreSQL.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs the same statement text on either dialect: `$c` is the connection of the arm.
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($c) => $body,
            $crate::store::Db::Postgres($c) => $body,
        }
    };
}

/// Same as [`on_db!`] for a transaction.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite($c) => $body,
            $crate::store::Tx::Postgres($c) => $body,
        }
    };
}

impl Db {
    /// Connects to `url`: `sqlite://path` (created if missing, WAL) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            Ok(Db::Postgres(pool))
        } else {
            let opts = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("invalid SQLite URL {url}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await
                .with_context(|| format!("opening SQLite database {url}"))?;
            Ok(Db::Sqlite(pool))
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Sqlite(p) => sqlx::migrate!("../migrations/sqlite").run(p).await?,
            Db::Postgres(p) => sqlx::migrate!("../migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Statement text for this dialect: `?` placeholders become `$1…` on PostgreSQL.
    pub fn sql(&self, text: &'static str) -> sqlx::AssertSqlSafe<String> {
        // Only static statement text passes through here; values are always bound.
        sqlx::AssertSqlSafe(self.dialect_text(text).into_owned())
    }

    fn dialect_text(&self, text: &'static str) -> Cow<'static, str> {
        match self {
            Db::Sqlite(_) => Cow::Borrowed(text),
            Db::Postgres(_) => {
                let mut out = String::with_capacity(text.len() + 8);
                let mut n = 0;
                for ch in text.chars() {
                    if ch == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(ch);
                    }
                }
                Cow::Owned(out)
            }
        }
    }

    /// Begins a write transaction; `lock_key` serialises writers of one key on PostgreSQL
    /// (SQLite's IMMEDIATE already serialises all writers).
    pub async fn write_tx(&self, lock_key: &str) -> Result<Tx> {
        match self {
            Db::Sqlite(p) => Ok(Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?)),
            Db::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind(lock_key)
                    .execute(&mut *tx)
                    .await?;
                Ok(Tx::Postgres(tx))
            }
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn placeholders_follow_the_dialect() {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        assert_eq!(db.dialect_text("a = ? AND b = ?"), "a = ? AND b = ?");
    }
}
