//! One plugin call: a fresh `Store` (nothing leaks between calls or accounts), the plugin's
//! limits installed, the call run under a wall-clock timeout, failures typed.

use super::caps::Services;
use super::caps::media::MediaItem;
use super::error::{CallError, Limit};
use super::plugin::{LoadedPlugin, Pre};
use super::state::{CallContext, CallInfo, HostState, LimitHit};
use plugboard_bindings::CompletionSink;
use plugboard_bindings::ai::AiProvider;
use plugboard_bindings::ai::exports::plugboard::plugin::provider::{
    self as prov, Completion, CompletionRequest, ImageRequest, ProviderInfo, SpeechRequest,
};
use plugboard_bindings::platform::Platform;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    self as publ, Authorization, AuthorizeRequest, CodeExchange, CommentPage, Connection,
    Credentials, Metric, PlatformInfo, Post, PublishOutcome, ReconcileOutcome, WebhookReply,
    WebhookRequest,
};
use plugboard_bindings::platform::plugboard::plugin::types::{MediaRef, PluginError, Problem};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::{Engine, Store, UpdateDeadline};

type GuestFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

/// Everything needed to start calls; shared by the runtime.
pub(crate) struct Caller {
    pub engine: Engine,
    pub services: Arc<Services>,
    pub permits: Arc<tokio::sync::Semaphore>,
    pub max_calls: usize,
}

struct Prepared {
    store: Store<HostState>,
    plugin: Arc<LoadedPlugin>,
    function: &'static str,
    deadline: Instant,
    _permit: OwnedSemaphorePermit,
}

impl Caller {
    pub fn permits_total(&self) -> usize {
        self.max_calls
    }

    async fn prepare(
        &self,
        plugin: Arc<LoadedPlugin>,
        function: &'static str,
        ctx: CallContext,
    ) -> Result<Prepared, CallError> {
        let deadline = Instant::now() + plugin.limits.wall();
        // Waiting for a slot counts against the wall clock: a saturated host answers with a
        // timeout, not an instantiation failure.
        let permit = tokio::time::timeout_at(deadline.into(), self.permits.clone().acquire_owned())
            .await
            .map_err(|_| wall_error(&plugin, function))?
            .expect("the call semaphore is never closed");
        let info = Arc::new(CallInfo {
            plugin: plugin.manifest.id.clone(),
            version: plugin.manifest.version.clone(),
            call_id: uuid::Uuid::now_v7().to_string(),
            function,
            account: ctx.account.as_ref().map(|a| a.id.clone()),
        });
        let state = HostState::new(
            info,
            plugin.limits,
            plugin.effective.clone(),
            self.services.clone(),
            ctx,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        let cpu = std::time::Duration::from_millis(plugin.limits.cpu_ms);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            let s = ctx.data_mut();
            if s.guest_time() > cpu {
                s.limit_hit = Some(LimitHit::Cpu);
                return Err(wasmtime::Error::msg("CPU time limit exceeded"));
            }
            // Under budget: yield to the async runtime so a busy guest never starves others.
            Ok(UpdateDeadline::Yield(1))
        });
        Ok(Prepared {
            store,
            plugin,
            function,
            deadline,
            _permit: permit,
        })
    }

    pub async fn platform(
        &self,
        plugin: Arc<LoadedPlugin>,
        function: &'static str,
        ctx: CallContext,
    ) -> Result<PlatformCall, CallError> {
        let Pre::Platform(pre) = &plugin.pre else {
            return Err(world_error(&plugin, "platform"));
        };
        let pre = pre.clone();
        let mut p = self.prepare(plugin, function, ctx).await?;
        let remaining = p.deadline.saturating_duration_since(Instant::now());
        let bindings =
            match tokio::time::timeout(remaining, pre.instantiate_async(&mut p.store)).await {
                Err(_) => return Err(wall_error(&p.plugin, function)),
                Ok(Err(e)) => return Err(instantiate_error(&p, e)),
                Ok(Ok(b)) => b,
            };
        Ok(PlatformCall { p, bindings })
    }

    pub async fn ai(
        &self,
        plugin: Arc<LoadedPlugin>,
        function: &'static str,
        ctx: CallContext,
    ) -> Result<AiCall, CallError> {
        let Pre::Ai(pre) = &plugin.pre else {
            return Err(world_error(&plugin, "ai-provider"));
        };
        let pre = pre.clone();
        let mut p = self.prepare(plugin, function, ctx).await?;
        let remaining = p.deadline.saturating_duration_since(Instant::now());
        let bindings =
            match tokio::time::timeout(remaining, pre.instantiate_async(&mut p.store)).await {
                Err(_) => return Err(wall_error(&p.plugin, function)),
                Ok(Err(e)) => return Err(instantiate_error(&p, e)),
                Ok(Ok(b)) => b,
            };
        Ok(AiCall { p, bindings })
    }
}

