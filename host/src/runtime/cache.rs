//! Compiled-artifact cache on disk, keyed by the component's content hash and the engine's
//! compatibility hash, so a restart or a second node loads in a fraction of a millisecond
//! instead of compiling again.

use anyhow::{Context, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

impl ArtifactCache {
    pub fn new(dir: &Path, engine: &Engine) -> Result<ArtifactCache> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    fn path(&self, content_hash: &str) -> PathBuf {
        self.dir
            .join(format!("{content_hash}-{}.cwasm", self.engine_key))
    }

    /// Loads the compiled component from the cache, or compiles it (off the async runtime's
    /// workers) and stores it.
    pub async fn load_or_compile(
        &self,
        engine: &Engine,
        content_hash: &str,
        bytes: &[u8],
    ) -> Result<Component> {
        let path = self.path(content_hash);
        if path.exists() {
            // SAFETY: only files this cache wrote (below, from `Component::serialize` of the
            // same engine configuration) are in this folder; a stale or foreign file fails the
            // engine's own compatibility check and is recompiled.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled artifact")
                }
            }
        }
        let engine2 = engine.clone();
        let bytes = bytes.to_vec();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine2, &bytes))
            .await
            .context("compile task")?
            .map_err(|e| anyhow::anyhow!("compiling the component: {e:#}"))?;
        let serialized = component
            .serialize()
            .map_err(|e| anyhow::anyhow!("serializing the compiled component: {e:#}"))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        tokio::fs::write(&tmp, &serialized)
            .await
            .with_context(|| format!("writing {}", tmp.display()))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .with_context(|| format!("renaming into {}", path.display()))?;
        Ok(component)
    }
}
