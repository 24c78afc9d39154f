//! Instagram end to end: the real server driven over its HTTP API (Instagram Login — or
//! Facebook Login — through the simulator, media upload, posts scheduled now) → publish
//! job → the `instagram` plugin → the Instagram simulator, whose record shows the exact
//! protocol sequence: quota check, container(s), status polls, `media_publish`. Plus the
//! failure paths: an expired session refreshed with `ig_refresh_token` and the publish
//! retried, throttling and the 24-hour quota deferred until Instagram's reset time,
//! content over the limits refused by validate, a container still processing polled to
//! `FINISHED` through pending/check-status, and a container in `ERROR` failing with
//! Instagram's reason.

use plugboard_e2e::api::{client, send};
use plugboard_e2e::platform::{self, Studio, jpeg, mp4_at};
use plugboard_e2e::test_server;
use plugboard_simulators::graph::{Fault, FaultAction};
use plugboard_simulators::instagram::{ContainerKind, RecordedMedia};
use plugboard_simulators::{InstagramConfig, InstagramSim};
use serde_json::{Value, json};

struct Ig {
    studio: Studio,
    sim: InstagramSim,
    /// The Instagram account's id in the workspace.
    account: String,
}

impl std::ops::Deref for Ig {
    type Target = Studio;
    fn deref(&self) -> &Studio {
        &self.studio
    }
}

fn sim_config() -> InstagramConfig {
    InstagramConfig {
        image_processing_ms: 200,
        video_processing_ms: 2_500,
        refresh_min_age_secs: 0,
        ..InstagramConfig::default()
    }
}

impl Ig {
    /// `METHOD route` of each request from `from` on, the account id as `{ig}` and other
    /// numeric ids as `{id}`.
    fn lines(&self, from: usize) -> Vec<String> {
        let ig = self.sim.user_id();
        self.sim.requests()[from..]
            .iter()
            .map(|r| {
                let route: Vec<String> = r
                    .route
                    .split('/')
                    .map(|seg| {
                        if seg == ig {
                            "{ig}".to_string()
                        } else if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                            "{id}".to_string()
                        } else {
                            seg.to_string()
                        }
                    })
                    .collect();
                format!("{} {}", r.method, route.join("/"))
            })
            .collect()
    }

    async fn upload(&self, name: &str, mime: &str, bytes: Vec<u8>) -> String {
        self.studio.upload(name, mime, bytes, None).await
    }

    /// Creates a post targeting the account; returns its id.
    async fn create(&self, mut body: Value) -> String {
        body["targets"] = json!([self.account]);
        self.studio.post(&body).await
    }

    /// Waits until `done` (for at most a minute); returns the target and every status
    /// seen on the way.
    async fn wait_for(&self, post: &str, done: impl Fn(&Value) -> bool) -> (Value, Vec<String>) {
        self.studio
            .wait(post, 60, done, || format!("{:#?}", self.lines(0)))
            .await
    }

    /// Publishes `body` now and waits for an end state; returns the target, the statuses
    /// seen and where the publish's requests start in the record.
    async fn run(&self, body: Value) -> (Value, Vec<String>, usize) {
        let post = self.create(body).await;
        let from = self.sim.requests().len();
        self.publish_now(&post).await;
        let (t, seen) = self
            .wait_for(&post, |t| {
                matches!(
                    t["status"].as_str(),
                    Some("published" | "failed" | "paused" | "in_doubt")
                )
            })
            .await;
        (t, seen, from)
    }

    async fn publish(&self, body: Value) -> (Value, Vec<String>, usize) {
        let (t, seen, from) = self.run(body).await;
        assert_eq!(
            t["status"],
            "published",
            "{t}; requests {:#?}",
            self.lines(from)
        );
        (t, seen, from)
    }

    fn media(&self, remote_id: &str) -> RecordedMedia {
        self.sim
            .media()
            .into_iter()
            .find(|m| m.id == remote_id)
            .unwrap_or_else(|| panic!("no media {remote_id} at the simulator"))
    }
}

