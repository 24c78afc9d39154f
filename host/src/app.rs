//! The assembled server: database, object storage, plugin runtime.

use crate::blobs::Blobs;
use crate::config::Config;
use crate::crypto::{credentials::CredentialCipher, keyfile, signed_url::UrlSigner};
use crate::runtime::caps::{
    Services,
    http::{HttpService, IpPolicy},
    media::MediaService,
};
use crate::runtime::engine::EngineOptions;
use crate::runtime::grants::Grants;
use crate::runtime::limits::Limits;
use crate::runtime::manifest::Manifest;
use crate::runtime::registry::InstallMode;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::store::{Db, plugin_kv::SqlKv};
use anyhow::{Context, Result};
use std::sync::Arc;

pub struct App {
    pub config: Config,
    pub db: Db,
    pub blobs: Blobs,
    pub signer: UrlSigner,
    /// Encrypts app settings, account credentials and OAuth states at rest.
    pub cipher: Arc<CredentialCipher>,
    pub runtime: Arc<Runtime>,
    pub admin_token: String,
    /// Status changes for server-sent events.
    pub events: crate::events::Events,
    /// Wakes this node's job workers when work is enqueued.
    pub jobs_waker: Arc<crate::jobs::Waker>,
    /// The host's own outbound HTTP (webhook deliveries), with the plugins' address policy.
    pub outbound: HttpService,
    /// Failed sign-ins per email, to slow down password guessing.
    pub signin_throttle: crate::throttle::Throttle,
}

impl App {
    /// Opens (and migrates) the database, storage and runtime, and restores the active
    /// plugin versions.
    pub async fn open(config: Config) -> Result<Arc<App>> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data folder {}", config.data_dir.display()))?;
        let db = Db::connect(&config.database_url()).await?;
        db.migrate().await.context("running database migrations")?;
        let blobs = match &config.s3_bucket {
            Some(bucket) => Blobs::s3(bucket, config.s3_endpoint.as_deref())?,
            None => Blobs::local(&config.data_dir.join("media"))?,
        };
        let signer = UrlSigner::new(
            keyfile::load_or_create(&config.data_dir.join("keys/url-signing.key"))?,
            &config.public_url(),
        )?;
        let cipher = Arc::new(CredentialCipher::load(
            &config.data_dir,
            config.credentials_key.as_ref(),
        )?);
        let admin_token = match &config.admin_token {
            Some(t) => t.clone(),
            None => admin_token_file(&config.data_dir)?,
        };
        let services = Services {
            http: HttpService::new(IpPolicy {
                allowed: config.http_allow_ranges.clone(),
            })?,
            storage: Arc::new(SqlKv::new(db.clone(), cipher.clone())),
            media: Arc::new(MediaService {
                blobs: blobs.clone(),
                signer: signer.clone(),
            }),
        };
        let runtime = Runtime::new(
            RuntimeOptions {
                data_dir: config.data_dir.clone(),
                engine: EngineOptions {
                    max_concurrent_calls: config.max_concurrent_calls,
                    ..EngineOptions::default()
                },
                limits: Limits::default(),
            },
            db.clone(),
            services,
        )?;
        let config_ranges = config.http_allow_ranges.clone();
        let restored = runtime.registry.restore().await?;
        if !restored.is_empty() {
            tracing::info!(plugins = ?restored, "restored active plugin versions");
        }
        Ok(Arc::new(App {
            config,
            db,
            blobs,
            signer,
            cipher,
            runtime: Arc::new(runtime),
            admin_token,
            events: crate::events::Events::default(),
            jobs_waker: Arc::new(crate::jobs::Waker::default()),
            outbound: HttpService::new(IpPolicy {
                allowed: config_ranges,
            })?,
            signin_throttle: Default::default(),
        }))
    }

    /// Installs the bundled first-party plugins the first time the server starts (an
    /// operator who later removes one does not get it back on restart).
    pub async fn install_bundled(&self) -> Result<()> {
        let marker = self.config.data_dir.join("bundled-installed");
        if marker.exists() {
            return Ok(());
        }
        let dir = &self.config.bundled_plugins;
        let Ok(entries) = std::fs::read_dir(dir) else {
            tracing::warn!(dir = %dir.display(), "no bundled plugins folder; build them with `cargo build --release --target wasm32-wasip2` in plugins/");
            return Ok(());
        };
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        files.sort();
        for path in files {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let manifest = match Manifest::from_component(&bytes) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "skipping bundled file");
                    continue;
                }
            };
            // A node joining a cluster starts with a fresh data folder but not a fresh
            // database: installing here would undo an upgrade the cluster already made.
            if crate::store::plugins::get(&self.db, &manifest.id)
                .await?
                .is_some()
            {
                continue;
            }
            match self
                .runtime
                .registry
                .install(&bytes, Some(Grants::requested(&manifest)), InstallMode::Any)
                .await
            {
                Ok(r) => {
                    tracing::info!(plugin = %r.id, version = %r.version, "installed bundled plugin")
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "bundled plugin not installed")
                }
            }
        }
        std::fs::write(&marker, b"bundled plugins were installed on first start\n")?;
        Ok(())
    }
}

fn admin_token_file(data_dir: &std::path::Path) -> Result<String> {
    let path = data_dir.join("admin-token");
    if path.exists() {
        return Ok(std::fs::read_to_string(&path)?.trim().to_string());
    }
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = format!("pbop_{}", hex::encode(raw));
    keyfile::write_private(&path, token.as_bytes())?;
    tracing::warn!(file = %path.display(), "generated the operator token for the admin API; keep this file private");
    Ok(token)
}
