//! Publishing dispatch benchmark (issue 4); the figures are in `docs/benchmarks.md`.
//!
//! N posts (one Mastodon target each, one connected account) all due at the same instant T
//! against the Mastodon simulator answering instantly (no rate limit, no media
//! processing). The account is connected through the HTTP API as in `tests/flow.rs`; the
//! posts, their scheduling and their `publish` jobs are written through the same store
//! functions the API uses (`store::posts::create`, `posts::schedule::{mark_scheduled,
//! enqueue_publish}`), first far in the future, then all moved to T a few seconds ahead in
//! two statements, so that setup time never eats into the measurement.
//!
//! Per target, lateness = `post_targets.published_at` − T. While the burst runs, the number
//! of running jobs and of targets in `publishing` is sampled every 50 ms: by Little's law
//! their means divided by the throughput are the time a job spends in the worker and in
//! the plugin call (post load, call context, instantiate, HTTP to the simulator).
//!
//! `cargo bench -p plugboard-e2e --bench publishing -- --posts 1000,10000 --db sqlite,postgres
//! --workers 64,32` (defaults: 10,000 posts, both databases, the server's default job
//! concurrency; PostgreSQL needs `PLUGBOARD_TEST_PG`, see `scripts/pg.sh`).

use futures::StreamExt;
use plugboard::app::App;
use plugboard::on_db;
use plugboard::posts::schedule::{enqueue_publish, mark_scheduled};
use plugboard::runtime::grants::Grants;
use plugboard::runtime::limits::LimitOverrides;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard::store::posts::{self, NewTarget};
use plugboard_e2e::api::{client, create_workspace, send, signup};
use plugboard_e2e::{pg_database, plugin, test_server_with};
use plugboard_simulators::{MastodonConfig, MastodonSim};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Res<T> = anyhow::Result<T>;

/// How far ahead of the end of setup the burst is due.
const LEAD_MS: i64 = 3_000;
/// Give up waiting for the burst after this long.
const DEADLINE: Duration = Duration::from_secs(900);

struct Options {
    posts: Vec<usize>,
    dbs: Vec<String>,
    /// Job worker concurrency (`--job-concurrency`); the server's default when empty.
    workers: Vec<u64>,
}

