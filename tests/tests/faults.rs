//! What a creator sees when the platform misbehaves, through the API of the real server
//! against the Mastodon simulator's fault injection: a rate limit defers with the wait in
//! words and then publishes; 5xx is retried with backoff; a request slower than the
//! plugin's HTTP timeout is reconciled (found, or confirmed not posted and sent again) and
//! never posted twice; a revoked token pauses the target and flags the account for a
//! reconnect; content the platform refuses fails with the platform's words.

use plugboard_e2e::api::{client, send};
use plugboard_e2e::scenario::{
    Node, Studio, create_text_post, get_post, grant_limits, mastodon_studio, schedule,
    wait_for_target,
};
use plugboard_simulators::{Fault, FaultAction, MastodonConfig, MastodonSim};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const STATUSES: &str = "/api/v1/statuses";

struct Setup {
    sim: MastodonSim,
    node: Node,
    studio: Studio,
    _dir: tempfile::TempDir,
}

async fn setup(name: &str) -> Setup {
    let sim = MastodonSim::start(MastodonConfig::default())
        .await
        .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node::start(name, &dir.path().join("data"), &[]).await;
    let studio = mastodon_studio(&node.base, &sim.base_url(), &format!("{name}@example.com")).await;
    Setup {
        sim,
        node,
        studio,
        _dir: dir,
    }
}

impl Setup {
    /// Creates a post with `text` and schedules it now; returns its id.
    async fn publish_now(&self, text: &str) -> String {
        let id = create_text_post(&self.node.base, &self.studio, text).await;
        schedule(&self.node.base, &self.studio, &id, None).await;
        id
    }

    async fn wait(&self, post: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        wait_for_target(
            &self.node.base,
            &self.studio,
            post,
            Duration::from_secs(secs),
            done,
        )
        .await
    }

