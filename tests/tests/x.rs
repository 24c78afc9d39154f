//! X end to end: the real server's HTTP API → publish job → the `x` plugin → the X
//! simulator, for every post type (text, images with alt text, GIF, video with processing,
//! thread), both authorizations (OAuth 2.0 with PKCE, OAuth 1.0a), and the failures that
//! matter: an expired token refreshed with rotation, a 429 deferred until X's reset, text
//! over the weighted limit refused by validate, and an interrupted chunked upload resumed
//! from the first unacknowledged segment.

use plugboard_e2e::api::{client, send};
use plugboard_e2e::platform::{self, Studio, ffmpeg, png};
use plugboard_e2e::test_server;
use plugboard_simulators::x::{XFault, XFaultAction};
use plugboard_simulators::{XConfig, XSim};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Segment size the app asks the plugin for, so small test files take several APPENDs.
const CHUNK: usize = 2048;

struct Ctx {
    studio: Studio,
    sim: XSim,
    account: String,
}

impl std::ops::Deref for Ctx {
    type Target = Studio;
    fn deref(&self) -> &Studio {
        &self.studio
    }
}

/// A server with the `x` plugin, an X simulator, and an account connected through the
/// API: OAuth 2.0 with PKCE, or OAuth 1.0a when `oauth1`.
async fn studio(oauth1: bool) -> Ctx {
    let server = test_server().await;
    platform::install(&server, "x").await;
    let sim = XSim::start(XConfig::default()).await.unwrap();
    let studio = Studio::open(server, "creator@example.com", "X studio").await;
    let c = sim.config();
    let mut settings = json!({
        "api_url": sim.base_url(),
        "web_url": sim.base_url(),
        "media_chunk_bytes": CHUNK.to_string(),
    });
    if oauth1 {
        settings["consumer_key"] = c.consumer_key.clone().into();
        settings["consumer_secret"] = c.consumer_secret.clone().into();
    } else {
        settings["client_id"] = c.client_id.clone().into();
        settings["client_secret"] = c.client_secret.clone().into();
    }
    let app = studio.create_app("x", "Our X app", settings).await;
    studio.connect_oauth("x", &app["id"]).await;
    let accounts = studio.accounts().await;
    let account = accounts["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["plugin"] == "x"))
        .unwrap_or_else(|| panic!("no X account: {accounts}"))
        .clone();
    assert_eq!(account["username"], c.username.as_str(), "{account}");
    Ctx {
        studio,
        sim,
        account: account["id"].as_str().unwrap().to_string(),
    }
}

impl Ctx {
    /// Creates a post targeting the account; returns its id.
    async fn post(&self, mut body: Value) -> String {
        body["targets"] = json!([self.account]);
        self.studio.post(&body).await
    }

    async fn wait(&self, post: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        self.studio
            .wait(post, secs, done, || format!("{:#?}", self.sim.sequence()))
            .await
            .0
    }

    async fn published(&self, post: &str) -> Value {
        let target = self.wait(post, 60, |t| t["status"] == "published").await;
        assert!(target["last_error"].is_null() || target["status"] == "published");
        target
    }

    /// The simulator's request sequence from index `from` on.
    fn sequence_from(&self, from: usize) -> Vec<String> {
        self.sim.sequence()[from..].to_vec()
    }
}

/// A one-second 320×240 H.264 video (a few kilobytes: several segments of [`CHUNK`]).
fn mp4() -> Vec<u8> {
    ffmpeg(
        "clip.mp4",
        &[
            "-i",
            "testsrc=duration=1:size=320x240:rate=30",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
        ],
    )
}

fn gif() -> Vec<u8> {
    ffmpeg("loop.gif", &["-i", "testsrc=duration=1:size=64x64:rate=5"])
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const CONNECT_OAUTH2: &[&str] = &[
    "GET /i/oauth2/authorize",
    "POST /2/oauth2/token",
    "GET /2/users/me",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_post_publishes_through_oauth2() {
    let s = studio(false).await;
    assert_eq!(s.sim.sequence(), strs(CONNECT_OAUTH2));
    let post = s
        .post(json!({"kind": "text", "text": "Hello X 日本 https://example.com/a/very/long/link", "options": {"reply_settings": "following"}}))
        .await;
    s.publish_now(&post).await;
    let target = s.published(&post).await;
    assert_eq!(s.sequence_from(3), strs(&["POST /2/tweets"]));
    let tweets = s.sim.tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(
        tweets[0].text,
        "Hello X 日本 https://example.com/a/very/long/link"
    );
    assert_eq!(tweets[0].reply_settings.as_deref(), Some("following"));
    assert_eq!(target["remote_id"].as_str(), Some(tweets[0].id.as_str()));
    let bearer = s.sim.requests().last().unwrap().auth_scheme.clone();
    assert_eq!(bearer.as_deref(), Some("Bearer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth1_connects_and_signs_every_request() {
    let s = studio(true).await;
    assert_eq!(
        s.sim.sequence(),
        strs(&[
            "POST /oauth/request_token",
            "GET /oauth/authorize",
            "POST /oauth/access_token",
            "GET /2/users/me"
        ])
    );
    let image = s
        .upload("photo.png", "image/png", png(64, 48), Some("A gradient"))
        .await;
    let post = s
        .post(json!({"kind": "image", "text": "Signed with OAuth 1.0a", "media": [image]}))
        .await;
    s.publish_now(&post).await;
    s.published(&post).await;
    assert_eq!(
        s.sequence_from(4),
        strs(&[
            "POST /2/media/upload",
            "POST /2/media/metadata",
            "POST /2/tweets"
        ])
    );
    let requests = s.sim.requests();
    assert!(
        requests[4..].iter().all(|r| r.auth_scheme.as_deref() == Some("OAuth") && r.status.is_some_and(|s| s < 300)),
        "{requests:#?}"
    );
    let tweet = &s.sim.tweets()[0];
    assert_eq!(tweet.alt_texts, vec![Some("A gradient".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_gif_and_video_publish_with_their_upload_protocols() {
    let s = studio(false).await;
    let a = s
        .upload("a.png", "image/png", png(80, 60), Some("First"))
        .await;
    let b = s.upload("b.png", "image/png", png(60, 80), None).await;
    let post = s
        .post(json!({"kind": "image", "text": "Two images", "media": [a, b]}))
        .await;
    s.publish_now(&post).await;
    s.published(&post).await;
    assert_eq!(
        s.sequence_from(3),
        strs(&[
            "POST /2/media/upload",
            "POST /2/media/metadata",
            "POST /2/media/upload",
            "POST /2/tweets"
        ])
    );
    assert_eq!(s.sim.tweets()[0].media_ids.len(), 2);

    let gif_bytes = gif();
    let segments = gif_bytes.len().div_ceil(CHUNK);
    let g = s
        .upload("loop.gif", "image/gif", gif_bytes, Some("A loop"))
        .await;
    let post = s
        .post(json!({"kind": "gif", "text": "A GIF", "media": [g]}))
        .await;
    let from = s.sim.sequence().len();
    s.publish_now(&post).await;
    s.published(&post).await;
    let mut expected = vec!["POST /2/media/upload/initialize".to_string()];
    expected.extend(std::iter::repeat_n(
        "POST /2/media/upload/{id}/append".to_string(),
        segments,
    ));
    expected.push("POST /2/media/upload/{id}/finalize".into());
    expected.push("POST /2/media/metadata".into());
    let seen = s.sequence_from(from);
    assert_eq!(seen[..expected.len()], expected[..], "{seen:#?}");
    // Processing: STATUS polls until succeeded, then the post.
    assert!(
        seen[expected.len()..seen.len() - 1]
            .iter()
            .all(|r| r == "GET /2/media/upload"),
        "{seen:#?}"
    );
    assert!(seen.len() > expected.len() + 1, "no STATUS poll: {seen:#?}");
    assert_eq!(seen.last().unwrap(), "POST /2/tweets");
    let tweet = s.sim.tweets().last().unwrap().clone();
    let media = s.sim.media(&tweet.media_ids[0]).unwrap();
    assert_eq!(media.media_type, "image/gif");
    assert_eq!(media.segments.len(), segments);

    let v = s.upload("clip.mp4", "video/mp4", mp4(), None).await;
    let post = s
        .post(json!({"kind": "video", "text": "A video", "media": [v]}))
        .await;
    let from = s.sim.sequence().len();
    s.publish_now(&post).await;
    // Pending while X processes, then published.
    s.wait(&post, 30, |t| {
        t["status"] == "pending" || t["status"] == "published"
    })
    .await;
    s.published(&post).await;
    let seen = s.sequence_from(from);
    assert_eq!(seen[0], "POST /2/media/upload/initialize");
    assert!(seen.contains(&"POST /2/media/upload/{id}/finalize".to_string()));
    assert!(
        seen.contains(&"GET /2/media/upload".to_string()),
        "{seen:#?}"
    );
    assert_eq!(seen.last().unwrap(), "POST /2/tweets");
    let init = s
        .sim
        .requests()
        .into_iter()
        .find(|r| {
            r.path == "/2/media/upload/initialize"
                && r.body.as_deref().is_some_and(|b| b.contains("video/mp4"))
        })
        .unwrap();
    assert!(
        init.body
            .unwrap()
            .contains("\"media_category\":\"tweet_video\"")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_posts_as_a_reply_chain() {
    let s = studio(false).await;
    let image = s.upload("a.png", "image/png", png(40, 40), None).await;
    let post = s
        .post(json!({"kind": "thread", "text": "1/3 A thread", "thread": [
            {"text": "2/3 with an image", "media": [image]},
            {"text": "3/3 the end"},
        ]}))
        .await;
    s.publish_now(&post).await;
    let target = s.published(&post).await;
    // Media of every item is uploaded first, then the items post in order.
    assert_eq!(
        s.sequence_from(3),
        strs(&[
            "POST /2/media/upload",
            "POST /2/tweets",
            "POST /2/tweets",
            "POST /2/tweets"
        ])
    );
    let tweets = s.sim.tweets();
    assert_eq!(tweets.len(), 3);
    assert_eq!(tweets[0].in_reply_to, None);
    assert_eq!(
        tweets[1].in_reply_to.as_deref(),
        Some(tweets[0].id.as_str())
    );
    assert_eq!(
        tweets[2].in_reply_to.as_deref(),
        Some(tweets[1].id.as_str())
    );
    assert_eq!(tweets[1].media_ids.len(), 1);
    assert_eq!(target["remote_id"].as_str(), Some(tweets[0].id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_and_the_rotated_pair_replaces_the_old() {
    let s = studio(false).await;
    for round in 0..2 {
        s.sim
            .inject(XFault::new("POST", "/2/tweets", XFaultAction::ExpireToken));
        let from = s.sim.sequence().len();
        let post = s
            .post(json!({"kind": "text", "text": format!("After expiry, round {round}")}))
            .await;
        s.publish_now(&post).await;
        s.published(&post).await;
        assert_eq!(
            s.sequence_from(from),
            strs(&["POST /2/tweets", "POST /2/oauth2/token", "POST /2/tweets"])
        );
        let statuses: Vec<Option<u16>> =
            s.sim.requests()[from..].iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![Some(401), Some(200), Some(201)]);
    }
    // The second refresh only worked with the refresh token the first one returned (the
    // simulator spends a refresh token when it is used).
    let refreshes: Vec<String> = s
        .sim
        .requests()
        .iter()
        .filter(|r| r.path == "/2/oauth2/token")
        .filter_map(|r| r.body.clone())
        .filter(|b| b.contains("grant_type=refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 2);
    assert_ne!(refreshes[0], refreshes[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_defers_until_the_rate_limit_reset() {
    let s = studio(false).await;
    s.sim.inject(XFault::new(
        "POST",
        "/2/tweets",
        XFaultAction::RateLimited {
            reset_after_secs: 3,
        },
    ));
    let started = Instant::now();
    let post = s
        .post(json!({"kind": "text", "text": "Rate limited, then fine"}))
        .await;
    s.publish_now(&post).await;
    let waiting = s
        .wait(&post, 30, |t| {
            t["status"] == "queued" && !t["deferred_reason"].is_null()
        })
        .await;
    let reason = waiting["deferred_reason"].as_str().unwrap();
    assert!(
        reason.contains("rate limit") && reason.contains("trying again in"),
        "{waiting}"
    );
    // The wait comes from x-rate-limit-reset (3 s ahead, rounded by the clock).
    assert!(
        reason.contains(" 2 s") || reason.contains(" 3 s") || reason.contains(" 1 s"),
        "{reason}"
    );
    s.published(&post).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    let statuses: Vec<Option<u16>> = s
        .sim
        .requests()
        .iter()
        .filter(|r| r.path == "/2/tweets")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![Some(429), Some(201)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_refuses_what_x_would_with_precise_messages() {
    let s = studio(false).await;
    // 141 CJK characters weigh 282; a URL weighs 23 whatever its length.
    let cjk = "日".repeat(141);
    let post = s.post(json!({"kind": "text", "text": cjk})).await;
    let (status, report) = send(
        client()
            .post(s.url(&format!("/posts/{post}/validate")))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false, "{report}");
    let problem = &report["targets"][0]["problems"][0];
    assert_eq!(problem["code"], "text-too-long", "{report}");
    assert_eq!(problem["field"], "text", "{report}");
    let message = problem["message"].as_str().unwrap();
    assert!(
        message.contains("280") && message.contains("282"),
        "{message}"
    );

    let fits = format!(
        "{} https://example.com/{}",
        "a".repeat(256),
        "b".repeat(300)
    );
    let post = s.post(json!({"kind": "text", "text": fits})).await;
    let (_, report) = send(
        client()
            .post(s.url(&format!("/posts/{post}/validate")))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(report["valid"], true, "{report}");

    let image = s.upload("a.png", "image/png", png(20, 20), None).await;
    let gif = s.upload("loop.gif", "image/gif", gif(), None).await;
    let post = s
        .post(json!({"kind": "thread", "text": "mixed", "media": [image, gif], "options": {"reply_settings": "everyone"}}))
        .await;
    let (_, report) = send(
        client()
            .post(s.url(&format!("/posts/{post}/validate")))
            .bearer_auth(&s.token),
    )
    .await;
    let codes: Vec<&str> = report["targets"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"media-mix") && codes.contains(&"invalid-option"),
        "{report}"
    );
    // Nothing reached X.
    assert_eq!(s.sim.sequence(), strs(CONNECT_OAUTH2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_chunked_upload_resumes_at_the_next_unacknowledged_segment() {
    let s = studio(false).await;
    let bytes = mp4();
    let segments = bytes.len().div_ceil(CHUNK);
    assert!(
        segments >= 3,
        "the test video is too small: {} bytes",
        bytes.len()
    );
    // The third APPEND fails: segments 0 and 1 were acknowledged.
    s.sim.inject(
        XFault::new(
            "POST",
            "/2/media/upload/*/append",
            XFaultAction::ServerError {
                status: 503,
                body: r#"{"title":"Service Unavailable","type":"about:blank","status":503,"detail":"Service Unavailable"}"#.into(),
            },
        )
        .skip(2),
    );
    let v = s.upload("clip.mp4", "video/mp4", bytes, None).await;
    let post = s
        .post(json!({"kind": "video", "text": "Resumed upload", "media": [v]}))
        .await;
    s.publish_now(&post).await;
    s.published(&post).await;
    let appends: Vec<(String, Option<u16>)> = s
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/append"))
        .map(|r| {
            let index = r
                .parts
                .iter()
                .find(|p| p.name == "segment_index")
                .and_then(|p| p.value.clone())
                .unwrap();
            (index, r.status)
        })
        .collect();
    let mut expected = vec![
        ("0".to_string(), Some(200)),
        ("1".into(), Some(200)),
        ("2".into(), Some(503)),
    ];
    expected.extend((2..segments).map(|i| (i.to_string(), Some(200))));
    assert_eq!(appends, expected);
    // One upload session: the retry continued it instead of starting over.
    let inits = s
        .sim
        .sequence()
        .iter()
        .filter(|r| r.ends_with("/initialize"))
        .count();
    assert_eq!(inits, 1);
    assert_eq!(s.sim.tweets().len(), 1);
}