/// The lines of a container flow: quota, `creates` containers, status polls, publish,
/// permalink. Polls may repeat while the container processes.
fn assert_flow(lines: &[String], creates: usize) {
    let mut expected = vec!["GET /{ig}/content_publishing_limit".to_string()];
    expected.extend(std::iter::repeat_n("POST /{ig}/media".to_string(), creates));
    assert_eq!(lines[..expected.len()], expected[..], "{lines:#?}");
    let tail = &lines[expected.len()..];
    assert!(tail.len() >= 3, "{lines:#?}");
    let (polls, end) = tail.split_at(tail.len() - 2);
    assert!(
        !polls.is_empty() && polls.iter().all(|l| l == "GET /{id}"),
        "status polls: {lines:#?}"
    );
    assert_eq!(end, ["POST /{ig}/media_publish", "GET /{id}"], "{lines:#?}");
}

/// A server with the plugin, a simulator, an app and the account connected through the
/// API with Instagram Login.
async fn setup(config: InstagramConfig, settings: Value) -> Ig {
    let server = test_server().await;
    platform::install(&server, "instagram").await;
    let sim = InstagramSim::start(config).await.unwrap();
    let studio = Studio::open(server, "owner@example.com", "Bakery").await;
    let mut all = json!({
        "client_id": sim.config().app_id,
        "client_secret": sim.config().app_secret,
        "graph_url": sim.base_url(),
        "webhook_verify_token": "verify-me",
        "status_poll_secs": "1",
    });
    for (k, v) in settings.as_object().unwrap() {
        all[k] = v.clone();
    }
    let facebook = all["login"] == "facebook";
    let connected = connect(&studio, all).await;
    let lines: Vec<String> = sim.requests().iter().map(|r| r.line()).collect();
    let account = if facebook {
        assert_eq!(
            lines,
            [
                "GET /dialog/oauth",
                "GET /oauth/access_token",
                "GET /oauth/access_token",
                "GET /me",
                "GET /me/accounts"
            ]
        );
        let user = connected["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "user")
            .unwrap_or_else(|| panic!("{connected}"))
            .clone();
        let (status, selected) = send(
            client()
                .post(studio.url(&format!(
                    "/accounts/{}/select",
                    user["id"].as_str().unwrap()
                )))
                .bearer_auth(&studio.token)
                .json(&json!({"remote_ids": [sim.user_id()]})),
        )
        .await;
        assert_eq!(status, 200, "{selected}");
        selected["accounts"][0]["id"].as_str().unwrap().to_string()
    } else {
        // Instagram Login: the authorize page, the code exchange, the long-lived
        // exchange, the account.
        assert_eq!(
            lines,
            [
                "GET /oauth/authorize",
                "POST /oauth/access_token",
                "GET /access_token",
                "GET /me"
            ]
        );
        let list = connected["accounts"].as_array().unwrap();
        assert_eq!(list.len(), 1, "{connected}");
        assert_eq!(list[0]["remote_id"], sim.user_id().as_str());
        list[0]["id"].as_str().unwrap().to_string()
    };
    assert!(sim.requests()[3].has_appsecret_proof);
    Ig {
        studio,
        sim,
        account,
    }
}

/// Creates the app, walks the login redirect and returns the workspace's accounts.
async fn connect(studio: &Studio, settings: Value) -> Value {
    let app = studio
        .create_app("instagram", "Our Instagram app", settings)
        .await;
    studio.connect_oauth("instagram", &app["id"]).await;
    studio.accounts().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_goes_container_status_publish() {
    let ig = setup(sim_config(), json!({})).await;
    let file = jpeg(800, 600);
    let size = file.len();
    let media = ig.upload("bread.jpg", "image/jpeg", file).await;
    let (t, _, from) = ig
        .publish(
            json!({"kind": "image", "text": "Fresh bread #sourdough", "media": [media],
            "options": {"location_id": "110843418940484", "collaborators": "bob.bakes"}}),
        )
        .await;
    assert_flow(&ig.lines(from), 1);
    let reqs = ig.sim.requests();
    let created = &reqs[from + 1];
    assert!(created.has_appsecret_proof && created.token_scheme.as_deref() == Some("param"));
    assert!(
        created.params["image_url"].starts_with(&ig.server.base),
        "Instagram pulls from the host's signed URL: {created:?}"
    );
    assert_eq!(created.params["caption"], "Fresh bread #sourdough");
    assert_eq!(created.params["collaborators"], r#"["bob.bakes"]"#);
    let remote = t["remote_id"].as_str().unwrap();
    let published = ig.media(remote);
    assert_eq!(
        (
            published.media_type.as_str(),
            published.media_product_type.as_str()
        ),
        ("IMAGE", "FEED")
    );
    assert_eq!(published.caption.as_deref(), Some("Fresh bread #sourdough"));
    let container = ig.sim.container(&published.container_id).unwrap();
    assert_eq!(
        container.bytes, size,
        "the simulator fetched the whole file"
    );
    assert_eq!(t["remote_url"], published.permalink.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reel_is_pending_while_processing_then_published() {
    let ig = setup(sim_config(), json!({})).await;
    let file = mp4_at(540, 960, 3, 30);
    let size = file.len();
    let media = ig.upload("reel.mp4", "video/mp4", file).await;
    let (t, seen, from) = ig
        .publish(
            json!({"kind": "reel", "text": "Morning shift", "media": [media],
            "options": {"share_to_feed": "true", "thumb_offset": "1000"}}),
        )
        .await;
    let lines = ig.lines(from);
    assert_flow(&lines, 1);
    assert!(
        seen.iter().any(|s| s == "pending"),
        "the container was IN_PROGRESS first: {seen:?}"
    );
    assert!(
        lines.iter().filter(|l| *l == "GET /{id}").count() >= 3,
        "polled until FINISHED: {lines:#?}"
    );
    let reqs = ig.sim.requests();
    assert_eq!(reqs[from + 1].params["media_type"], "REELS");
    assert_eq!(reqs[from + 1].params["share_to_feed"], "true");
    assert_eq!(reqs[from + 1].params["thumb_offset"], "1000");
    let published = ig.media(t["remote_id"].as_str().unwrap());
    assert_eq!(published.media_product_type, "REELS");
    assert_eq!(
        ig.sim.container(&published.container_id).unwrap().bytes,
        size
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_and_video_stories_carry_no_caption() {
    let ig = setup(sim_config(), json!({})).await;
    let image = ig.upload("story.jpg", "image/jpeg", jpeg(540, 960)).await;
    let (t, _, from) = ig
        .publish(json!({"kind": "story", "text": "", "media": [image]}))
        .await;
    assert_flow(&ig.lines(from), 1);
    let created = &ig.sim.requests()[from + 1];
    assert_eq!(created.params["media_type"], "STORIES");
    assert!(created.params.contains_key("image_url") && !created.params.contains_key("caption"));
    let story = ig.media(t["remote_id"].as_str().unwrap());
    assert_eq!(
        (story.media_type.as_str(), story.media_product_type.as_str()),
        ("IMAGE", "STORY")
    );

    let video = ig
        .upload("story.mp4", "video/mp4", mp4_at(540, 960, 3, 30))
        .await;
    let (t, _, from) = ig
        .publish(json!({"kind": "story", "text": "", "media": [video]}))
        .await;
    assert_flow(&ig.lines(from), 1);
    assert!(ig.sim.requests()[from + 1].params.contains_key("video_url"));
    let story = ig.media(t["remote_id"].as_str().unwrap());
    assert_eq!(
        (story.media_type.as_str(), story.media_product_type.as_str()),
        ("VIDEO", "STORY")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carousel_makes_item_containers_then_the_carousel() {
    let ig = setup(sim_config(), json!({})).await;
    let a = ig.upload("a.jpg", "image/jpeg", jpeg(800, 800)).await;
    let b = ig.upload("b.jpg", "image/jpeg", jpeg(800, 800)).await;
    let c = ig
        .upload("c.mp4", "video/mp4", mp4_at(640, 640, 3, 30))
        .await;
    let (t, _, from) = ig
        .publish(json!({"kind": "carousel", "text": "Three loaves", "media": [a, b, c]}))
        .await;
    assert_flow(&ig.lines(from), 4);
    let reqs = ig.sim.requests();
    let items = &reqs[from + 1..from + 4];
    assert!(items.iter().all(|r| r.params["is_carousel_item"] == "true"));
    assert!(
        items[..2]
            .iter()
            .all(|r| r.params.contains_key("image_url"))
    );
    assert_eq!(items[2].params["media_type"], "VIDEO");
    let parent = &reqs[from + 4];
    assert_eq!(parent.params["media_type"], "CAROUSEL");
    assert_eq!(parent.params["caption"], "Three loaves");
    let published = ig.media(t["remote_id"].as_str().unwrap());
    assert_eq!(published.media_type, "CAROUSEL_ALBUM");
    assert_eq!(parent.params["children"], published.children.join(","));
    let kinds: Vec<ContainerKind> = published
        .children
        .iter()
        .map(|c| ig.sim.container(c).unwrap().kind)
        .collect();
    assert_eq!(
        kinds,
        [
            ContainerKind::Image,
            ContainerKind::Image,
            ContainerKind::Video
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_refreshed_and_the_publish_retried() {
    let ig = setup(sim_config(), json!({})).await;
    ig.sim
        .expire_session_on("POST", &format!("/{}/media", ig.sim.user_id()));
    let media = ig.upload("a.jpg", "image/jpeg", jpeg(800, 600)).await;
    let (t, _, from) = ig
        .publish(json!({"kind": "image", "text": "After a refresh", "media": [media]}))
        .await;
    let lines = ig.lines(from);
    assert_eq!(
        lines[..3],
        [
            "GET /{ig}/content_publishing_limit",
            "POST /{ig}/media",
            "GET /refresh_access_token"
        ],
        "{lines:#?}"
    );
    assert_flow(&lines[3..], 1);
    let reqs = ig.sim.requests();
    assert_eq!(reqs[from + 1].status, Some(400), "the session was refused");
    assert_eq!(reqs[from + 2].params["grant_type"], "ig_refresh_token");
    assert_eq!(ig.sim.media().len(), 1);
    assert_eq!(
        ig.media(t["remote_id"].as_str().unwrap())
            .caption
            .as_deref(),
        Some("After a refresh")
    );
    let (_, account) = send(
        client()
            .get(ig.url(&format!("/accounts/{}", ig.account)))
            .bearer_auth(&ig.token),
    )
    .await;
    assert!(account["last_refresh_at"].is_string(), "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_defers_until_instagrams_regain_time() {
    let ig = setup(sim_config(), json!({})).await;
    ig.sim.inject(Fault::new(
        "POST",
        &format!("/{}/media", ig.sim.user_id()),
        FaultAction::Throttled {
            code: 17,
            regain_minutes: 7,
        },
    ));
    let media = ig.upload("a.jpg", "image/jpeg", jpeg(800, 600)).await;
    let post = ig
        .create(json!({"kind": "image", "text": "Too many calls", "media": [media]}))
        .await;
    ig.publish_now(&post).await;
    let (t, _) = ig
        .wait_for(&post, |t| {
            t["deferred_reason"]
                .as_str()
                .is_some_and(|r| r.contains("rate limit"))
        })
        .await;
    assert_eq!(t["status"], "queued", "{t}");
    let reason = t["deferred_reason"].as_str().unwrap();
    assert!(
        reason.contains("420 s") && reason.contains("User request limit"),
        "{reason}"
    );
    assert!(ig.sim.media().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_quota_is_checked_before_publishing() {
    let ig = setup(
        InstagramConfig {
            quota_total: 1,
            ..sim_config()
        },
        json!({}),
    )
    .await;
    let first = ig.upload("a.jpg", "image/jpeg", jpeg(800, 600)).await;
    ig.publish(json!({"kind": "image", "text": "The one for today", "media": [first]}))
        .await;
    let second = ig.upload("b.jpg", "image/jpeg", jpeg(800, 600)).await;
    let post = ig
        .create(json!({"kind": "image", "text": "One too many", "media": [second]}))
        .await;
    let from = ig.sim.requests().len();
    ig.publish_now(&post).await;
    let (t, _) = ig
        .wait_for(&post, |t| t["deferred_reason"].is_string())
        .await;
    assert_eq!(t["status"], "queued", "{t}");
    let reason = t["deferred_reason"].as_str().unwrap();
    assert!(reason.contains("allows 1 posts per 24 hours"), "{reason}");
    // The slot frees a day after the first post: just under 86,400 s from now.
    let secs: u64 = reason
        .split("frees in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{reason}"));
    assert!((86_000..=86_400).contains(&secs), "{reason}");
    assert_eq!(
        ig.lines(from)[..2],
        ["GET /{ig}/content_publishing_limit", "GET /{ig}/media"]
    );
    assert_eq!(ig.sim.media().len(), 1, "no container was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_over_the_limits_is_refused_by_validate() {
    let ig = setup(sim_config(), json!({})).await;
    let validate = |post: String| {
        let req = client()
            .post(ig.url(&format!("/posts/{post}/validate")))
            .bearer_auth(&ig.token);
        async move {
            let (status, report) = send(req).await;
            assert_eq!(status, 200, "{report}");
            assert_eq!(report["valid"], false, "{report}");
            report["targets"][0]["problems"].as_array().unwrap().clone()
        }
    };
    let image = ig.upload("a.jpg", "image/jpeg", jpeg(800, 600)).await;
    let problems = validate(
        ig.create(json!({"kind": "image", "text": "é".repeat(2_201), "media": [image]}))
            .await,
    )
    .await;
    let too_long = problems
        .iter()
        .find(|p| p["code"] == "text-too-long")
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(
        too_long["message"],
        "Instagram allows 2200 characters; this text counts 2201 (1 too many)"
    );

    let tags: Vec<String> = (0..31).map(|i| format!("#tag{i}")).collect();
    let problems = validate(
        ig.create(json!({"kind": "image", "text": tags.join(" "), "media": [image]}))
            .await,
    )
    .await;
    assert!(
        problems.iter().any(|p| p["code"] == "too-many-hashtags"
            && p["message"] == "Instagram allows 30 hashtags in a caption; this one has 31"),
        "{problems:?}"
    );

    let tall = ig.upload("tall.jpg", "image/jpeg", jpeg(540, 960)).await;
    let problems = validate(
        ig.create(json!({"kind": "image", "text": "Tall", "media": [tall]}))
            .await,
    )
    .await;
    assert!(
        problems.iter().any(|p| p["field"] == "media[0]"
            && p["code"] == "wrong-aspect-ratio"
            && p["message"].as_str().unwrap().contains("540x960")),
        "{problems:?}"
    );

    let story = ig.upload("s.jpg", "image/jpeg", jpeg(540, 960)).await;
    let problems = validate(
        ig.create(json!({"kind": "story", "text": "Stories carry none", "media": [story]}))
            .await,
    )
    .await;
    assert!(
        problems.iter().any(|p| p["code"] == "text-not-supported"),
        "{problems:?}"
    );

    let one = ig.upload("one.jpg", "image/jpeg", jpeg(800, 800)).await;
    let problems = validate(
        ig.create(json!({"kind": "carousel", "text": "Lonely", "media": [one]}))
            .await,
    )
    .await;
    assert!(
        problems.iter().any(|p| p["code"] == "too-few-media"),
        "{problems:?}"
    );
    assert_eq!(
        ig.sim.requests().len(),
        4,
        "validation made no network call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_in_error_fails_with_instagrams_reason() {
    let ig = setup(sim_config(), json!({})).await;
    // 15 fps passes validate (the contract has no minimum frame rate) but not Instagram's
    // processing, which takes 23–60 fps.
    let media = ig
        .upload("slow.mp4", "video/mp4", mp4_at(540, 960, 3, 15))
        .await;
    let (t, _, from) = ig
        .run(json!({"kind": "reel", "text": "Too slow", "media": [media]}))
        .await;
    assert_eq!(t["status"], "failed", "{t}");
    let text = t.to_string();
    assert!(
        text.contains("frame rate is 15 fps") && text.contains("2207026"),
        "{t}"
    );
    let lines = ig.lines(from);
    assert_eq!(
        lines,
        [
            "GET /{ig}/content_publishing_limit",
            "POST /{ig}/media",
            "GET /{id}"
        ]
    );
    assert!(ig.sim.media().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_login_publishes_through_the_linked_account() {
    let ig = setup(sim_config(), json!({"login": "facebook"})).await;
    let media = ig.upload("a.jpg", "image/jpeg", jpeg(800, 600)).await;
    let (t, _, from) = ig
        .publish(json!({"kind": "image", "text": "Via the Page", "media": [media]}))
        .await;
    assert_flow(&ig.lines(from), 1);
    assert_eq!(
        ig.media(t["remote_id"].as_str().unwrap())
            .caption
            .as_deref(),
        Some("Via the Page")
    );
}

/// The plugin's engagement exports through the runtime, acting for the connected account
/// with the context the host builds: comments, replies, insights, and a signed Meta
/// webhook (plus the verification handshake).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_insights_and_webhooks() {
    use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
        WebhookEvent, WebhookRequest,
    };
    let ig = setup(sim_config(), json!({})).await;
    let media = ig.upload("a.jpg", "image/jpeg", jpeg(800, 600)).await;
    let (t, _, _) = ig
        .publish(json!({"kind": "image", "text": "Ask us anything", "media": [media]}))
        .await;
    let remote = t["remote_id"].as_str().unwrap().to_string();
    let app = ig.server.app().clone();
    let ws = ig.api.rsplit('/').next().unwrap().to_string();
    let call = |name: &'static str| {
        let (app, ws, account) = (app.clone(), ws.clone(), ig.account.clone());
        async move {
            let ctx = plugboard::accounts::call_context(&app, &ws, &account)
                .await
                .unwrap();
            app.runtime.platform("instagram", name, ctx).await.unwrap()
        }
    };

    let comment = ig.sim.add_comment(&remote, "bob", "Do you bake rye?");
    let page = call("list-comments")
        .await
        .list_comments(Some(remote.clone()), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.comments.len(), 1);
    assert_eq!(
        (
            page.comments[0].remote_id.as_str(),
            page.comments[0].author_name.as_str(),
            page.comments[0].text.as_str()
        ),
        (comment.as_str(), "bob", "Do you bake rye?")
    );
    let reply = call("reply-comment")
        .await
        .reply_comment(comment.clone(), "Every Friday!".into())
        .await
        .unwrap()
        .unwrap();
    let stored = ig
        .sim
        .comments()
        .into_iter()
        .find(|c| c.id == reply)
        .unwrap();
    assert_eq!(stored.parent_id.as_deref(), Some(comment.as_str()));
    assert_eq!(stored.username, ig.sim.config().username);

    ig.sim.set_insight(&remote, "reach", 42.0);
    let metrics = call("metrics")
        .await
        .metrics(Some(remote.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        metrics.iter().find(|m| m.name == "reach").unwrap().value,
        42.0
    );
    assert_eq!(metrics.len(), 7);

    let account = ig.sim.user_id();
    let body = serde_json::to_vec(&json!({"object": "instagram", "entry": [{"id": account, "time": 1_750_000_000, "changes": [{"field": "comments", "value": {
        "id": "17865799348089039", "from": {"id": "99", "username": "carol"}, "media": {"id": remote, "media_product_type": "FEED"}, "text": "Yum"}}]}]}))
    .unwrap();
    let signature = {
        use sha2::Digest;
        // HMAC-SHA256 by hand (RFC 2104), so the test does not share the plugin's code.
        let key = ig.sim.config().app_secret.as_bytes();
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = sha2::Sha256::digest([ipad.as_slice(), body.as_slice()].concat());
        let outer = sha2::Sha256::digest([opad.as_slice(), inner.as_slice()].concat());
        outer.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let hook = |headers: Vec<(String, String)>, body: Vec<u8>| WebhookRequest {
        method: "POST".into(),
        query: vec![],
        headers,
        body,
    };
    let reply = call("handle-webhook")
        .await
        .handle_webhook(hook(
            vec![("X-Hub-Signature-256".into(), format!("sha256={signature}"))],
            body.clone(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.account_remote_id.as_deref(), Some(account.as_str()));
    let [(key, WebhookEvent::Comment(c))] = reply.events.as_slice() else {
        panic!("one comment event: {:?}", reply.events)
    };
    assert_eq!(
        key,
        &format!("instagram:{account}:comment:17865799348089039")
    );
    assert_eq!(
        (
            c.text.as_str(),
            c.author_name.as_str(),
            c.post_remote_id.as_deref()
        ),
        ("Yum", "carol", Some(remote.as_str()))
    );
    let forged = call("handle-webhook")
        .await
        .handle_webhook(hook(
            vec![(
                "X-Hub-Signature-256".into(),
                format!("sha256={}", "0".repeat(64)),
            )],
            body,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((forged.status, forged.events.len()), (401, 0));
    let handshake = WebhookRequest {
        method: "GET".into(),
        query: vec![
            ("hub.mode".into(), "subscribe".into()),
            ("hub.verify_token".into(), "verify-me".into()),
            ("hub.challenge".into(), "1158201444".into()),
        ],
        headers: vec![],
        body: vec![],
    };
    let reply = call("handle-webhook")
        .await
        .handle_webhook(handshake)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((reply.status, reply.body), (200, b"1158201444".to_vec()));
}