    fn status_posts(&self) -> Vec<plugboard_simulators::RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == STATUSES)
            .collect()
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_defers_with_the_wait_then_publishes_after_the_reset() {
    let s = setup("ratelimited").await;
    s.sim.inject(Fault::new(
        "POST",
        STATUSES,
        FaultAction::RateLimited {
            reset_after_secs: 3,
        },
    ));
    let started = Instant::now();
    let post = s.publish_now("Rate limited, then fine").await;

    let waiting = s
        .wait(&post, 30, |t| {
            t["status"] == "queued" && !t["deferred_reason"].is_null()
        })
        .await;
    let reason = text(&waiting["deferred_reason"]);
    assert!(
        reason.contains("rate limit") && reason.contains("trying again in"),
        "{waiting}"
    );
    assert!(
        waiting["last_error"].is_null(),
        "a deferral is not an error: {waiting}"
    );

    let done = s.wait(&post, 30, |t| t["status"] == "published").await;
    // The second request went out only once the instance's window had reset.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(done["deferred_reason"].is_null(), "{done}");
    let posts = s.status_posts();
    assert_eq!(
        posts.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![Some(429), Some(200)]
    );
    let statuses = s.sim.statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(done["remote_id"].as_str(), Some(statuses[0].id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_backoff_then_published() {
    let s = setup("flaky").await;
    s.sim.inject(
        Fault::new(
            "POST",
            STATUSES,
            FaultAction::ServerError {
                status: 503,
                body: r#"{"error":"Service temporarily unavailable"}"#.into(),
            },
        )
        .times(2),
    );
    let started = Instant::now();
    let post = s.publish_now("Published on the third try").await;

    let retrying = s
        .wait(&post, 30, |t| {
            t["status"] == "queued" && !t["last_error"].is_null()
        })
        .await;
    assert!(
        text(&retrying["last_error"]).contains("Service temporarily unavailable"),
        "{retrying}"
    );

    let done = s.wait(&post, 60, |t| t["status"] == "published").await;
    // Backoff: at least 1 s (half of the 2 s base), then at least 2 s.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "retried too fast: {:?}",
        started.elapsed()
    );
    assert!(done["last_error"].is_null(), "{done}");
    let posts = s.status_posts();
    assert_eq!(
        posts.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![Some(503), Some(503), Some(200)]
    );
    // Every try carried the same key, so none of them could have posted twice.
    assert!(
        posts
            .iter()
            .all(|r| r.idempotency_key.is_some() && r.idempotency_key == posts[0].idempotency_key)
    );
    assert_eq!(s.sim.statuses().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_slower_than_the_timeout_are_reconciled_never_posted_twice() {
    let s = setup("slow").await;
    grant_limits(&s.node.base, "mastodon", json!({"http-timeout-ms": 1000})).await;

    // The status is created but the answer comes too late: reconcile finds it.
    s.sim.inject(Fault::new(
        "POST",
        STATUSES,
        FaultAction::DropAfterHandling {
            hang_ms: Some(3_000),
        },
    ));
    let found = s.publish_now("Posted, but the answer was lost").await;
    let target = s.wait(&found, 30, |t| t["status"] == "published").await;
    let statuses = s.sim.statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(target["remote_id"].as_str(), Some(statuses[0].id.as_str()));
    assert_eq!(s.status_posts().len(), 1, "reconciled, not sent again");

    // The request waits longer than the timeout before it is handled: reconcile finds
    // nothing, the retry carries the same key, and whichever request lands first posts.
    s.sim.inject(Fault::new(
        "POST",
        STATUSES,
        FaultAction::Delay { ms: 3_000 },
    ));
    let slow = s.publish_now("Too slow the first time").await;
    let retrying = s
        .wait(&slow, 30, |t| {
            t["status"] != "publishing" && t["status"] != "scheduled"
        })
        .await;
    if retrying["status"] == "queued" {
        assert!(
            text(&retrying["last_error"]).contains("did not answer in time"),
            "{retrying}"
        );
    }
    let target = s.wait(&slow, 30, |t| t["status"] == "published").await;
    // Let the delayed request finish too, then count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let matching: Vec<_> = s
        .sim
        .statuses()
        .into_iter()
        .filter(|st| st.text == "Too slow the first time")
        .collect();
    assert_eq!(matching.len(), 1, "{matching:#?}");
    assert_eq!(target["remote_id"].as_str(), Some(matching[0].id.as_str()));
    println!(
        "slow request: {} POSTs, {} Idempotency-Key replays",
        s.status_posts().len() - 1,
        matching[0].idempotent_replays
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_pauses_the_target_and_asks_for_a_reconnect() {
    let s = setup("revoked").await;
    let mut events = client()
        .get(format!(
            "{}/api/v1/workspaces/{}/events",
            s.node.base, s.studio.workspace
        ))
        .bearer_auth(&s.studio.token)
        .send()
        .await
        .expect("event stream");
    s.sim.inject(Fault::new(
        "POST",
        STATUSES,
        FaultAction::RevokeAccountTokens { username: None },
    ));
    let post = s.publish_now("Nobody may post this").await;

    let paused = s.wait(&post, 30, |t| t["status"] == "paused").await;
    assert!(
        text(&paused["last_error"]).contains("needs to be reconnected"),
        "{paused}"
    );
    let (status, account) = send(
        client()
            .get(format!(
                "{}/api/v1/workspaces/{}/accounts/{}",
                s.node.base, s.studio.workspace, s.studio.account
            ))
            .bearer_auth(&s.studio.token),
    )
    .await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["needs_reconnect"], true, "{account}");
    assert!(
        text(&account["last_error"]).contains("no longer accepts the access token"),
        "{account}"
    );
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains("account.needs_reconnect") && Instant::now() < deadline {
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(Duration::from_secs(1), events.chunk()).await
        {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(seen.contains("account.needs_reconnect"), "{seen}");
    assert!(s.sim.statuses().is_empty());
    // Paused means waiting for the user: nothing is tried again meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.status_posts().len(), 1);
    assert_eq!(
        get_post(&s.node.base, &s.studio, &post).await["targets"][0]["status"],
        "paused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_the_platform_refuses_fails_with_its_words() {
    let s = setup("refused").await;
    s.sim.inject(Fault::new(
        "POST",
        STATUSES,
        FaultAction::ServerError {
            status: 422,
            body: r#"{"error":"Validation failed: Text contains a forbidden word"}"#.into(),
        },
    ));
    let post = s.publish_now("Something the instance refuses").await;
    let failed = s.wait(&post, 30, |t| t["status"] == "failed").await;
    assert!(
        text(&failed["last_error"]).contains("Validation failed: Text contains a forbidden word"),
        "{failed}"
    );
    // Not retryable: one request, nothing posted, still failed a little later.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.status_posts().len(), 1);
    assert!(s.sim.statuses().is_empty());
    assert_eq!(
        get_post(&s.node.base, &s.studio, &post).await["targets"][0]["status"],
        "failed"
    );
}

/// `requests`-type rules from `describe()` (Mastodon: 300 requests per 5 minutes per
/// account) are kept by counting the plugin's own HTTP requests: an account whose budget is
/// spent waits with the reason instead of running into the platform's 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_spent_its_request_budget_waits_instead_of_failing() {
    use plugboard::jobs::now_ms;
    use plugboard::runtime::caps::ledger::Scope;
    use plugboard::runtime::grants::Grants;
    use plugboard::runtime::manifest::Manifest;
    use plugboard::runtime::registry::InstallMode;

    let sim = MastodonSim::start(MastodonConfig::default())
        .await
        .expect("simulator");
    let server = plugboard_e2e::test_server().await;
    let bytes = plugboard_e2e::plugin("mastodon");
    let grants = Grants::requested(&Manifest::from_component(&bytes).expect("manifest"));
    server
        .app()
        .runtime
        .registry
        .install(&bytes, Some(grants), InstallMode::Install)
        .await
        .expect("installing mastodon");
    let studio = mastodon_studio(&server.base, &sim.base_url(), "budget@example.com").await;

    let first = create_text_post(&server.base, &studio, "Within the budget").await;
    schedule(&server.base, &studio, &first, None).await;
    wait_for_target(
        &server.base,
        &studio,
        &first,
        Duration::from_secs(30),
        |t| t["status"] == "published",
    )
    .await;
    let ledger = server.app().runtime.requests_sent();
    let scope = Scope::Account("mastodon".into(), studio.account.clone());
    let (sent, _) = ledger.count(&scope, 300_000, now_ms());
    assert!(sent >= 1, "the publish's requests were not counted");
    // The rest of the window's budget goes to other calls for this account.
    for _ in sent..300 {
        ledger.record("mastodon", Some(&studio.account), now_ms());
    }

    let second = create_text_post(&server.base, &studio, "Over the budget").await;
    schedule(&server.base, &studio, &second, None).await;
    let waiting = wait_for_target(
        &server.base,
        &studio,
        &second,
        Duration::from_secs(30),
        |t| t["status"] == "queued" && !t["deferred_reason"].is_null(),
    )
    .await;
    let reason = text(&waiting["deferred_reason"]);
    assert!(
        reason.contains("allows 300 API requests per 5 min for this account"),
        "{waiting}"
    );
    assert!(waiting["last_error"].is_null(), "{waiting}");
    assert_eq!(sim.statuses().len(), 1, "the second post went out anyway");
}
