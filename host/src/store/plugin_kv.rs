//! Plugin key-value storage in the database. Values are encrypted at rest with the
//! credentials key (plugins keep tokens and app secrets here), and the quota counts the
//! stored bytes. Writes run in a per-plugin serialised transaction so the quota check and
//! the write are one atomic step.

use super::{Db, Tx};
use crate::crypto::credentials::CredentialCipher;
use crate::runtime::caps::storage::{KvError, KvStore};
use crate::{on_db, on_tx};
use std::sync::Arc;

pub struct SqlKv {
    db: Db,
    cipher: Arc<CredentialCipher>,
}

impl SqlKv {
    pub fn new(db: Db, cipher: Arc<CredentialCipher>) -> SqlKv {
        SqlKv { db, cipher }
    }

    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, KvError> {
        self.cipher
            .seal(plain)
            .map(String::into_bytes)
            .map_err(failed)
    }

    fn open(&self, stored: Vec<u8>) -> Result<Vec<u8>, KvError> {
        let text = String::from_utf8(stored).map_err(failed)?;
        self.cipher.open(&text).map_err(failed)
    }

    async fn usage_without(&self, tx: &mut Tx, plugin: &str, key: &str) -> anyhow::Result<u64> {
        let sql = self.db.sql(
            "SELECT COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0) FROM plugin_kv WHERE plugin_id = ? AND key <> ?",
        );
        let used: i64 = on_tx!(tx, |c| sqlx::query_scalar(sql)
            .bind(plugin)
            .bind(key)
            .fetch_one(&mut **c)
            .await?);
        Ok(used.max(0) as u64)
    }

    async fn current(
        &self,
        tx: &mut Tx,
        plugin: &str,
        key: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let sql = self
            .db
            .sql("SELECT value FROM plugin_kv WHERE plugin_id = ? AND key = ?");
        Ok(on_tx!(tx, |c| sqlx::query_scalar(sql)
            .bind(plugin)
            .bind(key)
            .fetch_optional(&mut **c)
            .await?))
    }

    async fn put(&self, tx: &mut Tx, plugin: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        let sql = self.db.sql(
            "INSERT INTO plugin_kv (plugin_id, key, value) VALUES (?, ?, ?) ON CONFLICT (plugin_id, key) DO UPDATE SET value = excluded.value",
        );
        on_tx!(tx, |c| {
            sqlx::query(sql)
                .bind(plugin)
                .bind(key)
                .bind(value)
                .execute(&mut **c)
                .await?;
        });
        Ok(())
    }

    /// Quota-checked write inside an open transaction.
    async fn write(
        &self,
        tx: &mut Tx,
        plugin: &str,
        key: &str,
        value: &[u8],
        quota: u64,
    ) -> Result<(), KvError> {
        let sealed = self.seal(value)?;
        let used = self.usage_without(tx, plugin, key).await.map_err(failed)?;
        if used + key.len() as u64 + sealed.len() as u64 > quota {
            return Err(KvError::QuotaExceeded);
        }
        self.put(tx, plugin, key, &sealed).await.map_err(failed)
    }
}

fn failed(e: impl std::fmt::Display) -> KvError {
    KvError::Failed(format!("plugin storage: {e}"))
}