fn parse_options() -> Res<Options> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut o = Options {
        posts: vec![10_000],
        dbs: vec!["sqlite".into(), "postgres".into()],
        workers: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?;
        match a.as_str() {
            "--posts" => {
                o.posts = value
                    .split(',')
                    .map(|n| n.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            "--db" => o.dbs = value.split(',').map(|s| s.trim().to_string()).collect(),
            "--workers" => {
                o.workers = value
                    .split(',')
                    .map(|n| n.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            other => anyhow::bail!(
                "unknown option {other} (--posts N[,N…], --db sqlite|postgres, --workers N[,N…])"
            ),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> Res<()> {
    let o = parse_options()?;
    println!(
        "| DB | posts | workers | p50 late | p99 late | max late | first | total | targets/s | deferrals (plugin cap) | worker time/job | plugin-call time/job | CPU ms/target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let workers: Vec<Option<u64>> = if o.workers.is_empty() {
        vec![None]
    } else {
        o.workers.iter().copied().map(Some).collect()
    };
    for db in &o.dbs {
        for &n in &o.posts {
            for &w in &workers {
                let r = run(db, n, w).await?;
                let w = w.map_or("default".to_string(), |w| w.to_string());
                println!(
                    "| {db} | {n} | {w} | {} | {} | {} | {} | {:.1} s | {:.0} | {} | {:.0} ms | {:.0} ms | {:.2} |",
                    secs(r.p50),
                    secs(r.p99),
                    secs(r.max),
                    secs(r.first),
                    r.total_ms as f64 / 1000.0,
                    r.throughput,
                    r.deferred,
                    r.worker_ms,
                    r.call_ms,
                    r.cpu_ms_per_target,
                );
            }
        }
    }
    Ok(())
}

fn secs(ms: i64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

struct Figures {
    p50: i64,
    p99: i64,
    max: i64,
    first: i64,
    total_ms: i64,
    throughput: f64,
    deferred: i64,
    worker_ms: f64,
    call_ms: f64,
    cpu_ms_per_target: f64,
}

/// CPU seconds used by this process so far (server, workers, simulator and bench alike).
fn cpu_secs() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr());
        u.assume_init()
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

async fn run(db: &str, n: usize, workers: Option<u64>) -> Res<Figures> {
    let url = match db {
        "sqlite" => None,
        "postgres" => Some(pg_database().await),
        other => anyhow::bail!("unknown database {other}"),
    };
    let server = test_server_with(tempfile::tempdir()?, move |c| {
        if url.is_some() {
            c.database_url = url;
        }
        if let Some(w) = workers {
            c.job_concurrency = w;
        }
    })
    .await;
    let app = server.app().clone();
    let bytes = plugin("mastodon");
    app.runtime
        .registry
        .install(
            &bytes,
            Some(Grants {
                // The simulated instance's API limit is lifted, and Plugboard told so.
                limits: LimitOverrides {
                    rate_limits: Some([("requests".to_string(), 1_000_000)].into()),
                    ..Default::default()
                },
                ..Grants::requested(&Manifest::from_component(&bytes)?)
            }),
            InstallMode::Install,
        )
        .await?;
    let sim = MastodonSim::start(MastodonConfig {
        api_rate_limit: 1_000_000,
        media_processing_ms: 0,
        ..MastodonConfig::default()
    })
    .await?;
    let (ws, account_id, content, user_id) = connect(&app, &server.base, &sim).await?;

    let started = Instant::now();
    let far = chrono::Utc::now() + chrono::Duration::hours(1);
    let mut pending = futures::stream::iter(0..n)
        .map(|_| {
            let (app, ws, account_id, content, user_id) = (
                app.clone(),
                ws.clone(),
                account_id.clone(),
                content.clone(),
                user_id.clone(),
            );
            async move { schedule_one(&app, &ws, &user_id, &content, &account_id, far).await }
        })
        .buffer_unordered(8);
    while let Some(r) = pending.next().await {
        r?;
    }
    drop(pending);
    eprintln!(
        "{db} {n}: {n} posts scheduled in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Everything moves to T at once; the workers see it at their next look (≤ 500 ms poll
    // or the wake-up).
    let t = plugboard::jobs::now_ms() + LEAD_MS;
    let sql = app
        .db
        .sql("UPDATE post_targets SET scheduled_at = ? WHERE workspace_id = ?");
    on_db!(&app.db, |p| sqlx::query(sql)
        .bind(t)
        .bind(&ws)
        .execute(p)
        .await
        .map(|_| ()))?;
    let sql = app
        .db
        .sql("UPDATE jobs SET run_at = ? WHERE kind = 'publish' AND status = 'queued'");
    on_db!(&app.db, |p| sqlx::query(sql)
        .bind(t)
        .execute(p)
        .await
        .map(|_| ()))?;
    app.jobs_waker.wake();

    let sleep_ms = t - plugboard::jobs::now_ms();
    tokio::time::sleep(Duration::from_millis(sleep_ms.max(0) as u64)).await;
    let cpu0 = cpu_secs();
    let (mut samples, mut running_sum, mut publishing_sum) = (0u64, 0i64, 0i64);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (published, running, publishing) = progress(&app).await?;
        if published as usize >= n {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{published} of {n} published after {DEADLINE:?}"
        );
        samples += 1;
        running_sum += running;
        publishing_sum += publishing;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu = cpu_secs() - cpu0;

    let sql = app.db.sql(
        "SELECT published_at FROM post_targets WHERE workspace_id = ? AND published_at IS NOT NULL",
    );
    let mut late: Vec<i64> = on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(sql)
        .bind(&ws)
        .fetch_all(p)
        .await?)
    .into_iter()
    .map(|at| at - t)
    .collect();
    late.sort_unstable();
    let sql = app.db.sql(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'publish' AND last_error LIKE '%being published right now%'",
    );
    let deferred: i64 = on_db!(&app.db, |p| sqlx::query_scalar(sql).fetch_one(p).await?);
    anyhow::ensure!(
        sim.statuses().len() == n,
        "the simulator holds {} statuses, not {n}",
        sim.statuses().len()
    );
    let pct = |q: f64| late[((late.len() as f64 * q).ceil() as usize).clamp(1, late.len()) - 1];
    let total_ms = *late.last().unwrap_or(&0);
    let throughput = n as f64 / (total_ms.max(1) as f64 / 1000.0);
    let samples = samples.max(1) as f64;
    let figures = Figures {
        p50: pct(0.50),
        p99: pct(0.99),
        max: total_ms,
        first: late.first().copied().unwrap_or(0),
        total_ms,
        throughput,
        deferred,
        worker_ms: running_sum as f64 / samples / throughput * 1000.0,
        call_ms: publishing_sum as f64 / samples / throughput * 1000.0,
        cpu_ms_per_target: cpu * 1000.0 / n as f64,
    };
    server.running.stop().await;
    Ok(figures)
}

/// Published targets, running publish jobs, targets in `publishing`.
async fn progress(app: &App) -> Res<(i64, i64, i64)> {
    let sql = app.db.sql(
        "SELECT \
         (SELECT COUNT(*) FROM post_targets WHERE status = 'published'), \
         (SELECT COUNT(*) FROM jobs WHERE kind = 'publish' AND status = 'running'), \
         (SELECT COUNT(*) FROM post_targets WHERE status = 'publishing')",
    );
    Ok(on_db!(&app.db, |p| sqlx::query_as(sql)
        .fetch_one(p)
        .await?))
}

async fn schedule_one(
    app: &Arc<App>,
    ws: &str,
    user_id: &str,
    content: &plugboard::posts::content::Content,
    account_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Res<()> {
    let id = posts::create(
        &app.db,
        ws,
        user_id,
        content,
        &[NewTarget {
            account_id: account_id.to_string(),
            plugin: "mastodon".into(),
        }],
    )
    .await?;
    let post = posts::get(&app.db, ws, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("post {id} vanished"))?;
    let target = &post.targets[0].id;
    let mut tx = app.db.write_tx(ws).await?;
    mark_scheduled(&app.db, &mut tx, target, at, "UTC", None).await?;
    tx.commit().await?;
    enqueue_publish(app, ws, target, at).await
}

/// Signs up, creates a workspace, registers the Mastodon app and connects the simulator's
/// account through the API (as `tests/flow.rs` does), and creates one post through the API
/// whose content the bench's posts copy. Returns (workspace, account, content, user).
async fn connect(
    app: &App,
    base: &str,
    sim: &MastodonSim,
) -> Res<(String, String, plugboard::posts::content::Content, String)> {
    let api = format!("{base}/api/v1");
    let http = client();
    let owner = signup(base, "owner@example.com").await;
    let ws = create_workspace(base, &owner.access_token, "Bench").await;
    let auth = format!("Bearer {}", owner.access_token);
    let (status, app_view) = send(
        http.post(format!("{api}/workspaces/{ws}/apps"))
            .header("Authorization", &auth)
            .json(&json!({"plugin": "mastodon", "name": "Sim", "settings": {"instance_url": sim.base_url()}})),
    )
    .await;
    anyhow::ensure!(status == 201, "registering the app: {app_view}");
    let (status, started) = send(
        http.post(format!("{api}/workspaces/{ws}/accounts/connect/mastodon"))
            .header("Authorization", &auth)
            .json(&json!({"app_id": app_view["id"]})),
    )
    .await;
    anyhow::ensure!(status == 200, "connecting: {started}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let at_instance = no_redirects
        .get(started["authorize_url"].as_str().unwrap_or_default())
        .send()
        .await?;
    let callback = at_instance
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| anyhow::anyhow!("the simulator did not redirect"))?
        .to_string();
    let (status, connected) = send(no_redirects.get(&callback)).await;
    anyhow::ensure!(status == 200 || status == 201, "callback: {connected}");
    let (_, accounts) = send(
        http.get(format!("{api}/workspaces/{ws}/accounts"))
            .header("Authorization", &auth),
    )
    .await;
    let account_id = accounts["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["plugin"] == "mastodon"))
        .and_then(|a| a["id"].as_str())
        .ok_or_else(|| anyhow::anyhow!("no connected account: {accounts}"))?
        .to_string();
    let (status, post) = send(
        http.post(format!("{api}/workspaces/{ws}/posts"))
            .header("Authorization", &auth)
            .json(&json!({"kind": "text", "text": "Launch day! https://example.com/launch", "targets": [account_id]})),
    )
    .await;
    anyhow::ensure!(status == 201, "creating the template post: {post}");
    let post_id = post["id"].as_str().unwrap_or_default();
    let content = posts::get(&app.db, &ws, post_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the template post vanished"))?
        .content;
    Ok((ws, account_id, content, owner.user_id))
}
