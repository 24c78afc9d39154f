//! The one `wasmtime::Engine` of the process, its epoch ticker and the pooling allocator.

use anyhow::Result;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. A guest in a tight loop is checked (and yields to the
/// async runtime) this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Calls that may run at once; sizes the pooling allocator (the semaphore in front of
    /// it makes the rest wait rather than fail).
    pub max_concurrent_calls: u32,
    /// Per-instance memory cap, the largest any plugin may be granted.
    pub max_memory_bytes: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_concurrent_calls: 1_000,
            max_memory_bytes: 256 << 20,
        }
    }
}

pub fn build(opts: &EngineOptions) -> Result<Engine> {
    let n = opts.max_concurrent_calls.max(1);
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Guests run on fibers; their stack must hold the wasm stack plus host frames.
    config.max_wasm_stack(1 << 20);
    config.async_stack_size(2 << 20);

    // Pooling: instantiation is a few µs instead of tens. The pool is a hard limit, so it
    // is sized from the concurrency bound. A Rust component uses several core instances,
    // memories and tables per component instance.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(n);
    pool.total_core_instances(n.saturating_mul(8));
    pool.total_memories(n.saturating_mul(2));
    pool.total_tables(n.saturating_mul(4));
    pool.total_stacks(n);
    pool.max_memory_size(opts.max_memory_bytes as usize);
    pool.decommit_batch_size(32);
    // Recycle a slot by zeroing the pages the last call dirtied and keeping them resident,
    // rather than madvise(DONTNEED) and taking those page faults again on the next call
    // (about 2 µs each on a 2-vCPU VM). PAGEMAP_SCAN (Linux >= 6.7) finds the dirty pages;
    // without it wasmtime would memset and keep the first `keep_resident` bytes of every
    // slot, touched or not (with 1 MiB: 9.7 GB RSS at 10,000 calls), so it is on only
    // where the scan exists. Measured (docs/benchmarks.md, "Plugin runtime"): sequential
    // call 5 -> 0 page faults and p50 27 -> 15 us; warm 10,000-call burst 7.5 -> 1 faults
    // and ~150 -> ~115 us CPU per call; peak RSS +3 %. The price: after a burst each used
    // slot keeps what it dirtied (at most 128 KiB), so idle RSS stays near the peak.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes);
        pool.linear_memory_keep_resident(128 << 10);
        // Bounded by the table's own size (a page or two for a Rust component).
        pool.table_keep_resident(64 << 10);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // Reserve only what a memory may grow to: thousands of slots of the default 4 GiB
    // reservation would exhaust the address space.
    config.memory_reservation(opts.max_memory_bytes);
    config.memory_guard_size(64 << 10);
    config.memory_reservation_for_growth(0);

    Engine::new(&config).map_err(|e| anyhow::anyhow!("creating the wasm engine: {e:#}"))
}

/// Advances the epoch every [`EPOCH_TICK`] on a plain thread, so deadlines fire even when
/// every async worker is busy.
pub fn start_ticker(engine: &Engine) -> Arc<std::sync::atomic::AtomicBool> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let weak = engine.weak();
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawning the epoch thread");
    stop
}
