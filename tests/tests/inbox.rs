//! The comments inbox end to end over HTTP, on SQLite and on PostgreSQL: replies to a
//! published Mastodon status are polled in (sweep or request → job → plugin → simulator),
//! listed with filters, marked, drafted, approved and sent back through the plugin as a
//! reply status; auto-reply rules answer on their own only when enabled; another
//! workspace sees nothing.

use plugboard_e2e::api::{client, create_workspace, problem, send, signup};
use plugboard_e2e::platform::install;
use plugboard_e2e::scenario::{
    Studio, create_text_post, mastodon_studio, schedule, wait_for_target,
};
use plugboard_e2e::{TestServer, pg_database, test_server, test_server_with};
use plugboard_simulators::{MastodonConfig, MastodonSim};
use serde_json::{Value, json};
use std::time::Duration;

/// A test server on a fresh PostgreSQL database (`PLUGBOARD_TEST_PG`, started by
/// scripts/pg.sh), so the same scenario runs on both backends.
async fn postgres_server() -> TestServer {
    let url = pg_database().await;
    let server =
        test_server_with(tempfile::tempdir().unwrap(), |c| c.database_url = Some(url)).await;
    assert!(server.app().db.is_postgres());
    server
}

struct Ctx {
    base: String,
    studio: Studio,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!(
            "{}/api/v1/workspaces/{}{path}",
            self.base, self.studio.workspace
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        send(client().get(self.url(path)).bearer_auth(&self.studio.token)).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(
            client()
                .post(self.url(path))
                .bearer_auth(&self.studio.token)
                .json(&body),
        )
        .await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        send(
            client()
                .put(self.url(path))
                .bearer_auth(&self.studio.token)
                .json(&body),
        )
        .await
    }

