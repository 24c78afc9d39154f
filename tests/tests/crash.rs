//! Publishing survives crashes: 1,000 posts scheduled over ~20 s against the Mastodon
//! simulator (which lives in this process, so it outlives the server) while the real
//! server process is killed with SIGKILL at random moments and started again on the same
//! SQLite data folder. In the end no post is lost (each is published exactly once, or
//! explicitly in doubt or failed with a reason) and none is duplicated at the instance.
//!
//! The kill schedule comes from a seed printed at the start; replay a failure with
//! `PLUGBOARD_CRASH_SEED=<seed>`.

use plugboard_e2e::api::client;
use plugboard_e2e::scenario::{
    Node, Studio, TargetState, all_targets, create_text_post, grant_limits, is_final,
    mastodon_studio,
};
use plugboard_simulators::{Fault, FaultAction, MastodonConfig, MastodonSim};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const POSTS: usize = 1_000;
/// The publishing times spread over this long.
const SPREAD: Duration = Duration::from_secs(20);

/// SplitMix64: enough randomness for a kill schedule, and replayable from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Schedules a post, trying again while the server is down. A schedule whose answer was
/// lost in a kill may have been stored: then the target is already past `scheduled`
/// (409) or is simply scheduled again, both fine.
async fn schedule_through_kills(base: &str, studio: &Studio, post_id: &str, at: &str) {
    let url = format!(
        "{base}/api/v1/workspaces/{}/posts/{post_id}/schedule",
        studio.workspace
    );
    let http = client();
    for _ in 0..600 {
        match http
            .post(&url)
            .bearer_auth(&studio.token)
            .json(&serde_json::json!({ "at": at }))
            .send()
            .await
        {
            Ok(r) if r.status() == 200 || r.status() == 409 => return,
            Ok(r) if r.status().is_server_error() => {}
            Ok(r) => panic!(
                "scheduling {post_id}: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not schedule {post_id} within two minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_post_is_lost_or_duplicated_when_the_server_is_killed() {
    let seed = std::env::var("PLUGBOARD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
        });
    println!("crash test seed: {seed} (replay with PLUGBOARD_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let started = Instant::now();

    // The instance's own throttle would turn this into a rate-limit test.
    let sim = MastodonSim::start(MastodonConfig {
        api_rate_limit: 1_000_000,
        ..MastodonConfig::default()
    })
    .await
    .expect("starting the simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    // The default lease: on SQLite a restarted server takes over its predecessor's jobs at
    // once.
    let mut node = Node::start("crash", &dir.path().join("data"), &[]).await;
    let studio = mastodon_studio(&node.base, &sim.base_url(), "crash@example.com").await;
    // The operator of this instance raised its API limit; Plugboard is told the same.
    grant_limits(
        &node.base,
        "mastodon",
        json!({"rate-limits": {"requests": 1_000_000}}),
    )
    .await;
    // Every status is created at once but answered 200 ms later, as over a slow link: a
    // kill then often lands after the instance posted and before the server heard of it.
    sim.inject(
        Fault::new(
            "POST",
            "/api/v1/statuses",
            FaultAction::DropAfterHandling { hang_ms: Some(200) },
        )
        .times(u32::MAX),
    );

    // Every text is unique, so statuses at the instance can be told apart by text.
    let texts: Vec<String> = (0..POSTS)
        .map(|i| format!("Crash run {seed:x}, post {i:04}"))
        .collect();
    let mut ids = Vec::with_capacity(POSTS);
    {
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, text) in texts.iter().enumerate() {
            let (base, studio, text, limit) = (
                node.base.clone(),
                studio.clone(),
                text.clone(),
                limit.clone(),
            );
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore");
                (i, create_text_post(&base, &studio, &text).await)
            });
        }
        while let Some(done) = tasks.join_next().await {
            ids.push(done.expect("creating a post"));
        }
        ids.sort();
    }
    let ids: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
    println!(
        "{POSTS} drafts created in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Scheduling runs alongside the kills: post i is due 2 s + i × SPREAD / POSTS from now.
    let first_due = chrono::Utc::now() + chrono::Duration::seconds(2);
    let step = SPREAD.as_millis() as i64 / POSTS as i64;
    let scheduling = {
        let (base, studio, ids) = (node.base.clone(), studio.clone(), ids.clone());
        tokio::spawn(async move {
            let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
            let mut tasks = tokio::task::JoinSet::new();
            for (i, id) in ids.into_iter().enumerate() {
                let at = (first_due + chrono::Duration::milliseconds(step * i as i64))
                    .naive_utc()
                    .format("%Y-%m-%dT%H:%M:%S%.3f")
                    .to_string();
                let (base, studio, limit) = (base.clone(), studio.clone(), limit.clone());
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await.expect("semaphore");
                    schedule_through_kills(&base, &studio, &id, &at).await;
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("scheduling a post");
            }
        })
    };

    let kills = rng.range(5, 8);
    let chaos = Instant::now();
    for k in 1..=kills {
        let wait = rng.range(1_000, 4_000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        node.kill();
        let published = sim.statuses().len();
        println!(
            "kill {k}/{kills} at {:.1} s ({published} statuses at the instance)",
            chaos.elapsed().as_secs_f64()
        );
        node.restart().await;
    }
    scheduling.await.expect("scheduling");
    println!(
        "{kills} kills survived in {:.1} s; waiting for every target to settle",
        chaos.elapsed().as_secs_f64()
    );

    // Every target reaches a final state.
    let deadline = Instant::now() + Duration::from_secs(120);
    let targets: Vec<TargetState> = loop {
        if let Some(all) = all_targets(&node.base, &studio).await {
            let open = all.iter().filter(|t| !is_final(&t.status)).count();
            if all.len() == POSTS && open == 0 {
                break all;
            }
            if Instant::now() > deadline {
                let mut by_status: HashMap<&str, usize> = HashMap::new();
                for t in &all {
                    *by_status.entry(t.status.as_str()).or_default() += 1;
                }
                let stuck: Vec<&TargetState> = all
                    .iter()
                    .filter(|t| !is_final(&t.status))
                    .take(5)
                    .collect();
                panic!(
                    "targets did not settle: {by_status:?}; e.g. {stuck:#?}\n{}",
                    node.log_tail(40)
                );
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };

    // At the instance: one status per text, never two.
    let statuses = sim.statuses();
    let mut by_text: HashMap<&str, Vec<&plugboard_simulators::RecordedStatus>> = HashMap::new();
    for s in &statuses {
        by_text.entry(s.text.as_str()).or_default().push(s);
    }
    let duplicated: Vec<(&str, usize)> = by_text
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(t, v)| (*t, v.len()))
        .collect();
    assert!(duplicated.is_empty(), "duplicate statuses: {duplicated:?}");
    let replays: u32 = statuses.iter().map(|s| s.idempotent_replays).sum();
    let replayed_statuses = statuses.iter().filter(|s| s.idempotent_replays > 0).count();
    let posts_sent = sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/statuses")
        .count();

    // Each post: published with its one status, or given up on explicitly with a reason.
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut in_doubt_but_posted = 0;
    for t in &targets {
        *counts.entry(t.status.clone()).or_default() += 1;
        let at_instance = by_text.get(t.text.as_str());
        match t.status.as_str() {
            "published" => {
                let s = at_instance
                    .and_then(|v| v.first())
                    .unwrap_or_else(|| panic!("published but not at the instance: {t:?}"));
                assert_eq!(t.remote_id.as_deref(), Some(s.id.as_str()), "{t:?}");
            }
            "in_doubt" | "failed" => {
                assert!(
                    t.last_error.as_deref().is_some_and(|e| !e.is_empty()),
                    "given up without a reason: {t:?}"
                );
                in_doubt_but_posted += usize::from(at_instance.is_some());
                println!(
                    "{}: {} — {}",
                    t.status,
                    t.text,
                    t.last_error.as_deref().unwrap_or("")
                );
            }
            other => panic!("a target ended {other}: {t:?}"),
        }
    }
    // Nothing reached the instance that the server does not know about as a post.
    let known: std::collections::HashSet<&str> = texts.iter().map(String::as_str).collect();
    assert!(statuses.iter().all(|s| known.contains(s.text.as_str())));
    // How the server got there, from its own job table.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        node.data_dir.join("plugboard.db").display()
    ))
    .await
    .expect("opening the server's database");
    let (reconciled, rerun): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(result LIKE '%\"reconciled\":true%'), 0), COALESCE(SUM(attempts > 1), 0) FROM jobs WHERE kind = 'publish'",
    )
    .fetch_one(&db)
    .await
    .expect("reading jobs");
    let published = counts.get("published").copied().unwrap_or(0);
    let in_doubt = counts.get("in_doubt").copied().unwrap_or(0);
    let failed = counts.get("failed").copied().unwrap_or(0);
    println!(
        "seed {seed}: {POSTS} posts, {kills} kills (node started {} times), {:.1} s in all\n\
         published {published}, in doubt {in_doubt} ({in_doubt_but_posted} of those and failed ones were in fact posted), failed {failed}\n\
         statuses at the instance {}, duplicates 0, POSTs sent {posts_sent}, Idempotency-Key replays {replays} (on {replayed_statuses} statuses)\n\
         publish jobs run more than once {rerun}, settled by reconcile {reconciled}",
        node.starts,
        started.elapsed().as_secs_f64(),
        statuses.len(),
    );
    assert_eq!(published + in_doubt + failed, POSTS);
    // In doubt is the honest answer when nothing can tell, but it must stay rare.
    assert!(
        in_doubt + failed <= POSTS / 100,
        "{in_doubt} in doubt and {failed} failed out of {POSTS}"
    );
}
