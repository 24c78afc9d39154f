//! Plugin runtime benchmark ("Foundation" item 9); the figures are in `docs/benchmarks.md`.
//!
//! `cargo bench -p plugboard-e2e --bench runtime` runs everything and prints Markdown
//! tables:
//!
//! 1. `latency`: fresh store + instantiate + trivial export (`describe` of the `hostile`
//!    fixture), sequential, split into the host's call setup (`Runtime::platform`) and the
//!    export call + store drop; then bare wasmtime (`Store::new` + `instantiate_async` of
//!    the same component on an engine from the host's `engine::build`, imports stubbed) for
//!    the instantiate part alone.
//! 2. `imports`: a host-import round trip (`secret`, an in-memory lookup) against the same
//!    export without it (`ok`), and the per-import cost of an export making 100,000 `log`
//!    calls.
//! 3. `burst`: 1,000 and 10,000 concurrent `publish` calls whose plugin GETs a 200 ms
//!    endpoint, against the same requests made with plain reqwest from tokio tasks; then
//!    10,000 of each held long enough (`--hold`) that all of them wait at once. Every burst
//!    runs in a child process of its own (clean RSS and CPU accounting), the slow server in
//!    another one, so neither the server's CPU nor its memory is counted.
//!
//! Options (after `--`): `--only latency|imports|burst`, `--sizes 1000,10000`, `--delay MS`
//! (200), `--hold MS` (6000; 0 skips it), `--modes wasm,plain`, `--repeat K` (child processes per configuration),
//! `--rounds R` (bursts per child process: the first finds the pooling allocator's slots
//! cold, later ones warm).

use plugboard::app::App;
use plugboard::runtime::grants::Grants;
use plugboard::runtime::limits::LimitOverrides;
use plugboard::runtime::registry::InstallMode;
use plugboard::runtime::state::CallContext;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{Post, PublishOutcome};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

type Res<T> = anyhow::Result<T>;

const WARMUP: usize = 1_000;
const SAMPLES: usize = 10_000;
const LOG_FLOOD_IMPORTS: f64 = 100_000.0;
/// Pool size of the burst processes: every call of the largest burst must fit at once.
const BURST_POOL: u32 = 10_000;

fn main() -> Res<()> {
    // `cargo bench` passes `--bench` to harness-less benches.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    raise_fd_limit();
    match args.first().map(String::as_str) {
        Some("--serve") => serve(),
        Some("--burst-child") => burst_child(&args[1..]),
        _ => driver(&args),
    }
}

struct Options {
    only: Option<String>,
    sizes: Vec<usize>,
    delay_ms: u64,
    hold_ms: u64,
    modes: Vec<String>,
    repeat: usize,
    rounds: usize,
}