    /// Asks for a poll and waits until the inbox lists `count` items. A poll still in
    /// flight may have read the platform before the newest comments, so the request is
    /// repeated until a new poll is queued.
    async fn poll_until(&self, count: usize) -> Vec<Value> {
        let path = format!("/accounts/{}/comments/poll", self.studio.account);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, queued) = self.post(&path, json!({})).await;
            if status == 202 {
                break;
            }
            assert_eq!(status, 409, "{queued}");
            assert_eq!(
                queued["type"], "https://plugboard.dev/problems/poll-in-flight",
                "{queued}"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "no poll could be queued: {queued}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.wait("/inbox", |v| v["items"].as_array().unwrap().len() >= count)
            .await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn wait(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.get(path).await;
            assert_eq!(status, 200, "{body}");
            if done(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up on {path}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_comments_are_triaged_and_answered_through_the_plugin() {
    polled_comments_are_triaged_and_answered_through_the_plugin_on(test_server().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_comments_are_triaged_and_answered_through_the_plugin_on_postgres() {
    polled_comments_are_triaged_and_answered_through_the_plugin_on(postgres_server().await).await;
}

async fn polled_comments_are_triaged_and_answered_through_the_plugin_on(server: TestServer) {
    install(&server, "mastodon").await;
    let sim = MastodonSim::start(MastodonConfig::default()).await.unwrap();
    let base = server.base.clone();
    let studio = mastodon_studio(&base, &sim.base_url(), "owner@example.com").await;
    let ctx = Ctx {
        base: base.clone(),
        studio: studio.clone(),
    };
    let post = create_text_post(&base, &studio, "New video is out").await;
    schedule(&base, &studio, &post, None).await;
    let target = wait_for_target(&base, &studio, &post, Duration::from_secs(30), |t| {
        t["status"] == "published"
    })
    .await;
    let remote = target["remote_id"].as_str().unwrap().to_string();
    let first = sim
        .add_reply(&remote, "bob", "Love it! Which camera?")
        .unwrap();
    let second = sim.add_reply(&first, "carol", "Same question").unwrap();

    // The periodic sweep (run here without jitter) queues the account's poll, which takes
    // both replies in; it just ran, so the next sweep leaves the account alone.
    let app = server.app();
    assert_eq!(
        plugboard::inbox::poll::sweep(app, Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    let items = ctx
        .wait("/inbox", |v| v["items"].as_array().unwrap().len() >= 2)
        .await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 2);
    assert_eq!(
        plugboard::inbox::poll::sweep(app, Duration::ZERO)
            .await
            .unwrap(),
        0
    );
    let bob = items
        .iter()
        .find(|i| i["remote_id"] == first.as_str())
        .unwrap();
    assert_eq!(bob["author_name"], "bob");
    assert_eq!(bob["text"], "Love it! Which camera?");
    assert_eq!(bob["kind"], "comment");
    assert_eq!(bob["state"], "pending");
    assert_eq!(bob["source"], "poll");
    assert_eq!(bob["post_remote_id"], remote.as_str());
    assert_eq!(bob["target_id"], target["id"]);
    let carol = items
        .iter()
        .find(|i| i["remote_id"] == second.as_str())
        .unwrap();
    assert_eq!(carol["parent_remote_id"], first.as_str());
    let bob_id = bob["id"].as_str().unwrap().to_string();
    let carol_id = carol["id"].as_str().unwrap().to_string();

    // Polling again takes in only what is new (the cursor was kept).
    sim.add_reply(&remote, "dave", "First!").unwrap();
    let items = ctx.poll_until(3).await;
    assert_eq!(items.len(), 3, "{items:?}");

    // Filters and pagination.
    let (_, page) = ctx.get("/inbox?limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = ctx.get(&format!("/inbox?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    problem(
        client()
            .get(ctx.url("/inbox?state=done"))
            .bearer_auth(&studio.token),
        400,
        "invalid-query",
    )
    .await;

    // Carol's question is ignored; only the pending ones are listed as pending.
    let (status, ignored) = ctx
        .post(
            &format!("/inbox/{carol_id}/state"),
            json!({"state": "ignored"}),
        )
        .await;
    assert_eq!(status, 200, "{ignored}");
    assert_eq!(ignored["item"]["state"], "ignored");
    let (_, pending) = ctx.get("/inbox?state=pending").await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 2);
    let (_, ignored) = ctx
        .get(&format!("/inbox?state=ignored&account={}", studio.account))
        .await;
    assert_eq!(ignored["items"][0]["id"], carol_id.as_str());

    // Without an AI provider the draft is refused and nothing changes.
    let (status, refused) = ctx.post(&format!("/inbox/{bob_id}/draft"), json!({})).await;
    assert!((400..500).contains(&status), "{refused}");
    // A person writes the draft, then approves it: the job replies through the plugin.
    problem(
        client()
            .post(ctx.url(&format!("/inbox/{bob_id}/approve")))
            .bearer_auth(&studio.token)
            .json(&json!({})),
        422,
        "no-draft",
    )
    .await;
    let (status, drafted) = ctx
        .put(
            &format!("/inbox/{bob_id}/draft"),
            json!({"text": "A Fuji X-T5, thanks!"}),
        )
        .await;
    assert_eq!(status, 200, "{drafted}");
    assert_eq!(drafted["item"]["draft_source"], "person");
    let (status, queued) = ctx
        .post(&format!("/inbox/{bob_id}/approve"), json!({}))
        .await;
    assert_eq!(status, 202, "{queued}");
    let done = ctx
        .wait(&format!("/inbox/{bob_id}"), |v| {
            v["item"]["reply_status"] == "sent"
        })
        .await;
    assert_eq!(done["item"]["state"], "handled");
    let reply_id = done["item"]["reply_remote_id"].as_str().unwrap();
    let sent = sim
        .statuses()
        .into_iter()
        .find(|s| s.id == reply_id)
        .expect("the reply reached the simulator");
    assert_eq!(sent.text, "A Fuji X-T5, thanks!");
    assert_eq!(sent.in_reply_to_id.as_deref(), Some(first.as_str()));
    assert!(sent.idempotency_key.is_some());
    let actions: Vec<&str> = done["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["received", "draft_edited", "reply_approved", "reply_sent"]
    );
    // Answered once: a second approval is refused.
    problem(
        client()
            .post(ctx.url(&format!("/inbox/{bob_id}/approve")))
            .bearer_auth(&studio.token)
            .json(&json!({"text": "again"})),
        409,
        "already-replied",
    )
    .await;

    // Auto-reply rules: a disabled one answers nothing, an enabled one answers at once.
    let rules = format!("/accounts/{}/auto-reply-rules", studio.account);
    let (status, off) = ctx
        .post(
            &rules,
            json!({"keyword": "price", "mode": "template", "template": "It is free!"}),
        )
        .await;
    assert_eq!(status, 201, "{off}");
    assert_eq!(off["enabled"], false);
    sim.add_reply(&remote, "erin", "What's the PRICE?").unwrap();
    let items = ctx.poll_until(4).await;
    let erin = items
        .iter()
        .find(|i| i["author_name"] == "erin")
        .unwrap()
        .clone();
    assert!(erin["reply_status"].is_null(), "{erin}");
    let (status, _) = send(
        client()
            .delete(ctx.url(&format!("{rules}/{}", off["id"].as_str().unwrap())))
            .bearer_auth(&studio.token),
    )
    .await;
    assert_eq!(status, 204);
    let (_, removed) = ctx.get("/activity?action=auto_reply_rule.deleted").await;
    assert_eq!(
        removed["items"][0]["details"]["rule_id"], off["id"],
        "{removed}"
    );
    let (status, on) = ctx
        .post(
            &rules,
            json!({"keyword": "price", "mode": "template", "template": "It is free!", "enabled": true}),
        )
        .await;
    assert_eq!(status, 201, "{on}");
    sim.add_reply(&remote, "frank", "price in EUR?").unwrap();
    ctx.poll_until(5).await;
    let frank = ctx
        .wait("/inbox?limit=1", |v| {
            v["items"][0]["reply_status"] == "sent"
        })
        .await["items"][0]
        .clone();
    assert_eq!(frank["author_name"], "frank");
    assert_eq!(frank["draft_source"], "rule");
    assert!(sim.statuses().iter().any(|s| s.text == "It is free!"
        && s.in_reply_to_id.as_ref() == frank["remote_id"].as_str().map(String::from).as_ref()));
    problem(
        client()
            .post(ctx.url(&rules))
            .bearer_auth(&studio.token)
            .json(&json!({"keyword": "x", "mode": "template"})),
        422,
        "invalid-rule",
    )
    .await;

    // Another workspace: 404 for the item, its actions and the account's routes.
    let outsider = signup(&base, "out@example.com").await;
    let elsewhere = create_workspace(&base, &outsider.access_token, "Elsewhere").await;
    let foreign = |path: &str| format!("{base}/api/v1/workspaces/{elsewhere}{path}");
    problem(
        client()
            .get(foreign(&format!("/inbox/{bob_id}")))
            .bearer_auth(&outsider.access_token),
        404,
        "not-found",
    )
    .await;
    problem(
        client()
            .post(foreign(&format!("/inbox/{carol_id}/approve")))
            .bearer_auth(&outsider.access_token)
            .json(&json!({"text": "hijack"})),
        404,
        "not-found",
    )
    .await;
    problem(
        client()
            .post(foreign(&format!(
                "/accounts/{}/comments/poll",
                studio.account
            )))
            .bearer_auth(&outsider.access_token),
        404,
        "not-found",
    )
    .await;
    let (_, theirs) = send(
        client()
            .get(foreign("/inbox"))
            .bearer_auth(&outsider.access_token),
    )
    .await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
    server.running.stop().await;
}

/// The AI drafts, a person approves: with an AI provider configured for the workspace the
/// draft comes from the provider (asked with the comment, its post and the brand voice), and the approved
/// text is what reaches the platform as the reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ai_drafted_reply_approved_by_a_person_reaches_the_platform() {
    use plugboard_simulators::{OpenAiConfig, OpenAiSim};
    let server = test_server().await;
    install(&server, "mastodon").await;
    install(&server, "openai").await;
    let sim = MastodonSim::start(MastodonConfig::default()).await.unwrap();
    let ai = OpenAiSim::start(OpenAiConfig::default()).await.unwrap();
    let base = server.base.clone();
    let studio = mastodon_studio(&base, &sim.base_url(), "ai-inbox@example.com").await;
    let ctx = Ctx {
        base: base.clone(),
        studio: studio.clone(),
    };
    let (status, app) = ctx
        .post(
            "/apps",
            json!({"plugin": "openai", "name": "OpenAI", "settings": {"api_key": "sk-test-openai", "base_url": ai.base_url()}}),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    let (status, settings) = ctx
        .put(
            "/ai/settings",
            json!({"providers": [{"plugin": "openai", "model": "gpt-4o-mini"}], "brand_voice": "Warm and brief"}),
        )
        .await;
    assert_eq!(status, 200, "{settings}");

    let post = create_text_post(&base, &studio, "Behind the scenes of the shoot").await;
    schedule(&base, &studio, &post, None).await;
    let target = wait_for_target(&base, &studio, &post, Duration::from_secs(30), |t| {
        t["status"] == "published"
    })
    .await;
    let remote = target["remote_id"].as_str().unwrap().to_string();
    let comment = sim
        .add_reply(&remote, "erin", "Which lens did you use?")
        .unwrap();
    let items = ctx.poll_until(1).await;
    let item = items[0]["id"].as_str().unwrap().to_string();

    let before = ai.requests().len();
    let (status, drafted) = ctx.post(&format!("/inbox/{item}/draft"), json!({})).await;
    assert_eq!(status, 200, "{drafted}");
    assert_eq!(drafted["item"]["draft_source"], "ai", "{drafted}");
    let draft = drafted["item"]["draft"].as_str().unwrap().to_string();
    assert!(!draft.trim().is_empty(), "{drafted}");
    let asked = &ai.requests()[before..];
    assert_eq!(asked.len(), 1, "one completion per draft: {asked:?}");
    let prompt = asked[0].body.as_ref().unwrap().to_string();
    assert!(
        prompt.contains("Which lens did you use?")
            && prompt.contains("Behind the scenes of the shoot")
            && prompt.contains("Warm and brief"),
        "the provider was asked with the comment, its post and the brand voice: {prompt}"
    );

    let (status, queued) = ctx.post(&format!("/inbox/{item}/approve"), json!({})).await;
    assert_eq!(status, 202, "{queued}");
    let done = ctx
        .wait(&format!("/inbox/{item}"), |v| {
            v["item"]["reply_status"] == "sent"
        })
        .await;
    let reply_id = done["item"]["reply_remote_id"].as_str().unwrap();
    let sent = sim
        .statuses()
        .into_iter()
        .find(|s| s.id == reply_id)
        .expect("the reply reached the simulator");
    assert_eq!(sent.text, draft);
    assert_eq!(sent.in_reply_to_id.as_deref(), Some(comment.as_str()));
}
