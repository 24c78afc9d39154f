//! The plugin registry: id → an atomically swappable active version. Install and upgrade
//! compile and validate off the hot path, then swap; calls in flight finish on the version
//! they started with. Artifacts live in the data folder and in the database (where the
//! other nodes of a cluster, with their own data folders, fetch them), the active version
//! in the database, so a restart comes back the same.

use super::cache::ArtifactCache;
use super::call::Caller;
use super::grants::{Effective, GrantError, Grants};
use super::limits::Limits;
use super::manifest::{Manifest, ManifestError, World};
use super::plugin::{Linkers, LoadedPlugin};
use super::state::CallContext;
use crate::store::{self, Db};
use anyhow::Context;
use arc_swap::ArcSwap;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Grants(#[from] GrantError),
    #[error("plugin `{0}` is not installed")]
    NotInstalled(String),
    #[error("plugin `{id}` is already installed (active: {active}); use upgrade")]
    AlreadyInstalled { id: String, active: String },
    #[error(
        "plugin `{id}` {version} is already installed with different content; give the new build a new version"
    )]
    VersionConflict { id: String, version: String },
    #[error("plugin `{0}` has no previous version to roll back to")]
    NothingToRollBack(String),
    #[error("plugin `{id}` {version} failed validation: {reason}")]
    Invalid {
        id: String,
        version: String,
        reason: String,
    },
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallMode {
    /// A new plugin id; refused if it exists.
    Install,
    /// A new version of an installed id; refused if it does not exist.
    Upgrade,
    /// Either (bundled plugins).
    Any,
    /// Development watch mode: rebuilt files keep their version number, so each build
    /// becomes `VERSION+dev.HASH` and can be rolled back like any other.
    Develop,
}

/// What an install, upgrade or rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeReport {
    pub id: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub content_hash: String,
    /// Requested by the manifest but not granted: calls needing them will be refused.
    pub not_granted: Vec<String>,
}

pub struct Registry {
    db: Db,
    artifacts: PathBuf,
    cache: ArtifactCache,
    linkers: Linkers,
    caller: Arc<Caller>,
    default_limits: Limits,
    max_memory: u64,
    slots: RwLock<HashMap<String, Arc<ArcSwap<LoadedPlugin>>>>,
    /// One change at a time; calls never take it.
    changes: tokio::sync::Mutex<()>,
}

pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Registry {
    pub(crate) fn new(
        db: Db,
        data_dir: &std::path::Path,
        caller: Arc<Caller>,
        default_limits: Limits,
        max_memory: u64,
    ) -> anyhow::Result<Registry> {
        let artifacts = data_dir.join("plugins");
        std::fs::create_dir_all(&artifacts)?;
        Ok(Registry {
            cache: ArtifactCache::new(&data_dir.join("cache"), &caller.engine)?,
            linkers: Linkers::new(&caller.engine)?,
            db,
            artifacts,
            caller,
            default_limits,
            max_memory,
            slots: RwLock::new(HashMap::new()),
            changes: tokio::sync::Mutex::new(()),
        })
    }

    /// The active version of `id`, for one call.
    pub fn get(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        let slots = self.slots.read().expect("registry lock");
        slots.get(id).map(|s| s.load_full())
    }

    pub fn list(&self) -> Vec<Arc<LoadedPlugin>> {
        let slots = self.slots.read().expect("registry lock");
        let mut all: Vec<_> = slots.values().map(|s| s.load_full()).collect();
        all.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        all
    }

    fn artifact_path(&self, id: &str, hash: &str) -> PathBuf {
        self.artifacts.join(id).join(format!("{hash}.wasm"))
    }

    /// Compiles (or loads from cache), links and validates a component into a loadable
    /// version, without making it active.
    async fn load(
        &self,
        bytes: &[u8],
        manifest: Manifest,
        grants: Grants,
    ) -> Result<LoadedPlugin, RegistryError> {
        grants.validate()?;
        let hash = content_hash(bytes);
        let invalid = |reason: String| RegistryError::Invalid {
            id: manifest.id.clone(),
            version: manifest.version.clone(),
            reason,
        };
        let component = self
            .cache
            .load_or_compile(&self.caller.engine, &hash, bytes)
            .await
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = self
            .linkers
            .prepare(manifest.world, &component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let mut limits = self.default_limits.with(&grants.limits);
        limits.memory_bytes = limits.memory_bytes.min(self.max_memory);
        let plugin = LoadedPlugin {
            effective: Arc::new(Effective::new(&manifest, &grants)?),
            manifest,
            content_hash: hash,
            grants,
            limits,
            pre,
        };
        Ok(plugin)
    }

    /// Runs `describe()` in the sandbox: a plugin that cannot describe itself is refused.
    async fn smoke_test(&self, plugin: LoadedPlugin) -> Result<LoadedPlugin, RegistryError> {
        let plugin = Arc::new(plugin);
        let invalid = |reason: String| RegistryError::Invalid {
            id: plugin.manifest.id.clone(),
            version: plugin.manifest.version.clone(),
            reason,
        };
        match plugin.manifest.world {
            World::Platform => {
                let call = self
                    .caller
                    .platform(plugin.clone(), "describe", CallContext::default())
                    .await
                    .map_err(|e| invalid(e.to_string()))?;
                let info = call.describe().await.map_err(|e| invalid(e.to_string()))?;
                if info.platform.is_empty() || info.post_kinds.is_empty() {
                    return Err(invalid(
                        "describe() names no platform or no post kinds".into(),
                    ));
                }
            }
            World::AiProvider => {
                let call = self
                    .caller
                    .ai(plugin.clone(), "describe", CallContext::default())
                    .await
                    .map_err(|e| invalid(e.to_string()))?;
                let info = call.describe().await.map_err(|e| invalid(e.to_string()))?;
                if info.models.is_empty() {
                    return Err(invalid("describe() lists no models".into()));
                }
            }
        }
        Ok(Arc::try_unwrap(plugin).unwrap_or_else(|_| unreachable!("the smoke call has ended")))
    }

    fn swap_in(&self, plugin: LoadedPlugin) {
        let id = plugin.manifest.id.clone();
        let plugin = Arc::new(plugin);
        let mut slots = self.slots.write().expect("registry lock");
        match slots.get(&id) {
            Some(slot) => slot.store(plugin),
            None => {
                slots.insert(id, Arc::new(ArcSwap::new(plugin)));
            }
        }
    }

    /// Installs or upgrades from component bytes. `grants` None keeps the current grants
    /// (upgrade) or grants nothing (new install).
    pub async fn install(
        &self,
        bytes: &[u8],
        grants: Option<Grants>,
        mode: InstallMode,
    ) -> Result<ChangeReport, RegistryError> {
        let mut manifest = Manifest::from_component(bytes)?;
        let hash = content_hash(bytes);
        if mode == InstallMode::Develop {
            manifest.version = format!("{}+dev.{}", manifest.version, &hash[..8]);
        }
        let _guard = self.changes.lock().await;
        let id = manifest.id.clone();
        let existing = store::plugins::get(&self.db, &id).await?;
        match (&existing, mode) {
            (Some(row), InstallMode::Install) => {
                return Err(RegistryError::AlreadyInstalled {
                    id,
                    active: row.active_version.clone(),
                });
            }
            (None, InstallMode::Upgrade) => return Err(RegistryError::NotInstalled(id)),
            _ => {}
        }
        let known = store::plugins::versions(&self.db, &id).await?;
        if let Some(v) = known.iter().find(|v| v.version == manifest.version)
            && v.content_hash != hash
        {
            return Err(RegistryError::VersionConflict {
                id,
                version: manifest.version,
            });
        }
        let grants = grants
            .or_else(|| existing.as_ref().map(|r| r.grants.clone()))
            .unwrap_or_default();
        let plugin = self.load(bytes, manifest.clone(), grants.clone()).await?;
        let plugin = self.smoke_test(plugin).await?;

        let path = self.artifact_path(&id, &hash);
        tokio::fs::create_dir_all(path.parent().expect("artifact folder"))
            .await
            .context("creating the artifact folder")?;
        tokio::fs::write(&path, bytes)
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        store::plugins::put_artifact(&self.db, &id, &hash, bytes).await?;
        store::plugins::add_version(&self.db, &manifest, &hash).await?;
        let previous = existing
            .as_ref()
            .map(|r| r.active_version.clone())
            .filter(|v| *v != manifest.version);
        let keep_previous = previous
            .clone()
            .or_else(|| existing.as_ref().and_then(|r| r.previous_version.clone()));
        store::plugins::activate(
            &self.db,
            &id,
            &manifest.version,
            keep_previous.as_deref(),
            &grants,
        )
        .await?;
        let report = ChangeReport {
            not_granted: not_granted(&plugin),
            id,
            version: manifest.version.clone(),
            previous_version: previous,
            content_hash: hash,
        };
        self.swap_in(plugin);
        crate::cluster::announce_plugin_change(&self.db, &report.id).await?;
        tracing::info!(plugin = %report.id, version = %report.version, previous = ?report.previous_version, "plugin activated");
        Ok(report)
    }

    async fn load_version(
        &self,
        id: &str,
        version: &str,
        grants: Grants,
    ) -> Result<LoadedPlugin, RegistryError> {
        let versions = store::plugins::versions(&self.db, id).await?;
        let v = versions
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| {
                RegistryError::Internal(anyhow::anyhow!(
                    "version {version} of {id} is not recorded"
                ))
            })?;
        let path = self.artifact_path(id, &v.content_hash);
        let bytes = self.artifact(id, &v.content_hash, &path).await?;
        if content_hash(&bytes) != v.content_hash {
            return Err(RegistryError::Internal(anyhow::anyhow!(
                "artifact {} does not match its recorded hash",
                path.display()
            )));
        }
        self.load(&bytes, v.manifest, grants).await
    }

    /// A component's bytes: the data folder's copy, else the database's (a version another
    /// node installed), which is then kept in the data folder too.
    async fn artifact(
        &self,
        id: &str,
        hash: &str,
        path: &std::path::Path,
    ) -> Result<Vec<u8>, RegistryError> {
        match tokio::fs::read(path).await {
            Ok(bytes) => return Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("reading {}", path.display()))
                    .into());
            }
        }
        let bytes = store::plugins::artifact(&self.db, id, hash)
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the component {hash} of `{id}` is neither in {} nor in the database",
                    path.display()
                )
            })?;
        // Only a cache: the database keeps the bytes, so a failed write costs a re-fetch.
        // Written aside and renamed, so no reader ever sees half a component.
        let written = async {
            tokio::fs::create_dir_all(path.parent().expect("artifact folder")).await?;
            let part = path.with_extension(format!("{}.part", uuid::Uuid::now_v7()));
            tokio::fs::write(&part, &bytes).await?;
            tokio::fs::rename(&part, path).await
        };
        if let Err(e) = written.await {
            tracing::warn!(plugin = %id, file = %path.display(), error = %e, "could not keep a fetched plugin component in the data folder");
        }
        Ok(bytes)
    }

    /// Makes the previous version active again (and remembers the one rolled back from).
    pub async fn rollback(&self, id: &str) -> Result<ChangeReport, RegistryError> {
        let _guard = self.changes.lock().await;
        let row = store::plugins::get(&self.db, id)
            .await?
            .ok_or_else(|| RegistryError::NotInstalled(id.to_string()))?;
        let previous = row
            .previous_version
            .clone()
            .ok_or_else(|| RegistryError::NothingToRollBack(id.to_string()))?;
        let plugin = self.load_version(id, &previous, row.grants.clone()).await?;
        store::plugins::activate(
            &self.db,
            id,
            &previous,
            Some(&row.active_version),
            &row.grants,
        )
        .await?;
        let report = ChangeReport {
            id: id.to_string(),
            version: previous,
            previous_version: Some(row.active_version),
            content_hash: plugin.content_hash.clone(),
            not_granted: not_granted(&plugin),
        };
        self.swap_in(plugin);
        crate::cluster::announce_plugin_change(&self.db, id).await?;
        tracing::info!(plugin = %id, version = %report.version, "plugin rolled back");
        Ok(report)
    }

    /// Replaces the operator's grants of an installed plugin; effective immediately for new
    /// calls.
    pub async fn grant(&self, id: &str, grants: Grants) -> Result<ChangeReport, RegistryError> {
        let _guard = self.changes.lock().await;
        let row = store::plugins::get(&self.db, id)
            .await?
            .ok_or_else(|| RegistryError::NotInstalled(id.to_string()))?;
        let plugin = self
            .load_version(id, &row.active_version, grants.clone())
            .await?;
        store::plugins::activate(
            &self.db,
            id,
            &row.active_version,
            row.previous_version.as_deref(),
            &grants,
        )
        .await?;
        let report = ChangeReport {
            id: id.to_string(),
            version: row.active_version,
            previous_version: row.previous_version,
            content_hash: plugin.content_hash.clone(),
            not_granted: not_granted(&plugin),
        };
        self.swap_in(plugin);
        crate::cluster::announce_plugin_change(&self.db, id).await?;
        Ok(report)
    }

    /// Removes a plugin, its versions, artifacts and storage. Calls in flight finish.
    pub async fn remove(&self, id: &str) -> Result<(), RegistryError> {
        let _guard = self.changes.lock().await;
        if store::plugins::get(&self.db, id).await?.is_none() {
            return Err(RegistryError::NotInstalled(id.to_string()));
        }
        store::plugins::remove(&self.db, id).await?;
        self.slots.write().expect("registry lock").remove(id);
        let dir = self.artifacts.join(id);
        if dir.exists() {
            tokio::fs::remove_dir_all(&dir)
                .await
                .with_context(|| format!("removing {}", dir.display()))?;
        }
        crate::cluster::announce_plugin_change(&self.db, id).await?;
        tracing::info!(plugin = %id, "plugin removed");
        Ok(())
    }

    /// Loads every plugin's active version recorded in the database (server start, or a
    /// change made by another node). A version that no longer loads is logged and skipped,
    /// so one broken artifact cannot keep the server down.
    pub async fn restore(&self) -> anyhow::Result<Vec<String>> {
        let _guard = self.changes.lock().await;
        let mut loaded = Vec::new();
        let rows = store::plugins::list(&self.db).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        for row in rows {
            if let Some(current) = self.get(&row.id)
                && current.manifest.version == row.active_version
                && current.grants == row.grants
            {
                continue;
            }
            match self
                .load_version(&row.id, &row.active_version, row.grants.clone())
                .await
            {
                Ok(p) => {
                    loaded.push(format!("{} {}", row.id, row.active_version));
                    self.swap_in(p);
                }
                Err(e) => {
                    tracing::error!(plugin = %row.id, version = %row.active_version, error = %e, "could not load plugin")
                }
            }
        }
        self.slots
            .write()
            .expect("registry lock")
            .retain(|id, _| ids.contains(id));
        Ok(loaded)
    }

    pub async fn history(&self, id: &str) -> anyhow::Result<Vec<store::plugins::VersionRow>> {
        store::plugins::versions(&self.db, id).await
    }
}

/// Requested capabilities the operator has not granted (shown after every change).
fn not_granted(p: &LoadedPlugin) -> Vec<String> {
    let mut out = Vec::new();
    for h in &p.manifest.hosts {
        if !p.grants.hosts.contains(h) {
            out.push(format!("host {h}"));
        }
    }
    for s in &p.manifest.secrets {
        if !p.grants.secrets.contains(s) {
            out.push(format!("secret {s}"));
        }
    }
    if p.grants.storage_quota < p.manifest.storage_quota {
        out.push(format!("storage-quota {}", p.manifest.storage_quota));
    }
    out
}
