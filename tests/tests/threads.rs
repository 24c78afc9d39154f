//! The Threads plugin end to end: HTTP API → publish job → plugin → Threads simulator.
//! Each test connects an account through the simulator's OAuth via the API, uploads media
//! through the API, creates and publishes a post, and asserts the exact protocol sequence
//! the simulator recorded.

use plugboard_e2e::api::{client, send};
use plugboard_e2e::platform::{self, Studio, jpeg, png};
use plugboard_e2e::test_server;
use plugboard_simulators::threads::{ThreadsFault, ThreadsFaultAction, ThreadsMediaType};
use plugboard_simulators::{ThreadsConfig, ThreadsSim};
use serde_json::{Value, json};

struct Ctx {
    studio: Studio,
    sim: ThreadsSim,
    account: String,
}

impl std::ops::Deref for Ctx {
    type Target = Studio;
    fn deref(&self) -> &Studio {
        &self.studio
    }
}

impl Ctx {
    /// Creates a post targeting the account; returns its id.
    async fn create_post(&self, mut body: Value) -> String {
        body["targets"] = json!([self.account]);
        self.studio.post(&body).await
    }
}

fn sim_config() -> ThreadsConfig {
    ThreadsConfig {
        refresh_min_age_secs: 0,
        image_processing_ms: 0,
        video_processing_ms: 0,
        ..ThreadsConfig::default()
    }
}

/// A server with the plugin installed, a workspace with a Threads app pointed at the
/// simulator, and an account connected through the simulator's OAuth, all over HTTP.
async fn studio(config: ThreadsConfig) -> Ctx {
    let server = test_server().await;
    platform::install(&server, "threads").await;
    let sim = ThreadsSim::start(config).await.unwrap();
    let studio = Studio::open(server, "owner@example.com", "Studio").await;
    let app = studio
        .create_app(
            "threads",
            "Threads app",
            json!({
                "client_id": sim.config().client_id,
                "client_secret": sim.config().client_secret,
                "graph_url": sim.base_url(),
                "authorize_url": format!("{}/oauth/authorize", sim.base_url()),
            }),
        )
        .await;
    let connection = studio.connect_oauth("threads", &app["id"]).await;
    assert!(
        connection.callback.ends_with("#_"),
        "{}",
        connection.callback
    );
    let account = &connection.connected["accounts"][0];
    assert_eq!(account["plugin"], "threads");
    assert_eq!(account["username"], "alice");
    assert_eq!(account["remote_id"], sim.config().user_id);
    assert!(account["expires_at"].is_string(), "{account}");
    assert_eq!(
        sim.endpoints(),
        [
            "GET /oauth/authorize",
            "POST /oauth/access_token",
            "GET /access_token",
            "GET /me"
        ]
    );
    Ctx {
        account: account["id"].as_str().unwrap().to_string(),
        studio,
        sim,
    }
}

/// A one-second 320×240 H.264 test video.
fn mp4() -> Vec<u8> {
    platform::mp4(320, 240, 1)
}

/// Polls the target until `done` holds; returns it and every status seen on the way.
async fn wait_for(
    s: &Ctx,
    post_id: &str,
    secs: u64,
    done: impl Fn(&Value) -> bool,
) -> (Value, Vec<String>) {
    s.wait(post_id, secs, done, || format!("{:#?}", s.sim.endpoints()))
        .await
}

async fn published(s: &Ctx, post_id: &str, secs: u64) -> (Value, Vec<String>) {
    wait_for(s, post_id, secs, |t| {
        t["status"] == "published" || t["status"] == "failed" || t["status"] == "in_doubt"
    })
    .await
}

