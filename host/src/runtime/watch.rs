//! Development mode: reload plugins from a folder whenever a `.wasm` file in it changes.
//! Watched plugins get what their manifest requests (this is for a developer's own
//! machine; production installs grant explicitly).

use super::grants::Grants;
use super::manifest::Manifest;
use super::registry::{InstallMode, Registry, content_hash};
use notify::{RecursiveMode, Watcher};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Installs every component in `dir` now, then again whenever one changes. Runs until the
/// returned watcher is dropped.
pub async fn watch(
    registry: Arc<Registry>,
    dir: PathBuf,
) -> anyhow::Result<notify::RecommendedWatcher> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event.paths.iter().any(|p| is_wasm(p))
        {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let mut seen = HashMap::new();
    sync_dir(&registry, &dir, &mut seen).await;
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Builds write files in several steps: wait for the burst to settle.
            tokio::time::sleep(Duration::from_millis(300)).await;
            while rx.try_recv().is_ok() {}
            sync_dir(&registry, &dir, &mut seen).await;
        }
    });
    Ok(watcher)
}

fn is_wasm(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "wasm")
}

async fn sync_dir(registry: &Registry, dir: &Path, seen: &mut HashMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "watched plugin folder is not readable");
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !is_wasm(&path) {
            continue;
        }
        let Ok(bytes) = tokio::fs::read(&path).await else {
            continue;
        };
        let hash = content_hash(&bytes);
        if seen.get(&path) == Some(&hash) {
            continue;
        }
        seen.insert(path.clone(), hash);
        let grants = match Manifest::from_component(&bytes) {
            Ok(m) => Grants::requested(&m),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "skipping watched file");
                continue;
            }
        };
        match registry
            .install(&bytes, Some(grants), InstallMode::Develop)
            .await
        {
            Ok(r) => {
                tracing::info!(plugin = %r.id, version = %r.version, file = %path.display(), "reloaded watched plugin")
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "watched plugin not loaded")
            }
        }
    }
}
