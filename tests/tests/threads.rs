//! The Threads plugin end to end: HTTP API → publish job → plugin → Threads simulator.
//! Each test connects an account through the simulator's OAuth via the API, uploads media
//! through the API, creates and publishes a post, and asserts the exact protocol sequence
//! the simulator recorded.

use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard_e2e::api::{client, create_workspace, send, signup};
use plugboard_e2e::{TestServer, plugin, test_server};
use plugboard_simulators::threads::{ThreadsFault, ThreadsFaultAction, ThreadsMediaType};
use plugboard_simulators::{ThreadsConfig, ThreadsSim};
use serde_json::{Value, json};
use std::time::Duration;

struct Studio {
    _server: TestServer,
    sim: ThreadsSim,
    token: String,
    api: String,
    account: String,
}

impl Studio {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
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
async fn studio(config: ThreadsConfig) -> Studio {
    let server = test_server().await;
    let bytes = plugin("threads");
    server
        .app()
        .runtime
        .registry
        .install(
            &bytes,
            Some(Grants::requested(
                &Manifest::from_component(&bytes).unwrap(),
            )),
            InstallMode::Install,
        )
        .await
        .unwrap();
    let sim = ThreadsSim::start(config).await.unwrap();
    let base = server.base.clone();
    let owner = signup(&base, "owner@example.com").await;
    let ws = create_workspace(&base, &owner.access_token, "Studio").await;
    let api = format!("{base}/api/v1/workspaces/{ws}");
    let http = client();
    let (status, app) = send(
        http.post(format!("{api}/apps"))
            .bearer_auth(&owner.access_token)
            .json(
                &json!({"plugin": "threads", "name": "Threads app", "settings": {
                    "client_id": sim.config().client_id,
                    "client_secret": sim.config().client_secret,
                    "graph_url": sim.base_url(),
                    "authorize_url": format!("{}/oauth/authorize", sim.base_url()),
                }}),
            ),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let (status, started) = send(
        http.post(format!("{api}/accounts/connect/threads"))
            .bearer_auth(&owner.access_token)
            .json(&json!({"app_id": app["id"]})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let at_threads = no_redirects
        .get(started["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(at_threads.status(), 302);
    let callback = at_threads.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(callback.ends_with("#_"), "{callback}");
    let (status, connected) = send(no_redirects.get(&callback)).await;
    assert!(status == 200 || status == 201, "{connected}");
    let account = &connected["accounts"][0];
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
    Studio {
        account: account["id"].as_str().unwrap().to_string(),
        _server: server,
        sim,
        token: owner.access_token,
        api,
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 255) as u8, (y % 255) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([90, (x % 255) as u8, (y % 255) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A one-second 320×240 H.264 test video made by the ffmpeg CLI.
fn mp4() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=320x240:rate=25",
        ])
        .args(["-pix_fmt", "yuv420p", "-c:v", "libx264"])
        .arg(&out)
        .status()
        .expect("running ffmpeg (scripts/setup.sh installs it)");
    assert!(status.success(), "ffmpeg failed");
    std::fs::read(out).unwrap()
}

async fn upload(s: &Studio, bytes: Vec<u8>, name: &str, mime: &str, alt: Option<&str>) -> String {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(mime)
            .unwrap(),
    );
    if let Some(alt) = alt {
        form = form.text("alt_text", alt.to_string());
    }
    let (status, media) = send(
        client()
            .post(s.url("/media"))
            .bearer_auth(&s.token)
            .multipart(form),
    )
    .await;
    assert_eq!(status, 201, "{media}");
    media["id"].as_str().unwrap().to_string()
}

async fn create_post(s: &Studio, mut body: Value) -> String {
    body["targets"] = json!([s.account]);
    let (status, post) = send(
        client()
            .post(s.url("/posts"))
            .bearer_auth(&s.token)
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{post}");
    post["id"].as_str().unwrap().to_string()
}

async fn publish_now(s: &Studio, post_id: &str) {
    let (status, scheduled) = send(
        client()
            .post(s.url(&format!("/posts/{post_id}/schedule")))
            .bearer_auth(&s.token)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200, "{scheduled}");
}

async fn target(s: &Studio, post_id: &str) -> Value {
    let (status, post) = send(
        client()
            .get(s.url(&format!("/posts/{post_id}")))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(status, 200, "{post}");
    post["targets"][0].clone()
}

/// Polls the target until `done` holds; returns it and every status seen on the way.
async fn wait_for(
    s: &Studio,
    post_id: &str,
    secs: u64,
    done: impl Fn(&Value) -> bool,
) -> (Value, Vec<String>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let t = target(s, post_id).await;
        let status = t["status"].as_str().unwrap_or_default().to_string();
        if seen.last() != Some(&status) {
            seen.push(status);
        }
        if done(&t) {
            return (t, seen);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached the state; last: {t}; seen {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn published(s: &Studio, post_id: &str, secs: u64) -> (Value, Vec<String>) {
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
    let post = create_post(&s, json!({
        "kind": "text",
        "text": "Launch day 🚀 read more",
        "options": {"reply_control": "mentioned_only", "link_attachment": "https://example.com/launch"},
    }))
    .await;
    publish_now(&s, &post).await;
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
    let post = create_post(
        &s,
        json!({"kind": "text", "text": "One step", "options": {"auto_publish_text": "true"}}),
    )
    .await;
    publish_now(&s, &post).await;
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
    let image = upload(
        &s,
        jpeg(640, 480),
        "cover.jpg",
        "image/jpeg",
        Some("A test card"),
    )
    .await;
    let picture = upload(&s, png(320, 320), "square.png", "image/png", None).await;
    let video = upload(&s, mp4(), "clip.mp4", "video/mp4", None).await;

    let post = create_post(
        &s,
        json!({"kind": "image", "text": "An image", "media": [image]}),
    )
    .await;
    publish_now(&s, &post).await;
    assert_eq!(published(&s, &post, 30).await.0["status"], "published");
    let post = create_post(
        &s,
        json!({"kind": "video", "text": "A video", "media": [video]}),
    )
    .await;
    publish_now(&s, &post).await;
    assert_eq!(published(&s, &post, 30).await.0["status"], "published");
    let post = create_post(
        &s,
        json!({"kind": "carousel", "text": "Three", "media": [image, picture, video]}),
    )
    .await;
    publish_now(&s, &post).await;
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
    let image = upload(&s, jpeg(400, 300), "a.jpg", "image/jpeg", None).await;
    let post = create_post(
        &s,
        json!({
            "kind": "thread",
            "text": "1/3 A thread",
            "options": {"reply_control": "followers_only"},
            "thread": [{"text": "2/3 with a picture", "media": [image]}, {"text": "3/3 the end"}],
        }),
    )
    .await;
    publish_now(&s, &post).await;
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
    let video = upload(&s, mp4(), "clip.mp4", "video/mp4", None).await;
    let post = create_post(
        &s,
        json!({"kind": "video", "text": "Processing", "media": [video]}),
    )
    .await;
    publish_now(&s, &post).await;
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
    let post = create_post(&s, json!({"kind": "text", "text": "After a refresh"})).await;
    publish_now(&s, &post).await;
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
    let post = create_post(&s, json!({"kind": "text", "text": "Throttled"})).await;
    publish_now(&s, &post).await;
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
    let first = create_post(&s, json!({"kind": "text", "text": "The only one today"})).await;
    publish_now(&s, &first).await;
    assert_eq!(published(&s, &first, 30).await.0["status"], "published");
    let before = s.sim.requests().len();
    let second = create_post(&s, json!({"kind": "text", "text": "One too many"})).await;
    publish_now(&s, &second).await;
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
    let image = upload(&s, jpeg(100, 100), "a.jpg", "image/jpeg", None).await;
    // 124 thumbs-up emoji count 496; with "hello" 501: one over, though only 129 characters.
    let text = format!("{}hello", "👍".repeat(124));
    let post = create_post(
        &s,
        json!({
            "kind": "carousel",
            "text": text,
            "media": [image],
            "options": {"reply_control": "friends"},
        }),
    )
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
