//! The plugin runtime: one engine, a registry of hot-swappable plugin versions, and calls
//! that each get a fresh store with the plugin's grants and limits.

pub mod cache;
pub mod call;
pub mod caps;
pub mod engine;
pub mod error;
pub mod grants;
pub mod limits;
pub mod manifest;
pub mod plugin;
pub mod registry;
pub mod state;
pub mod watch;

use anyhow::Result;
use call::{AiCall, Caller, PlatformCall};
use caps::Services;
use error::CallError;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::PlatformInfo;
use registry::Registry;
use state::CallContext;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct RuntimeOptions {
    pub data_dir: std::path::PathBuf,
    pub engine: engine::EngineOptions,
    pub limits: limits::Limits,
}

pub struct Runtime {
    pub registry: Arc<Registry>,
    caller: Arc<Caller>,
    ticker_stop: Arc<AtomicBool>,
    /// `describe()` answers by component content hash: a version always describes itself
    /// the same way, and publishing asks for every target.
    descriptions: std::sync::Mutex<std::collections::HashMap<String, PlatformInfo>>,
}

impl Runtime {
    pub fn new(opts: RuntimeOptions, db: crate::store::Db, services: Services) -> Result<Runtime> {
        let engine = engine::build(&opts.engine)?;
        let ticker_stop = engine::start_ticker(&engine);
        let caller = Arc::new(Caller {
            engine,
            services: Arc::new(services),
            permits: Arc::new(tokio::sync::Semaphore::new(
                opts.engine.max_concurrent_calls as usize,
            )),
            max_calls: opts.engine.max_concurrent_calls as usize,
        });
        let registry = Arc::new(Registry::new(
            db,
            &opts.data_dir,
            caller.clone(),
            opts.limits,
            opts.engine.max_memory_bytes,
        )?);
        Ok(Runtime {
            registry,
            caller,
            ticker_stop,
            descriptions: Default::default(),
        })
    }

    /// Starts a call of a platform plugin's export (the active version at this moment).
    pub async fn platform(
        &self,
        plugin: &str,
        function: &'static str,
        ctx: CallContext,
    ) -> Result<PlatformCall, CallError> {
        let p = self
            .registry
            .get(plugin)
            .ok_or_else(|| CallError::NotInstalled(plugin.to_string()))?;
        self.caller.platform(p, function, ctx).await
    }

    /// Starts a call of an AI provider plugin's export.
    pub async fn ai(
        &self,
        plugin: &str,
        function: &'static str,
        ctx: CallContext,
    ) -> Result<AiCall, CallError> {
        let p = self
            .registry
            .get(plugin)
            .ok_or_else(|| CallError::NotInstalled(plugin.to_string()))?;
        self.caller.ai(p, function, ctx).await
    }

    /// What the active version of a platform plugin accepts (cached per version).
    pub async fn describe_platform(&self, plugin: &str) -> Result<PlatformInfo, CallError> {
        let p = self
            .registry
            .get(plugin)
            .ok_or_else(|| CallError::NotInstalled(plugin.to_string()))?;
        if let Some(info) = self
            .descriptions
            .lock()
            .expect("describe cache")
            .get(&p.content_hash)
        {
            return Ok(info.clone());
        }
        let hash = p.content_hash.clone();
        let info = self
            .caller
            .platform(p, "describe", CallContext::default())
            .await?
            .describe()
            .await?;
        self.descriptions
            .lock()
            .expect("describe cache")
            .insert(hash, info.clone());
        Ok(info)
    }

    /// Calls that are running right now.
    /// The HTTP requests plugins sent from this node (for `requests`-type rate rules).
    pub fn requests_sent(&self) -> &caps::ledger::RequestLedger {
        &self.caller.services.http.ledger
    }

    pub fn calls_in_flight(&self) -> usize {
        let total = self.caller.permits_total();
        total - self.caller.permits.available_permits()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}