/// The endpoints hit after the connection (the first four requests).
fn publish_sequence(sim: &ThreadsSim) -> Vec<String> {
    sim.endpoints()[4..].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_post_with_reply_control_and_link() {
    let s = studio(sim_config()).await;
    let post = s.create_post(json!({
        "kind": "text",
        "text": "Launch day 🚀 read more",
        "options": {"reply_control": "mentioned_only", "link_attachment": "https://example.com/launch"},
    }))
    .await;
    s.publish_now(&post).await;
    let (t, _) = published(&s, &post, 30).await;
    assert_eq!(t["status"], "published", "{t}");
    assert_eq!(
        publish_sequence(&s.sim),
        [
            "GET /{id}/threads_publishing_limit",
            "POST /{id}/threads",
            "GET /{id}",
            "POST /{id}/threads_publish",
            "GET /{id}",
        ]
    );
    let posts = s.sim.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].media_type, ThreadsMediaType::Text);
    assert_eq!(posts[0].text.as_deref(), Some("Launch day 🚀 read more"));
    assert_eq!(posts[0].reply_control.as_deref(), Some("mentioned_only"));
    assert_eq!(
        posts[0].link_attachment.as_deref(),
        Some("https://example.com/launch")
    );
    assert_eq!(t["remote_id"], posts[0].id.as_str());
    assert_eq!(t["remote_url"], posts[0].permalink.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_published_text_skips_the_publish_step() {
    let s = studio(sim_config()).await;
    let post = s
        .create_post(
            json!({"kind": "text", "text": "One step", "options": {"auto_publish_text": "true"}}),
        )
        .await;
    s.publish_now(&post).await;
    let (t, _) = published(&s, &post, 30).await;
    assert_eq!(t["status"], "published", "{t}");
    assert_eq!(
        publish_sequence(&s.sim),
        [
            "GET /{id}/threads_publishing_limit",
            "POST /{id}/threads",
            "GET /{id}"
        ]
    );
    let create = &s.sim.requests()[5];
    assert_eq!(create.param("auto_publish_text"), Some("true"));
    assert_eq!(s.sim.posts()[0].text.as_deref(), Some("One step"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_video_and_carousel_posts_pull_media_by_signed_url() {
    let s = studio(sim_config()).await;
    let image = s
        .upload(
            "cover.jpg",
            "image/jpeg",
            jpeg(640, 480),
            Some("A test card"),
        )
        .await;
    let picture = s
        .upload("square.png", "image/png", png(320, 320), None)
        .await;
    let video = s.upload("clip.mp4", "video/mp4", mp4(), None).await;

    let post = s
        .create_post(json!({"kind": "image", "text": "An image", "media": [image]}))
        .await;
    s.publish_now(&post).await;
    assert_eq!(published(&s, &post, 30).await.0["status"], "published");
    let post = s
        .create_post(json!({"kind": "video", "text": "A video", "media": [video]}))
        .await;
    s.publish_now(&post).await;
    assert_eq!(published(&s, &post, 30).await.0["status"], "published");
    let post = s
        .create_post(json!({"kind": "carousel", "text": "Three", "media": [image, picture, video]}))
        .await;
    s.publish_now(&post).await;
    assert_eq!(published(&s, &post, 30).await.0["status"], "published");

    let single = [
        "GET /{id}/threads_publishing_limit",
        "POST /{id}/threads",
        "GET /{id}",
        "POST /{id}/threads_publish",
        "GET /{id}",
    ];
    let carousel = [
        "GET /{id}/threads_publishing_limit",
        "POST /{id}/threads",
        "POST /{id}/threads",
        "POST /{id}/threads",
        "POST /{id}/threads",
        "GET /{id}",
        "POST /{id}/threads_publish",
        "GET /{id}",
    ];
    let expected: Vec<&str> = single
        .iter()
        .chain(&single)
        .chain(&carousel)
        .copied()
        .collect();
    assert_eq!(publish_sequence(&s.sim), expected);
    let requests = s.sim.requests();
    let creates: Vec<_> = requests
        .iter()
        .filter(|r| r.endpoint() == "POST /{id}/threads")
        .collect();
    assert_eq!(creates[0].param("media_type"), Some("IMAGE"));
    assert_eq!(creates[0].param("alt_text"), Some("A test card"));
    assert!(
        creates[0]
            .param("image_url")
            .unwrap()
            .contains("/media/public/"),
        "{:?}",
        creates[0]
    );
    assert_eq!(creates[1].param("media_type"), Some("VIDEO"));
    assert_eq!(creates[2].param("is_carousel_item"), Some("true"));
    assert_eq!(creates[4].param("is_carousel_item"), Some("true"));
    assert_eq!(creates[4].param("media_type"), Some("VIDEO"));
    assert_eq!(creates[5].param("media_type"), Some("CAROUSEL"));
    assert_eq!(creates[5].param("children").unwrap().split(',').count(), 3);

    let posts = s.sim.posts();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0].media_type, ThreadsMediaType::Image);
    assert_eq!(posts[0].media[0].mime, "image/jpeg");
    assert_eq!(posts[0].alt_texts, [Some("A test card".to_string())]);
    assert_eq!(posts[1].media_type, ThreadsMediaType::Video);
    assert!(
        posts[1].media[0].duration_ms.unwrap() >= 900,
        "{:?}",
        posts[1].media
    );
    assert_eq!(posts[2].media_type, ThreadsMediaType::Carousel);
    let mimes: Vec<&str> = posts[2].media.iter().map(|m| m.mime.as_str()).collect();
    assert_eq!(mimes, ["image/jpeg", "image/png", "video/mp4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_chain_publishes_each_item_as_a_reply_to_the_previous() {
    let s = studio(sim_config()).await;
    let image = s.upload("a.jpg", "image/jpeg", jpeg(400, 300), None).await;
    let post = s
        .create_post(json!({
            "kind": "thread",
            "text": "1/3 A thread",
            "options": {"reply_control": "followers_only"},
            "thread": [{"text": "2/3 with a picture", "media": [image]}, {"text": "3/3 the end"}],
        }))
        .await;
    s.publish_now(&post).await;
    let (t, _) = published(&s, &post, 30).await;
    assert_eq!(t["status"], "published", "{t}");
    let item = [
        "POST /{id}/threads",
        "GET /{id}",
        "POST /{id}/threads_publish",
    ];
    let mut expected = vec!["GET /{id}/threads_publishing_limit"];
    for _ in 0..3 {
        expected.extend(item);
    }
    expected.push("GET /{id}");
    assert_eq!(publish_sequence(&s.sim), expected);
    let posts = s.sim.posts();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0].reply_to_id, None);
    assert_eq!(posts[1].reply_to_id.as_deref(), Some(posts[0].id.as_str()));
    assert_eq!(posts[1].media_type, ThreadsMediaType::Image);
    assert_eq!(posts[2].reply_to_id.as_deref(), Some(posts[1].id.as_str()));
    assert!(
        posts
            .iter()
            .all(|p| p.reply_control.as_deref() == Some("followers_only"))
    );
    assert_eq!(t["remote_id"], posts[0].id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_in_progress_is_polled_until_finished() {
    let s = studio(ThreadsConfig {
        video_processing_ms: 4_000,
        ..sim_config()
    })
    .await;
    let video = s.upload("clip.mp4", "video/mp4", mp4(), None).await;
    let post = s
        .create_post(json!({"kind": "video", "text": "Processing", "media": [video]}))
        .await;
    s.publish_now(&post).await;
    let (t, seen) = published(&s, &post, 60).await;
    assert_eq!(t["status"], "published", "{t}");
    assert!(seen.contains(&"pending".to_string()), "{seen:?}");
    let sequence = publish_sequence(&s.sim);
    // Created once, its status read until FINISHED (at least twice), published once.
    assert_eq!(
        sequence[..3],
        [
            "GET /{id}/threads_publishing_limit",
            "POST /{id}/threads",
            "GET /{id}"
        ]
    );
    let polls = sequence.iter().filter(|e| *e == "GET /{id}").count();
    assert!(polls >= 3, "{sequence:?}");
    assert_eq!(
        sequence
            .iter()
            .filter(|e| *e == "POST /{id}/threads")
            .count(),
        1
    );
    assert_eq!(
        sequence
            .iter()
            .filter(|e| *e == "POST /{id}/threads_publish")
            .count(),
        1
    );
    assert_eq!(s.sim.posts().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_refreshed_and_the_publish_retried() {
    let s = studio(sim_config()).await;
    let before = s
        .sim
        .requests()
        .iter()
        .filter(|r| r.endpoint() == "GET /me")
        .count();
    assert_eq!(before, 1);
    s.sim.inject(ThreadsFault::new(
        "POST",
        "/threads",
        ThreadsFaultAction::ExpireSession,
    ));
    let post = s
        .create_post(json!({"kind": "text", "text": "After a refresh"}))
        .await;
    s.publish_now(&post).await;
    let (t, _) = published(&s, &post, 30).await;
    assert_eq!(t["status"], "published", "{t}");
    assert_eq!(
        publish_sequence(&s.sim),
        [
            "GET /{id}/threads_publishing_limit",
            "POST /{id}/threads",
            "GET /refresh_access_token",
            "POST /{id}/threads",
            "GET /{id}",
            "POST /{id}/threads_publish",
            "GET /{id}",
        ]
    );
    let statuses: Vec<Option<u16>> = s.sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses[5], Some(400));
    assert_eq!(s.sim.posts().len(), 1);
    let (_, account) = send(
        client()
            .get(s.url(&format!("/accounts/{}", s.account)))
            .bearer_auth(&s.token),
    )
    .await;
    assert!(account["last_refresh_at"].is_string(), "{account}");
    assert_eq!(account["needs_reconnect"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_defers_the_target_until_meta_says_access_returns() {
    let s = studio(sim_config()).await;
    s.sim.inject(ThreadsFault::new(
        "POST",
        "/threads_publish",
        ThreadsFaultAction::RateLimited {
            code: 17,
            regain_minutes: 7,
        },
    ));
    let post = s
        .create_post(json!({"kind": "text", "text": "Throttled"}))
        .await;
    s.publish_now(&post).await;
    let (t, _) = wait_for(&s, &post, 30, |t| {
        t["deferred_reason"]
            .as_str()
            .is_some_and(|r| r.contains("rate limit"))
    })
    .await;
    assert_eq!(t["status"], "queued", "{t}");
    let reason = t["deferred_reason"].as_str().unwrap();
    assert!(reason.contains("420 s"), "{reason}");
    assert!(reason.contains("User request limit reached"), "{reason}");
    assert!(s.sim.posts().is_empty());
    let last = s.sim.requests().last().unwrap().clone();
    assert_eq!(last.endpoint(), "POST /{id}/threads_publish");
    assert_eq!(last.status, Some(429));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_up_quota_defers_before_anything_is_created() {
    let s = studio(ThreadsConfig {
        posts_per_day: 1,
        ..sim_config()
    })
    .await;
    let first = s
        .create_post(json!({"kind": "text", "text": "The only one today"}))
        .await;
    s.publish_now(&first).await;
    assert_eq!(published(&s, &first, 30).await.0["status"], "published");
    let before = s.sim.requests().len();
    let second = s
        .create_post(json!({"kind": "text", "text": "One too many"}))
        .await;
    s.publish_now(&second).await;
    let (t, _) = wait_for(&s, &second, 30, |t| {
        t["deferred_reason"]
            .as_str()
            .is_some_and(|r| r.contains("quota"))
    })
    .await;
    assert_eq!(t["status"], "queued", "{t}");
    let after: Vec<String> = s.sim.endpoints()[before..].to_vec();
    assert_eq!(after, ["GET /{id}/threads_publishing_limit"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_refuses_what_threads_would_without_a_request() {
    let s = studio(sim_config()).await;
    let image = s.upload("a.jpg", "image/jpeg", jpeg(100, 100), None).await;
    // 124 thumbs-up emoji count 496; with "hello" 501: one over, though only 129 characters.
    let text = format!("{}hello", "👍".repeat(124));
    let post = s
        .create_post(json!({
            "kind": "carousel",
            "text": text,
            "media": [image],
            "options": {"reply_control": "friends"},
        }))
        .await;
    let before = s.sim.requests().len();
    let (status, report) = send(
        client()
            .post(s.url(&format!("/posts/{post}/validate")))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false, "{report}");
    let problems = report["targets"][0]["problems"].as_array().unwrap();
    let by_code = |code: &str| {
        problems
            .iter()
            .find(|p| p["code"] == code)
            .unwrap_or_else(|| panic!("{code} missing: {report}"))
    };
    let long = by_code("text-too-long");
    assert_eq!(long["field"], "text");
    assert!(
        long["message"]
            .as_str()
            .unwrap()
            .contains("counts 501 (1 too many)"),
        "{long}"
    );
    let few = by_code("too-few-media");
    assert!(
        few["message"].as_str().unwrap().contains("2 to 20"),
        "{few}"
    );
    assert_eq!(by_code("invalid-option")["field"], "options.reply_control");
    assert_eq!(
        s.sim.requests().len(),
        before,
        "validation must not call Threads"
    );
}