fn world_error(plugin: &LoadedPlugin, expected: &'static str) -> CallError {
    CallError::WrongWorld {
        plugin: plugin.manifest.id.clone(),
        version: plugin.manifest.version.clone(),
        actual: plugin.manifest.world.as_str(),
        expected,
    }
}

fn wall_error(plugin: &LoadedPlugin, function: &'static str) -> CallError {
    CallError::LimitExceeded {
        plugin: plugin.manifest.id.clone(),
        version: plugin.manifest.version.clone(),
        function,
        limit: Limit::WallClock,
        detail: format!("{} ms", plugin.limits.wall_ms),
    }
}

fn instantiate_error(p: &Prepared, e: wasmtime::Error) -> CallError {
    match classify(p, e) {
        CallError::Crashed {
            plugin,
            version,
            message,
            ..
        } => CallError::Instantiate {
            plugin,
            version,
            message,
        },
        other => other,
    }
}

/// Turns a trap into the typed error naming plugin, version and what was hit.
fn classify(p: &Prepared, e: wasmtime::Error) -> CallError {
    let plugin = p.plugin.manifest.id.clone();
    let version = p.plugin.manifest.version.clone();
    let function = p.function;
    let limits = &p.plugin.limits;
    let limit = |limit: Limit, detail: String| CallError::LimitExceeded {
        plugin: plugin.clone(),
        version: version.clone(),
        function,
        limit,
        detail,
    };
    match p.store.data().limit_hit {
        Some(LimitHit::Cpu) => return limit(Limit::Cpu, format!("{} ms", limits.cpu_ms)),
        Some(LimitHit::Memory) => {
            return limit(Limit::Memory, format!("{} bytes", limits.memory_bytes));
        }
        Some(LimitHit::Tables | LimitHit::Instances) => {
            return limit(Limit::Table, "table elements".into());
        }
        None => {}
    }
    // Wasmtime keeps only the innermost frames; a runaway recursion shows as all of them
    // being one function.
    let recursing = e
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .is_some_and(|b| {
            let frames = b.frames();
            frames.len() >= 16
                && frames
                    .iter()
                    .all(|f| f.func_index() == frames[0].func_index())
        });
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::StackOverflow) => limit(Limit::Stack, "call stack exhausted".into()),
        // Rust guests keep their stack in linear memory, below the data: runaway recursion
        // runs off its bottom as an out-of-bounds access.
        Some(wasmtime::Trap::MemoryOutOfBounds) if recursing => limit(
            Limit::Stack,
            "stack in linear memory exhausted by recursion".into(),
        ),
        Some(wasmtime::Trap::Interrupt) => limit(Limit::Cpu, format!("{} ms", limits.cpu_ms)),
        Some(wasmtime::Trap::UnreachableCodeReached) => CallError::Crashed {
            plugin,
            version,
            function,
            message: "the plugin panicked (wasm `unreachable` executed)".into(),
        },
        Some(trap) => CallError::Crashed {
            plugin,
            version,
            function,
            message: format!("trap: {trap}"),
        },
        None => CallError::Crashed {
            plugin,
            version,
            function,
            message: format!("{}", e.root_cause()),
        },
    }
}

impl Prepared {
    async fn run<R>(
        mut self,
        call: impl for<'a> FnOnce(&'a mut Store<HostState>) -> GuestFuture<'a, R>,
    ) -> Result<R, CallError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        // The future (and its borrow of the store) is gone once `timeout` returns, so the
        // store can be inspected to tell which limit a trap came from.
        let started = Instant::now();
        let out = tokio::time::timeout(remaining, call(&mut self.store)).await;
        let outcome = match &out {
            Err(_) => "timeout",
            Ok(Ok(_)) => "ok",
            Ok(Err(_)) => "trap",
        };
        let (plugin, function) = (self.plugin.manifest.id.clone(), self.function);
        metrics::counter!("plugboard_plugin_calls_total", "plugin" => plugin.clone(), "function" => function, "outcome" => outcome).increment(1);
        metrics::histogram!("plugboard_plugin_call_seconds", "plugin" => plugin, "function" => function).record(started.elapsed().as_secs_f64());
        let dropped = self.store.data().counters.log_dropped;
        if dropped > 0 {
            let info = &self.store.data().info;
            tracing::warn!(plugin = %info.plugin, version = %info.version, call = %info.call_id, dropped, "plugin log lines over the per-call limit were dropped");
        }
        match out {
            Err(_) => Err(wall_error(&self.plugin, self.function)),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(&self, e)),
        }
    }
}

/// Result of an export that returns `result<T, plugin-error>`: the outer error is the
/// host's (trap, limit), the inner one the plugin's.
pub type PluginResult<T> = Result<Result<T, PluginError>, CallError>;

/// An instantiated platform plugin, good for exactly one export call.
pub struct PlatformCall {
    p: Prepared,
    bindings: Platform,
}

