//! Per-plugin key-value storage with a byte quota and atomic operations (concurrent calls
//! of one plugin would lose updates with get-then-set).

use crate::runtime::state::HostState;
use plugboard_bindings::platform::plugboard::plugin::storage::{self as wit, StorageError};

/// Longest key accepted.
pub const MAX_KEY_BYTES: usize = 512;

/// Outcome of a write that may be refused by the quota.
#[derive(Debug, PartialEq)]
pub enum KvError {
    QuotaExceeded,
    Failed(String),
}

/// Storage backend; every method is scoped to one plugin's namespace.
#[async_trait::async_trait]
pub trait KvStore: Send + Sync {
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    async fn set(&self, plugin: &str, key: &str, value: Vec<u8>, quota: u64)
    -> Result<(), KvError>;
    async fn delete(&self, plugin: &str, key: &str) -> Result<bool, KvError>;
    async fn compare_and_swap(
        &self,
        plugin: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
        quota: u64,
    ) -> Result<bool, KvError>;
    async fn increment(
        &self,
        plugin: &str,
        key: &str,
        delta: i64,
        quota: u64,
    ) -> Result<i64, KvError>;
    async fn list_keys(&self, plugin: &str, prefix: &str) -> Result<Vec<String>, KvError>;
}

fn check_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(StorageError::InvalidKey(format!(
            "keys are 1 to {MAX_KEY_BYTES} bytes; got {}",
            key.len()
        )));
    }
    Ok(())
}

impl HostState {
    fn storage_error(&self, e: KvError) -> StorageError {
        match e {
            KvError::QuotaExceeded => StorageError::QuotaExceeded(self.effective.storage_quota),
            KvError::Failed(m) => StorageError::Failed(m),
        }
    }
}

impl wit::Host for HostState {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let (kv, plugin) = (self.services.storage.clone(), self.info.plugin.clone());
        let r = self.in_host(async |_| kv.get(&plugin, &key).await).await;
        Ok(r.map_err(|e| self.storage_error(e)))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let (kv, plugin, quota) = (
            self.services.storage.clone(),
            self.info.plugin.clone(),
            self.effective.storage_quota,
        );
        let r = self
            .in_host(async |_| kv.set(&plugin, &key, value, quota).await)
            .await;
        Ok(r.map_err(|e| self.storage_error(e)))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let (kv, plugin) = (self.services.storage.clone(), self.info.plugin.clone());
        let r = self.in_host(async |_| kv.delete(&plugin, &key).await).await;
        Ok(r.map_err(|e| self.storage_error(e)))
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> wasmtime::Result<Result<bool, StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let (kv, plugin, quota) = (
            self.services.storage.clone(),
            self.info.plugin.clone(),
            self.effective.storage_quota,
        );
        let r = self
            .in_host(async |_| {
                kv.compare_and_swap(&plugin, &key, expected, new, quota)
                    .await
            })
            .await;
        Ok(r.map_err(|e| self.storage_error(e)))
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let (kv, plugin, quota) = (
            self.services.storage.clone(),
            self.info.plugin.clone(),
            self.effective.storage_quota,
        );
        let r = self
            .in_host(async |_| kv.increment(&plugin, &key, delta, quota).await)
            .await;
        Ok(r.map_err(|e| self.storage_error(e)))
    }

    async fn list_keys(
        &mut self,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<String>, StorageError>> {
        let (kv, plugin) = (self.services.storage.clone(), self.info.plugin.clone());
        let r = self
            .in_host(async |_| kv.list_keys(&plugin, &prefix).await)
            .await;
        Ok(r.map_err(|e| self.storage_error(e)))
    }
}
