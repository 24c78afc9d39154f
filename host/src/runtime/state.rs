//! Per-call host state: one per `Store`, dropped with it when the call ends.

use super::caps::{Services, media::CallMedia};
use super::grants::Effective;
use super::limits::Limits;
use plugboard_bindings::DeltaSink;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Who is calling what: attached to every log line and every error.
#[derive(Debug, Clone)]
pub struct CallInfo {
    pub plugin: String,
    pub version: String,
    pub call_id: String,
    pub function: &'static str,
    pub account: Option<String>,
}

/// The account a call acts for: its credentials and non-secret properties.
#[derive(Clone, Default)]
pub struct AccountContext {
    pub id: String,
    pub values: HashMap<String, String>,
}

impl std::fmt::Debug for AccountContext {
    // Credential values never reach logs, not even debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_struct("AccountContext")
            .field("id", &self.id)
            .field("values", &names)
            .finish()
    }
}

/// What the caller hands a call: secrets, account, media. Filtered by the grants inside.
#[derive(Default)]
pub struct CallContext {
    pub account: Option<AccountContext>,
    pub app_secrets: HashMap<String, String>,
    pub media: CallMedia,
    pub sink: Option<Box<dyn DeltaSink>>,
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut secret_names: Vec<&String> = self.app_secrets.keys().collect();
        secret_names.sort();
        f.debug_struct("CallContext")
            .field("account", &self.account)
            .field("app_secrets", &secret_names)
            .finish_non_exhaustive()
    }
}

/// Which limit a call ran into (set by the limiter or the epoch callback before trapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    Memory,
    Tables,
    Instances,
    Cpu,
}

#[derive(Default)]
pub struct Counters {
    pub http_requests: u32,
    pub open_resources: u32,
    pub log_lines: u32,
    pub log_dropped: u32,
}

pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) info: Arc<CallInfo>,
    pub(crate) limits: Limits,
    pub(crate) effective: Arc<Effective>,
    pub(crate) services: Arc<Services>,
    pub(crate) ctx: CallContext,
    pub(crate) counters: Counters,
    pub(crate) limit_hit: Option<LimitHit>,
    started: Instant,
    in_host: Duration,
}

impl HostState {
    pub(crate) fn new(
        info: Arc<CallInfo>,
        limits: Limits,
        effective: Arc<Effective>,
        services: Arc<Services>,
        ctx: CallContext,
    ) -> HostState {
        // Guests import WASI even when unused: give them a context with nothing in it — no
        // files, no environment, no arguments, no sockets, no name lookups.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            info,
            limits,
            effective,
            services,
            ctx,
            counters: Counters::default(),
            limit_hit: None,
            started: Instant::now(),
            in_host: Duration::ZERO,
        }
    }

    /// Time spent running guest code so far (wall time minus time inside host calls).
    pub(crate) fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.in_host)
    }

    /// Runs a host call, charging its duration to the host rather than to the guest's CPU
    /// budget.
    pub(crate) async fn in_host<T>(&mut self, f: impl AsyncFnOnce(&mut Self) -> T) -> T {
        let start = Instant::now();
        let out = f(self).await;
        self.in_host += start.elapsed();
        out
    }

    /// Prefix for refusals: names the plugin and version, as every refusal must.
    pub(crate) fn who(&self) -> String {
        format!("plugin `{}` {}", self.info.plugin, self.info.version)
    }

    pub(crate) fn media(&self) -> &CallMedia {
        &self.ctx.media
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Memory and table growth limits; records which one was hit so the error can say so.
impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limits.memory_bytes {
            self.limit_hit = Some(LimitHit::Memory);
            // A plain refusal makes a Rust guest abort anyway; trapping gives one clear path.
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > 100_000 {
            self.limit_hit = Some(LimitHit::Tables);
            return Err(wasmtime::Error::msg("table limit exceeded"));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        32
    }
    fn tables(&self) -> usize {
        64
    }
    fn memories(&self) -> usize {
        16
    }
}