macro_rules! platform_export {
    ($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty, |$g:ident, $s:ident| $body:expr) => {
        pub async fn $name(self, $($arg: $ty),*) -> Result<$ret, CallError> {
            let PlatformCall { p, bindings } = self;
            p.run(move |$s| {
                Box::pin(async move {
                    let $g: &publ::Guest = bindings.plugboard_plugin_publisher();
                    $body.await
                })
            })
            .await
        }
    };
}

impl PlatformCall {
    platform_export!(describe() -> PlatformInfo, |g, s| g.call_describe(s));
    platform_export!(authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError>, |g, s| g.call_authorize(s, &req));
    platform_export!(exchange_code(req: CodeExchange) -> Result<Connection, PluginError>, |g, s| g.call_exchange_code(s, &req));
    platform_export!(connect_with(fields: Vec<(String, String)>) -> Result<Connection, PluginError>, |g, s| g.call_connect_with(s, &fields));
    platform_export!(refresh() -> Result<Credentials, PluginError>, |g, s| g.call_refresh(s));
    platform_export!(revoke() -> Result<(), PluginError>, |g, s| g.call_revoke(s));
    platform_export!(validate(post: Post) -> Vec<Problem>, |g, s| g.call_validate(s, &post));
    platform_export!(publish(post: Post) -> Result<PublishOutcome, PluginError>, |g, s| g.call_publish(s, &post));
    platform_export!(check_status(handle: String) -> Result<PublishOutcome, PluginError>, |g, s| g.call_check_status(s, &handle));
    platform_export!(reconcile(post: Post) -> Result<ReconcileOutcome, PluginError>, |g, s| g.call_reconcile(s, &post));
    platform_export!(delete(remote_id: String) -> Result<(), PluginError>, |g, s| g.call_delete(s, &remote_id));
    platform_export!(metrics(remote_id: Option<String>) -> Result<Vec<Metric>, PluginError>, |g, s| g.call_metrics(s, remote_id.as_deref()));
    platform_export!(list_comments(post: Option<String>, cursor: Option<String>) -> Result<CommentPage, PluginError>, |g, s| g.call_list_comments(s, post.as_deref(), cursor.as_deref()));
    platform_export!(reply_comment(comment: String, text: String) -> Result<String, PluginError>, |g, s| g.call_reply_comment(s, &comment, &text));
    platform_export!(handle_webhook(req: WebhookRequest) -> Result<WebhookReply, PluginError>, |g, s| g.call_handle_webhook(s, &req));
}

/// An instantiated AI provider plugin, good for exactly one export call.
pub struct AiCall {
    p: Prepared,
    bindings: AiProvider,
}

macro_rules! ai_export {
    ($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty, |$g:ident, $s:ident| $body:expr) => {
        pub async fn $name(self, $($arg: $ty),*) -> Result<$ret, CallError> {
            let AiCall { p, bindings } = self;
            p.run(move |$s| {
                Box::pin(async move {
                    let $g: &prov::Guest = bindings.plugboard_plugin_provider();
                    $body.await
                })
            })
            .await
        }
    };
}

impl AiCall {
    ai_export!(describe() -> ProviderInfo, |g, s| g.call_describe(s));
    ai_export!(complete(req: CompletionRequest) -> Result<Completion, PluginError>, |g, s| g.call_complete(s, &req));
    ai_export!(speech(req: SpeechRequest) -> Result<MediaRef, PluginError>, |g, s| g.call_speech(s, &req));

    /// Streams a completion: deltas go to the call context's sink as they arrive.
    pub async fn stream(self, req: CompletionRequest) -> PluginResult<Completion> {
        let AiCall { mut p, bindings } = self;
        let Some(sink) = p.store.data_mut().ctx.sink.take() else {
            return Ok(Err(PluginError::Permanent("streaming needs a sink".into())));
        };
        let handle = p
            .store
            .data_mut()
            .table
            .push(CompletionSink { inner: sink })
            .map_err(|e| CallError::Crashed {
                plugin: p.plugin.manifest.id.clone(),
                version: p.plugin.manifest.version.clone(),
                function: p.function,
                message: format!("resource table: {e}"),
            })?;
        p.run(move |s| {
            Box::pin(async move {
                bindings
                    .plugboard_plugin_provider()
                    .call_stream(s, &req, handle)
                    .await
            })
        })
        .await
    }

    /// Generates images; also returns the media objects the plugin stored.
    pub async fn generate_image(
        self,
        req: ImageRequest,
    ) -> Result<(Result<Vec<MediaRef>, PluginError>, Vec<MediaItem>), CallError> {
        let AiCall { p, bindings } = self;
        p.run(move |s| {
            Box::pin(async move {
                let out = bindings
                    .plugboard_plugin_provider()
                    .call_generate_image(&mut *s, &req)
                    .await?;
                let created = std::mem::take(&mut s.data_mut().ctx.media.created);
                Ok((out, created))
            })
        })
        .await
    }
}
