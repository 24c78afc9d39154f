//! Several nodes on one PostgreSQL database: three `plugboard serve` processes, each with
//! its own data folder (the supported setup: plugin components are kept in the database,
//! media goes to shared object storage), publish ~300 posts to the Mastodon simulator
//! together. Work is spread over the nodes, a node killed with SIGKILL mid-run has its
//! jobs taken over once their lease lapses, nothing is posted twice, and a plugin upgrade
//! made through one node's admin API is followed by every node within seconds — including
//! the killed one when it comes back and a new node joining later.

use plugboard_e2e::scenario::{
    Node, TargetState, all_targets, create_text_post, mastodon_studio, schedule, upgrade_plugin,
};
use plugboard_e2e::{patch, pg_database, plugin};
use plugboard_simulators::{Fault, FaultAction, MastodonConfig, MastodonSim};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const POSTS: usize = 300;
/// The publishing times spread over this long.
const SPREAD: Duration = Duration::from_secs(12);
/// Every node seals credentials with the same key (they read each other's rows).
const CREDENTIALS_KEY: &str = "6d1f0c3b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817065f4e";

/// Waits until every node in `nodes` reports `wanted` active on `/readyz`; returns how long
/// that took.
async fn converge(nodes: &[&Node], wanted: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let mut behind = Vec::new();
        for node in nodes {
            let active = node.active_plugins().await.unwrap_or_default();
            if !active.iter().any(|p| p == wanted) {
                behind.push(format!("{}: {active:?}", node.name));
            }
        }
        if behind.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not every node runs {wanted} after {within:?}: {behind:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Publish jobs that ended done, by the node that ran them (job lease owners are
/// `HOSTNAME-<uuid>`).
async fn published_by(db: &sqlx::PgPool) -> HashMap<String, usize> {
    let owners: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT lease_owner FROM jobs WHERE kind = 'publish' AND status = 'done'",
    )
    .fetch_all(db)
    .await
    .expect("reading jobs");
    let mut by_node = HashMap::new();
    for owner in owners.into_iter().flatten() {
        let node = owner.split('-').take(2).collect::<Vec<_>>().join("-");
        *by_node.entry(node).or_default() += 1;
    }
    by_node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_the_work_survive_a_kill_and_follow_an_upgrade() {
    let started = Instant::now();
    let url = pg_database().await;
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("connecting to the test database");
    let sim = MastodonSim::start(MastodonConfig {
        api_rate_limit: 1_000_000,
        ..MastodonConfig::default()
    })
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "--database-url",
        url.as_str(),
        "--credentials-key",
        CREDENTIALS_KEY,
        "--job-lease-secs",
        "4",
    ];
    // One after the other: the first migrates the database and installs the bundled
    // plugins, the others find them there.
    let a = Node::start("node-a", &dir.path().join("a"), &args).await;
    let mut b = Node::start("node-b", &dir.path().join("b"), &args).await;
    let c = Node::start("node-c", &dir.path().join("c"), &args).await;
    converge(&[&a, &b, &c], "mastodon 0.1.0", Duration::from_secs(5)).await;

    let studio = mastodon_studio(&a.base, &sim.base_url(), "cluster@example.com").await;
    let texts: Vec<String> = (0..POSTS).map(|i| format!("Cluster post {i:03}")).collect();
    // Drafts through every node's API; post i is due 3 s + i × SPREAD / POSTS from now.
    let bases = [a.base.clone(), b.base.clone(), c.base.clone()];
    let first_due = chrono::Utc::now() + chrono::Duration::seconds(3);
    let step = SPREAD.as_millis() as i64 / POSTS as i64;
    let mut tasks = tokio::task::JoinSet::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    for (i, text) in texts.iter().enumerate() {
        let (base, studio, text, limit) = (
            bases[i % 3].clone(),
            studio.clone(),
            text.clone(),
            limit.clone(),
        );
        let at = (first_due + chrono::Duration::milliseconds(step * i as i64))
            .naive_utc()
            .format("%Y-%m-%dT%H:%M:%S%.3f")
            .to_string();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore");
            let id = create_text_post(&base, &studio, &text).await;
            schedule(&base, &studio, &id, Some(&at)).await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("creating and scheduling");
    }
    println!(
        "{POSTS} posts scheduled through 3 nodes in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Wait until node b is publishing, then slow the instance down so b has requests in
    // flight, and kill it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while published_by(&db).await.get("node-b").copied().unwrap_or(0) < 5 {
        assert!(Instant::now() < deadline, "node b never published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.inject(Fault::new("POST", "/api/v1/statuses", FaultAction::Delay { ms: 1_500 }).times(40));
    tokio::time::sleep(Duration::from_millis(700)).await;
    b.kill();
    let orphaned: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE status = 'running' AND lease_owner LIKE 'node-b-%'",
    )
    .fetch_all(&db)
    .await
    .expect("reading jobs");
    println!(
        "node b killed at {:.1} s with {} jobs in flight",
        started.elapsed().as_secs_f64(),
        orphaned.len()
    );

    // An upgrade through node a, while b is down and the others are publishing.
    let v2 = patch(
        &plugin("mastodon"),
        "\"mastodon\"\nversion = \"0.1.0\"",
        "\"mastodon\"\nversion = \"0.1.1\"",
    );
    let report = upgrade_plugin(&a.base, "mastodon", v2).await;
    assert_eq!(report["version"], "0.1.1", "{report}");
    let followed = converge(&[&a, &c], "mastodon 0.1.1", Duration::from_secs(10)).await;
    println!("nodes a and c run mastodon 0.1.1 {followed:?} after the upgrade");

    // b comes back on its own data folder, which never saw 0.1.1: it loads it from the
    // database.
    b.restart().await;
    converge(&[&b], "mastodon 0.1.1", Duration::from_secs(10)).await;

    // Every target published, each exactly once at the instance.
    let deadline = Instant::now() + Duration::from_secs(90);
    let targets: Vec<TargetState> = loop {
        if let Some(all) = all_targets(&a.base, &studio).await
            && all.len() == POSTS
            && all.iter().all(|t| t.status == "published")
        {
            break all;
        }
        if Instant::now() > deadline {
            let all = all_targets(&a.base, &studio).await.unwrap_or_default();
            let open: Vec<&TargetState> = all
                .iter()
                .filter(|t| t.status != "published")
                .take(5)
                .collect();
            panic!(
                "not everything was published: {open:#?}\n{}\n{}",
                a.log_tail(20),
                c.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let statuses = sim.statuses();
    let mut by_text: HashMap<&str, usize> = HashMap::new();
    for s in &statuses {
        *by_text.entry(s.text.as_str()).or_default() += 1;
    }
    let duplicated: Vec<_> = by_text.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicates: {duplicated:?}");
    assert_eq!(statuses.len(), POSTS);
    let ids: HashSet<&str> = statuses.iter().map(|s| s.id.as_str()).collect();
    assert!(
        targets
            .iter()
            .all(|t| t.remote_id.as_deref().is_some_and(|id| ids.contains(id)))
    );
    let replays: u32 = statuses.iter().map(|s| s.idempotent_replays).sum();

    // The work was spread, and b's jobs in flight were finished by the others.
    let by_node = published_by(&db).await;
    for node in ["node-a", "node-b", "node-c"] {
        assert!(
            by_node.get(node).copied().unwrap_or(0) > 0,
            "{node} published nothing: {by_node:?}"
        );
    }
    for job in &orphaned {
        let (status, owner, attempts): (String, Option<String>, i32) =
            sqlx::query_as("SELECT status, lease_owner, attempts FROM jobs WHERE id = $1")
                .bind(job)
                .fetch_one(&db)
                .await
                .expect("reading a job");
        assert_eq!(status, "done", "job {job}");
        assert!(attempts >= 2, "job {job} was not run again");
        println!("job {job} of the killed node finished by {owner:?}");
    }

    // A node joining later, on a fresh data folder, runs what the cluster runs (its
    // bundled 0.1.0 must not undo the upgrade).
    let d = Node::start("node-d", &dir.path().join("d"), &args).await;
    converge(&[&a, &b, &c, &d], "mastodon 0.1.1", Duration::from_secs(10)).await;

    println!(
        "{POSTS} posts on 3 nodes in {:.1} s: published by {by_node:?}; {} jobs taken over from the killed node; \
         statuses {}, duplicates 0, Idempotency-Key replays {replays}; upgrade followed in {followed:?}",
        started.elapsed().as_secs_f64(),
        orphaned.len(),
        statuses.len(),
    );
}