#[async_trait::async_trait]
impl KvStore for SqlKv {
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let sql = self
            .db
            .sql("SELECT value FROM plugin_kv WHERE plugin_id = ? AND key = ?");
        let r: Result<Option<Vec<u8>>, sqlx::Error> = on_db!(&self.db, |p| sqlx::query_scalar(sql)
            .bind(plugin)
            .bind(key)
            .fetch_optional(p)
            .await);
        r.map_err(failed)?.map(|v| self.open(v)).transpose()
    }

    async fn set(
        &self,
        plugin: &str,
        key: &str,
        value: Vec<u8>,
        quota: u64,
    ) -> Result<(), KvError> {
        let mut tx = self.db.write_tx(plugin).await.map_err(failed)?;
        self.write(&mut tx, plugin, key, &value, quota).await?;
        tx.commit().await.map_err(failed)
    }

    async fn delete(&self, plugin: &str, key: &str) -> Result<bool, KvError> {
        let sql = self
            .db
            .sql("DELETE FROM plugin_kv WHERE plugin_id = ? AND key = ?");
        let r: Result<u64, sqlx::Error> = on_db!(&self.db, |p| sqlx::query(sql)
            .bind(plugin)
            .bind(key)
            .execute(p)
            .await
            .map(|r| r.rows_affected()));
        r.map(|n| n > 0).map_err(failed)
    }

    async fn compare_and_swap(
        &self,
        plugin: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
        quota: u64,
    ) -> Result<bool, KvError> {
        let mut tx = self.db.write_tx(plugin).await.map_err(failed)?;
        let current = self
            .current(&mut tx, plugin, key)
            .await
            .map_err(failed)?
            .map(|v| self.open(v))
            .transpose()?;
        if current != expected {
            return Ok(false);
        }
        self.write(&mut tx, plugin, key, &new, quota).await?;
        tx.commit().await.map_err(failed)?;
        Ok(true)
    }

    async fn increment(
        &self,
        plugin: &str,
        key: &str,
        delta: i64,
        quota: u64,
    ) -> Result<i64, KvError> {
        let mut tx = self.db.write_tx(plugin).await.map_err(failed)?;
        let current = self
            .current(&mut tx, plugin, key)
            .await
            .map_err(failed)?
            .map(|v| self.open(v))
            .transpose()?;
        let value = match current {
            None => 0,
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| {
                    KvError::Failed(format!("`{key}` does not hold a decimal counter"))
                })?,
        };
        let next = value
            .checked_add(delta)
            .ok_or_else(|| KvError::Failed(format!("`{key}` would overflow")))?;
        self.write(&mut tx, plugin, key, next.to_string().as_bytes(), quota)
            .await?;
        tx.commit().await.map_err(failed)?;
        Ok(next)
    }

    async fn list_keys(&self, plugin: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        // Prefix match without LIKE, whose wildcards would need escaping.
        let sql = self.db.sql(
            "SELECT key FROM plugin_kv WHERE plugin_id = ? AND SUBSTR(key, 1, CAST(? AS INTEGER)) = ? ORDER BY key LIMIT 10000",
        );
        let len = prefix.chars().count() as i64;
        let r: Result<Vec<String>, sqlx::Error> = on_db!(&self.db, |p| sqlx::query_scalar(sql)
            .bind(plugin)
            .bind(len)
            .bind(prefix)
            .fetch_all(p)
            .await);
        r.map_err(failed)
    }
}

/// Re-encrypts every stored value during a credentials-key rotation.
pub async fn reseal_all(
    db: &Db,
    tx: &mut Tx,
    reseal: &dyn Fn(&str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<usize> {
    let sql = db.sql("SELECT plugin_id, key, value FROM plugin_kv");
    let rows: Vec<(String, String, Vec<u8>)> =
        on_tx!(tx, |c| sqlx::query_as(sql).fetch_all(&mut **c).await?);
    let mut changed = 0;
    for (plugin, key, value) in rows {
        let Some(new) = reseal(&String::from_utf8(value)?)? else {
            continue;
        };
        let update = db.sql("UPDATE plugin_kv SET value = ? WHERE plugin_id = ? AND key = ?");
        on_tx!(tx, |c| sqlx::query(update)
            .bind(new.into_bytes())
            .bind(&plugin)
            .bind(&key)
            .execute(&mut **c)
            .await
            .map(|_| ())?);
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn kv() -> Arc<SqlKv> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let cipher = CredentialCipher::load(dir.path(), None).unwrap();
        // The folder must outlive the pool; tests are short-lived processes.
        std::mem::forget(dir);
        Arc::new(SqlKv::new(db, Arc::new(cipher)))
    }

    #[tokio::test]
    async fn namespaces_are_separate_and_quota_holds() {
        let kv = kv().await;
        kv.set("a", "k", b"1".to_vec(), 300).await.unwrap();
        assert_eq!(kv.get("b", "k").await.unwrap(), None);
        assert_eq!(
            kv.set("a", "big", vec![0; 200], 100).await,
            Err(KvError::QuotaExceeded)
        );
        assert_eq!(kv.get("a", "big").await.unwrap(), None);
        assert_eq!(kv.list_keys("a", "").await.unwrap(), vec!["k".to_string()]);
    }

    #[tokio::test]
    async fn concurrent_increments_lose_nothing() {
        let kv = kv().await;
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let kv = kv.clone();
            tasks.push(tokio::spawn(async move {
                kv.increment("p", "n", 1, 1000).await.unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(kv.get("p", "n").await.unwrap(), Some(b"50".to_vec()));
        assert!(
            kv.compare_and_swap("p", "n", Some(b"50".to_vec()), b"x".to_vec(), 1000)
                .await
                .unwrap()
        );
        assert!(
            !kv.compare_and_swap("p", "n", Some(b"50".to_vec()), b"y".to_vec(), 1000)
                .await
                .unwrap()
        );
        assert!(
            kv.compare_and_swap("p", "fresh", None, b"1".to_vec(), 1000)
                .await
                .unwrap()
        );
    }
}