fn parse_options(args: &[String]) -> Res<Options> {
    let mut o = Options {
        only: None,
        sizes: vec![1_000, 10_000],
        delay_ms: 200,
        hold_ms: 6_000,
        modes: vec!["wasm".into(), "plain".into()],
        repeat: 1,
        rounds: 2,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--only" => o.only = Some(value()?),
            "--sizes" => {
                o.sizes = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--delay" => o.delay_ms = value()?.parse()?,
            "--hold" => o.hold_ms = value()?.parse()?,
            "--modes" => o.modes = value()?.split(',').map(String::from).collect(),
            "--repeat" => o.repeat = value()?.parse()?,
            "--rounds" => o.rounds = value()?.parse()?,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

fn driver(args: &[String]) -> Res<()> {
    let o = parse_options(args)?;
    let wants = |part: &str| o.only.as_deref().is_none_or(|only| only == part);
    let hostile = plugboard_e2e::fixtures_dir().join("hostile.wasm");
    println!(
        "plugin runtime bench: {} cores, `{}`",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        hostile.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if wants("latency") || wants("imports") {
        let (app, _dir) = rt.block_on(hostile_app(&hostile, None))?;
        if wants("latency") {
            rt.block_on(spawned(latency(app.clone())))?;
            rt.block_on(spawned(bare_wasmtime(std::fs::read(&hostile)?)))?;
        }
        if wants("imports") {
            rt.block_on(spawned(imports(app.clone())))?;
        }
    }
    if wants("burst") {
        bursts(&o, &hostile)?;
    }
    Ok(())
}

/// Runs `f` on a runtime worker, as a request handler would, rather than on `block_on`'s
/// thread.
async fn spawned(f: impl Future<Output = Res<()>> + Send + 'static) -> Res<()> {
    tokio::spawn(f).await?
}

fn grants() -> Grants {
    Grants {
        hosts: vec!["http://127.0.0.1:*".into()],
        secrets: vec!["declared_secret".into()],
        storage_quota: 4096,
        limits: LimitOverrides {
            // The 100,000-line log flood takes longer than the default CPU budget.
            cpu_ms: Some(10_000),
            ..Default::default()
        },
    }
}

async fn hostile_app(wasm: &Path, max_calls: Option<u32>) -> Res<(Arc<App>, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let mut config = plugboard_e2e::test_config(dir.path());
    if let Some(n) = max_calls {
        config.max_concurrent_calls = n;
    }
    let app = App::open(config).await?;
    app.runtime
        .registry
        .install(&std::fs::read(wasm)?, Some(grants()), InstallMode::Install)
        .await?;
    Ok((app, dir))
}

fn post(text: &str) -> Post {
    Post {
        target_id: "target-1".into(),
        attempt: 1,
        kind: "text".into(),
        text: text.into(),
        media: vec![],
        thread: vec![],
        options: vec![],
        scheduled_at: None,
    }
}

async fn publish(app: &App, text: &str, ctx: CallContext) -> Res<String> {
    match app
        .runtime
        .platform("hostile", "publish", ctx)
        .await?
        .publish(post(text))
        .await?
    {
        Ok(PublishOutcome::Published(p)) => Ok(p.remote_id),
        other => anyhow::bail!("`{text}`: unexpected outcome {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// 1. Fresh store + instantiate + trivial export.

async fn latency(app: Arc<App>) -> Res<()> {
    let call = async || -> Res<(Duration, Duration)> {
        let t0 = Instant::now();
        let call = app
            .runtime
            .platform("hostile", "describe", CallContext::default())
            .await?;
        let t1 = Instant::now();
        let info = call.describe().await?;
        let t2 = Instant::now();
        std::hint::black_box(info);
        Ok((t1 - t0, t2 - t1))
    };
    for _ in 0..WARMUP {
        call().await?;
    }
    let (mut setup, mut export, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let u0 = Usage::now();
    let start = Instant::now();
    for _ in 0..SAMPLES {
        let (a, b) = call().await?;
        setup.push(a);
        export.push(b);
        total.push(a + b);
    }
    let wall = start.elapsed();
    let u = Usage::now().since(&u0);
    println!(
        "\n## 1. fresh store + instantiate + `describe` ({SAMPLES} sequential calls after {WARMUP} warm-up)"
    );
    header(&["part", "p50 µs", "p99 µs", "mean µs"]);
    dist_row(
        "Runtime::platform (permit, HostState + WASI ctx, Store, instantiate)",
        &mut setup,
    );
    dist_row(
        "PlatformCall::describe (export call, store drop)",
        &mut export,
    );
    dist_row("whole call", &mut total);
    println!(
        "whole loop: {:.1} µs/call wall, {:.1} µs/call CPU ({:.1} sys), {:.2} minor faults/call",
        micros(wall) / SAMPLES as f64,
        u.cpu_us() / SAMPLES as f64,
        u.stime_us as f64 / SAMPLES as f64,
        u.minflt as f64 / SAMPLES as f64
    );
    Ok(())
}

/// The same component instantiated by bare wasmtime on an engine built by the host's own
/// `engine::build`: no host state, imports stubbed as traps. This is the instantiate part
/// alone, measured without a timing API in the runtime.
async fn bare_wasmtime(bytes: Vec<u8>) -> Res<()> {
    use wasmtime::Store;
    use wasmtime::component::{Component, Linker};
    let engine = plugboard::runtime::engine::build(&Default::default())?;
    let component = Component::new(&engine, &bytes).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let mut linker = Linker::<()>::new(&engine);
    linker
        .define_unknown_imports_as_traps(&component)
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let (mut new, mut inst, mut drop_) = (Vec::new(), Vec::new(), Vec::new());
    let mut u0 = Usage::now();
    for i in 0..WARMUP + SAMPLES {
        if i == WARMUP {
            u0 = Usage::now();
        }
        let t0 = Instant::now();
        let mut store = Store::new(&engine, ());
        // The engine has epoch interruption on and no ticker here: never expire.
        store.set_epoch_deadline(1 << 40);
        let t1 = Instant::now();
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let t2 = Instant::now();
        std::hint::black_box(instance);
        drop(store);
        let t3 = Instant::now();
        if i >= WARMUP {
            new.push(t1 - t0);
            inst.push(t2 - t1);
            drop_.push(t3 - t2);
        }
    }
    let u = Usage::now().since(&u0);
    println!(
        "\nbare wasmtime, same engine config and component ({SAMPLES} after {WARMUP} warm-up):"
    );
    header(&["part", "p50 µs", "p99 µs", "mean µs"]);
    dist_row("Store::new", &mut new);
    dist_row(
        "InstancePre::instantiate_async (the instantiate part alone)",
        &mut inst,
    );
    dist_row("drop(Store) (instance back to the pool)", &mut drop_);
    println!(
        "{:.2} minor faults per instantiate + drop",
        u.minflt as f64 / SAMPLES as f64
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. Host-import round trip.

async fn imports(app: Arc<App>) -> Res<()> {
    // Both commands get the same context, so the only difference is the `secrets.app`
    // import (an in-memory lookup) and the guest code around it.
    let ctx = || CallContext {
        app_secrets: HashMap::from([("declared_secret".into(), "s3cret".into())]),
        ..Default::default()
    };
    // Times one call; rusage is read outside the timed part and summed into `faults`.
    let timed = async |text: &str, faults: &mut i64| -> Res<Duration> {
        let u0 = Usage::now();
        let t = Instant::now();
        std::hint::black_box(publish(&app, text, ctx()).await?);
        let d = t.elapsed();
        *faults += Usage::now().since(&u0).minflt;
        Ok(d)
    };
    anyhow::ensure!(publish(&app, "secret declared_secret", ctx()).await? == "secret 6 bytes");
    let mut ignored = 0;
    for _ in 0..WARMUP {
        timed("ok", &mut ignored).await?;
        timed("secret declared_secret", &mut ignored).await?;
    }
    // Interleaved, so drift (frequency, other load) hits both alike.
    let (mut ok, mut secret, mut ok_faults, mut secret_faults) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..SAMPLES {
        ok.push(timed("ok", &mut ok_faults).await?);
        secret.push(timed("secret declared_secret", &mut secret_faults).await?);
    }
    println!("\n## 2. host-import round trip ({SAMPLES} calls each, interleaved)");
    header(&["call", "p50 µs", "p99 µs", "mean µs"]);
    let (ok50, _, ok_mean) = dist_row("publish `ok` (no import)", &mut ok);
    let (s50, _, s_mean) = dist_row("publish `secret declared_secret` (1 import)", &mut secret);
    println!(
        "minor faults/call: `ok` {:.2}, `secret` {:.2}",
        ok_faults as f64 / SAMPLES as f64,
        secret_faults as f64 / SAMPLES as f64
    );
    println!(
        "`secret` minus `ok` (the import plus the guest code around it): {:.2} µs p50, {:.2} µs mean",
        s50 - ok50,
        s_mean - ok_mean
    );

    // 100,000 `log` imports in one export; past the per-call budget (200 lines) the host
    // only counts them, so this is the round trip plus the guest's own `format!`.
    let mut flood = Vec::new();
    for i in 0..23 {
        let d = timed("log-flood", &mut ignored).await?;
        if i >= 3 {
            flood.push(d);
        }
    }
    let (f50, _, _) = dist_row(
        "publish `log-flood` (100,000 `log` imports), 20 calls",
        &mut flood,
    );
    println!(
        "per `log` import, guest formatting a ~115-byte line included: {:.3} µs",
        (f50 - ok50) / LOG_FLOOD_IMPORTS
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 3. Bursts of concurrent calls waiting on a slow server.

/// One round of one child process, as printed.
struct RoundFigures {
    calls: usize,
    delay_ms: u64,
    mode: &'static str,
    round: usize,
    cpu_us: f64,
    sys_us: f64,
    minflt: f64,
    peak_kib_per_call: f64,
}

fn bursts(o: &Options, hostile: &Path) -> Res<()> {
    let exe = std::env::current_exe()?;
    let mut scenarios: Vec<(usize, u64)> = o.sizes.iter().map(|&n| (n, o.delay_ms)).collect();
    if o.hold_ms > 0
        && let Some(&max) = o.sizes.iter().max()
    {
        scenarios.push((max, o.hold_ms));
    }
    println!(
        "\n## 3. concurrent calls, each one GET of a slow local endpoint ({} round(s) per process, round 1 = cold pool; pool sized for {BURST_POOL} calls)",
        o.rounds
    );
    header(&[
        "mode",
        "calls",
        "delay ms",
        "round",
        "errors",
        "max in flight: server / runtime",
        "wall ms",
        "call p50 / p99 ms",
        "CPU µs/call (sys)",
        "minflt/call",
        "RSS before → peak → after MiB",
        "peak−before KiB/call",
    ]);
    let mut figures: Vec<RoundFigures> = Vec::new();
    for &(n, delay) in &scenarios {
        for mode in ["wasm", "plain"] {
            if !o.modes.iter().any(|m| m == mode) {
                continue;
            }
            for _ in 0..o.repeat {
                let result = run_burst_child(&exe, hostile, mode, n, delay, o.rounds)?;
                let kib = |k: &str| result[k].as_f64().unwrap_or(f64::NAN);
                let (before, peak, after) = (
                    kib("rss_before_kib"),
                    kib("peak_rss_kib"),
                    kib("rss_after_kib"),
                );
                for (i, r) in result["rounds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
                    let runtime_max = r["max_in_flight_runtime"]
                        .as_u64()
                        .map_or("-".into(), |v| v.to_string());
                    println!(
                        "| {mode} | {n} | {delay} | {} | {} | {} / {runtime_max} | {:.0} | {:.0} / {:.0} | {:.0} ({:.0}) | {:.1} | {:.0} → {:.0} → {:.0} | {:.1} |",
                        i + 1,
                        f("errors"),
                        f("max_in_flight_server"),
                        f("wall_ms"),
                        f("p50_ms"),
                        f("p99_ms"),
                        f("cpu_us_per_call"),
                        f("sys_us_per_call"),
                        f("minflt_per_call"),
                        before / 1024.0,
                        peak / 1024.0,
                        after / 1024.0,
                        (peak - before) / n as f64,
                    );
                    figures.push(RoundFigures {
                        calls: n,
                        delay_ms: delay,
                        mode,
                        round: i + 1,
                        cpu_us: f("cpu_us_per_call"),
                        sys_us: f("sys_us_per_call"),
                        minflt: f("minflt_per_call"),
                        peak_kib_per_call: (peak - before) / n as f64,
                    });
                }
            }
        }
    }
    println!(
        "\nwasm minus plain reqwest, per call (means over repeats; peak RSS is per process, so the same for every round):"
    );
    header(&[
        "calls",
        "delay ms",
        "round",
        "CPU µs",
        "of which sys µs",
        "minor faults",
        "peak RSS KiB",
    ]);
    for &(n, delay) in &scenarios {
        for round in 1..=o.rounds {
            let mean = |mode: &str, pick: fn(&RoundFigures) -> f64| {
                let v: Vec<f64> = figures
                    .iter()
                    .filter(|f| {
                        f.calls == n && f.delay_ms == delay && f.mode == mode && f.round == round
                    })
                    .map(pick)
                    .collect();
                v.iter().sum::<f64>() / v.len() as f64
            };
            let diff = |pick: fn(&RoundFigures) -> f64| mean("wasm", pick) - mean("plain", pick);
            println!(
                "| {n} | {delay} | {round} | {:.0} | {:.0} | {:.1} | {:.1} |",
                diff(|f| f.cpu_us),
                diff(|f| f.sys_us),
                diff(|f| f.minflt),
                diff(|f| f.peak_kib_per_call),
            );
        }
    }
    Ok(())
}

/// Starts a slow server process and a burst process against it; returns the burst's
/// figures.
fn run_burst_child(
    exe: &Path,
    hostile: &Path,
    mode: &str,
    n: usize,
    delay: u64,
    rounds: usize,
) -> Res<Value> {
    let mut server = Command::new(exe)
        .arg("--serve")
        .stdout(Stdio::piped())
        .spawn()?;
    let port = {
        let mut line = String::new();
        BufReader::new(server.stdout.take().expect("piped")).read_line(&mut line)?;
        line.trim()
            .strip_prefix("PORT ")
            .unwrap_or_default()
            .parse::<u16>()
    };
    let out = port.map_err(anyhow::Error::from).and_then(|port| {
        let args = [
            mode.to_string(),
            n.to_string(),
            port.to_string(),
            delay.to_string(),
            rounds.to_string(),
        ];
        Ok(Command::new(exe)
            .arg("--burst-child")
            .args(args)
            .arg(hostile)
            .stderr(Stdio::inherit())
            .output()?)
    });
    // The server is our own child: stop it by its handle.
    let _ = server.kill();
    let _ = server.wait();
    let out = out?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "burst child {mode} {n} failed: {stdout}"
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| anyhow::anyhow!("no RESULT from the burst child: {stdout}"))?;
    Ok(serde_json::from_str(line)?)
}

/// A slow HTTP server in its own process: `/slow/{ms}` answers "slow" after `ms` and
/// counts how many requests are waiting at once; `/stats` returns and resets the peak.
fn serve() -> Res<()> {
    use axum::extract::{Path as UrlPath, State};
    use axum::routing::get;

    #[derive(Default)]
    struct Gauge {
        now: AtomicUsize,
        max: AtomicUsize,
    }
    /// Decrements on drop, so a request the client gives up on is not counted forever.
    struct Waiting(Arc<Gauge>);
    impl Drop for Waiting {
        fn drop(&mut self) {
            self.0.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let gauge = Arc::new(Gauge::default());
        let app = axum::Router::new()
            .route(
                "/slow/{ms}",
                get(
                    |State(g): State<Arc<Gauge>>, UrlPath(ms): UrlPath<u64>| async move {
                        let now = g.now.fetch_add(1, Ordering::SeqCst) + 1;
                        g.max.fetch_max(now, Ordering::SeqCst);
                        let _waiting = Waiting(g.clone());
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        "slow"
                    },
                ),
            )
            .route(
                "/stats",
                get(|State(g): State<Arc<Gauge>>| async move {
                    let now = g.now.load(Ordering::SeqCst);
                    g.max.swap(now, Ordering::SeqCst).to_string()
                }),
            )
            .with_state(gauge);
        // tokio's `TcpListener::bind` listens with a backlog of 1,024: a burst of 10,000
        // connects would overflow it and wait out SYN retransmits. (The kernel still caps
        // the backlog at net.core.somaxconn.)
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind("127.0.0.1:0".parse()?)?;
        let listener = socket.listen(16_384)?;
        println!("PORT {}", listener.local_addr()?.port());
        axum::serve(listener, app).await?;
        Ok(())
    })
}

fn burst_child(args: &[String]) -> Res<()> {
    let [mode, n, port, delay, rounds, wasm] = args else {
        anyhow::bail!("usage: --burst-child MODE N PORT DELAY_MS ROUNDS WASM");
    };
    let (n, port, delay, rounds): (usize, u16, u64, usize) =
        (n.parse()?, port.parse()?, delay.parse()?, rounds.parse()?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let url = format!("http://127.0.0.1:{port}/slow/{delay}");
        let warm_url = format!("http://127.0.0.1:{port}/slow/0");
        let stats_url = format!("http://127.0.0.1:{port}/stats");
        let client = plain_client()?;
        let mut _dir = None;
        let target = match mode.as_str() {
            "wasm" => {
                let (app, dir) = hostile_app(Path::new(wasm), Some(BURST_POOL)).await?;
                _dir = Some(dir);
                Target::Wasm(app)
            }
            "plain" => Target::Plain(client.clone()),
            other => anyhow::bail!("unknown mode {other}"),
        };
        for _ in 0..20 {
            target.call(&warm_url).await?;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_before = status_kib("VmRSS");
        // Peak RSS from here on: writing 5 to clear_refs resets VmHWM to the current RSS.
        // The sampler is the fallback where that is not allowed.
        let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let mut out_rounds = Vec::new();
        let mut sampled_peak = rss_before;
        for _ in 0..rounds {
            let (mut figures, peak) = burst_round(&target, n, &url).await?;
            sampled_peak = sampled_peak.max(peak);
            let server_max: f64 = client
                .get(&stats_url)
                .send()
                .await?
                .text()
                .await?
                .trim()
                .parse()?;
            figures["max_in_flight_server"] = json!(server_max);
            out_rounds.push(figures);
            // Let the previous burst's tasks, timers and connections settle.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let hwm = if hwm_reset { status_kib("VmHWM") } else { 0 };
        Ok(json!({
            "rss_before_kib": rss_before,
            "peak_rss_kib": hwm.max(sampled_peak),
            // What stays resident once the burst is over (allocator caches, warm slots).
            "rss_after_kib": status_kib("VmRSS"),
            "rounds": out_rounds,
        }))
    })?;
    println!("RESULT {result}");
    Ok(())
}

fn plain_client() -> Res<reqwest::Client> {
    // Like the host's plugin client (no proxy, no redirects, same idle timeout).
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(30))
        .build()?)
}

#[derive(Clone)]
enum Target {
    Wasm(Arc<App>),
    Plain(reqwest::Client),
}

impl Target {
    async fn call(&self, url: &str) -> Res<()> {
        match self {
            Target::Wasm(app) => {
                let id = publish(app, &format!("get {url}"), CallContext::default()).await?;
                anyhow::ensure!(id == "status 200 bytes 4", "unexpected answer {id}");
            }
            Target::Plain(client) => {
                let body = client
                    .get(url)
                    .send()
                    .await?
                    .error_for_status()?
                    .text()
                    .await?;
                anyhow::ensure!(body == "slow", "unexpected answer {body}");
            }
        }
        Ok(())
    }
}

/// One burst: `n` calls spawned at once. Returns the round's figures and the highest RSS
/// sampled.
async fn burst_round(target: &Target, n: usize, url: &str) -> Res<(Value, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let runtime_max = Arc::new(AtomicUsize::new(0));
    // Samples the runtime's in-flight gauge every millisecond and RSS every 10 ms, on a
    // plain thread so it keeps sampling when the async workers are saturated.
    let sampler = {
        let (stop, runtime_max, target) = (stop.clone(), runtime_max.clone(), target.clone());
        std::thread::spawn(move || {
            let mut rss = 0;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Target::Wasm(app) = &target {
                    runtime_max.fetch_max(app.runtime.calls_in_flight(), Ordering::Relaxed);
                }
                if i.is_multiple_of(10) {
                    rss = rss.max(status_kib("VmRSS"));
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            rss
        })
    };
    let u0 = Usage::now();
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (target, url) = (target.clone(), url.to_string());
            tokio::spawn(async move {
                let t = Instant::now();
                target.call(&url).await.map(|()| t.elapsed())
            })
        })
        .collect();
    let (mut latencies, mut errors, mut first_error) = (Vec::with_capacity(n), 0, None);
    for t in tasks {
        match t.await? {
            Ok(d) => latencies.push(d),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    let wall = start.elapsed();
    let u = Usage::now().since(&u0);
    stop.store(true, Ordering::Relaxed);
    let rss_peak = sampler.join().expect("sampler thread");
    if let Some(e) = &first_error {
        eprintln!("{errors} of {n} calls failed; first: {e}");
    }
    latencies.sort();
    let pct = |p: usize| {
        latencies
            .get(latencies.len() * p / 100)
            .map_or(f64::NAN, |d| micros(*d) / 1000.0)
    };
    let per_call = |v: i64| v as f64 / n as f64;
    let figures = json!({
        "errors": errors,
        "max_in_flight_runtime": match target {
            Target::Wasm(_) => json!(runtime_max.load(Ordering::Relaxed)),
            Target::Plain(_) => Value::Null,
        },
        "wall_ms": micros(wall) / 1000.0,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "cpu_us_per_call": u.cpu_us() / n as f64,
        "sys_us_per_call": per_call(u.stime_us),
        "minflt_per_call": per_call(u.minflt),
        "majflt": u.majflt,
        "vol_ctx_switches_per_call": per_call(u.nvcsw),
        "invol_ctx_switches_per_call": per_call(u.nivcsw),
    });
    Ok((figures, rss_peak))
}

// ---------------------------------------------------------------------------------------
// Process accounting and table helpers.

/// Raises the soft open-files limit to the hard one: 10,000 connections need more than the
/// usual soft limit of 1,024.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// getrusage(RUSAGE_SELF): the whole process, all threads.
struct Usage {
    utime_us: i64,
    stime_us: i64,
    minflt: i64,
    majflt: i64,
    nvcsw: i64,
    nivcsw: i64,
}

impl Usage {
    fn now() -> Usage {
        // SAFETY: getrusage only writes the struct it is given; all-zero is a valid rusage.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut ru);
            ru
        };
        let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
        Usage {
            utime_us: us(ru.ru_utime),
            stime_us: us(ru.ru_stime),
            minflt: ru.ru_minflt,
            majflt: ru.ru_majflt,
            nvcsw: ru.ru_nvcsw,
            nivcsw: ru.ru_nivcsw,
        }
    }

    fn since(&self, before: &Usage) -> Usage {
        Usage {
            utime_us: self.utime_us - before.utime_us,
            stime_us: self.stime_us - before.stime_us,
            minflt: self.minflt - before.minflt,
            majflt: self.majflt - before.majflt,
            nvcsw: self.nvcsw - before.nvcsw,
            nivcsw: self.nivcsw - before.nivcsw,
        }
    }

    fn cpu_us(&self) -> f64 {
        (self.utime_us + self.stime_us) as f64
    }
}

/// A `kB` field of /proc/self/status (VmRSS, VmHWM), in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn header(cols: &[&str]) {
    println!("| {} |", cols.join(" | "));
    println!("|{}", "---|".repeat(cols.len()));
}

/// Prints p50, p99 and mean (µs) of `v` as a table row and returns them.
fn dist_row(name: &str, v: &mut [Duration]) -> (f64, f64, f64) {
    v.sort();
    let p = |q: usize| micros(v[(v.len() * q / 100).min(v.len() - 1)]);
    let mean = v.iter().map(|d| micros(*d)).sum::<f64>() / v.len() as f64;
    let (p50, p99) = (p(50), p(99));
    println!("| {name} | {p50:.1} | {p99:.1} | {mean:.1} |");
    (p50, p99, mean)
}
