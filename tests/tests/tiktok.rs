//! TikTok end to end: the real server's HTTP API → publish job → the `tiktok` plugin →
//! the TikTok simulator, for direct video by FILE_UPLOAD and by PULL_FROM_URL (the
//! simulator fetches the host's signed URL), photo posts, inbox drafts; plus an expired
//! token refreshed, a 429 deferred, the unaudited-app limit refused by validate, and an
//! interrupted chunk upload resumed without re-sending acknowledged chunks.

use plugboard_e2e::api::{client, hmac_sha256_hex, send};
use plugboard_e2e::platform::{self, Studio, jpeg};
use plugboard_e2e::test_server;
use plugboard_simulators::tiktok::{TikTokFault, TikTokFaultAction};
use plugboard_simulators::{TikTokConfig, TikTokSim};
use serde_json::{Value, json};

/// Chunk sizes the test app and simulator use instead of TikTok's 5 MB minimum.
const MIN_CHUNK: u64 = 2048;
const CHUNK: u64 = 2048;

struct Ctx {
    studio: Studio,
    sim: TikTokSim,
    account: String,
    /// The workspace's TikTok app (its webhooks arrive at `/webhooks/tiktok/{app}`).
    app: String,
}

impl std::ops::Deref for Ctx {
    type Target = Studio;
    fn deref(&self) -> &Studio {
        &self.studio
    }
}

async fn studio(audited: bool) -> Ctx {
    let server = test_server().await;
    platform::install(&server, "tiktok").await;
    let sim = TikTokSim::start(TikTokConfig {
        audited,
        min_chunk_bytes: MIN_CHUNK,
        processing_ms: 300,
        ..TikTokConfig::default()
    })
    .await
    .unwrap();
    let studio = Studio::open(server, "creator@example.com", "TikTok studio").await;
    let c = sim.config();
    let settings = json!({
        "client_key": c.client_key, "client_secret": c.client_secret,
        "api_url": sim.base_url(), "auth_url": sim.base_url(),
        "min_chunk_bytes": MIN_CHUNK.to_string(), "upload_chunk_bytes": CHUNK.to_string(),
    });
    let app = studio
        .create_app("tiktok", "Our TikTok app", settings)
        .await;
    studio.connect_oauth("tiktok", &app["id"]).await;
    let accounts = studio.accounts().await;
    let account = accounts["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["plugin"] == "tiktok"))
        .unwrap_or_else(|| panic!("no TikTok account: {accounts}"))
        .clone();
    Ctx {
        studio,
        sim,
        account: account["id"].as_str().unwrap().to_string(),
        app: app["id"].as_str().unwrap().to_string(),
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
        self.wait(post, 60, |t| t["status"] == "published").await
    }

    fn sequence_from(&self, from: usize) -> Vec<String> {
        let seq = self.sim.sequence()[from..].to_vec();
        // Status polls repeat as long as TikTok processes: collapse runs of them.
        let mut out: Vec<String> = Vec::new();
        for s in seq {
            if out.last() != Some(&s) || !s.ends_with("/status/fetch/") {
                out.push(s);
            }
        }
        out
    }
}

/// A one-second 360×640 H.264 video from ffmpeg's test source.
fn mp4() -> Vec<u8> {
    platform::mp4(360, 640, 1)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const CREATOR: &str = "POST /v2/post/publish/creator_info/query/";
const VIDEO_INIT: &str = "POST /v2/post/publish/video/init/";
const STATUS: &str = "POST /v2/post/publish/status/fetch/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_by_file_upload_publishes_in_chunks() {
    let s = studio(true).await;
    assert_eq!(
        s.sim.sequence(),
        strs(&["GET /v2/auth/authorize/", "POST /v2/oauth/token/", CREATOR])
    );
    let bytes = mp4();
    let size = bytes.len() as u64;
    let chunks = size / CHUNK;
    let v = s.upload("clip.mp4", "video/mp4", bytes, None).await;
    let post = s
        .post(json!({"kind": "video", "text": "A TikTok #test", "media": [v], "options": {"privacy_level": "PUBLIC_TO_EVERYONE", "disable_duet": "true"}}))
        .await;
    s.publish_now(&post).await;
    let target = s.published(&post).await;
    let mut expected = strs(&[CREATOR, VIDEO_INIT]);
    expected.extend((0..chunks).map(|_| "PUT /upload/".to_string()));
    expected.push(STATUS.into());
    assert_eq!(s.sequence_from(3), expected);
    let publish = &s.sim.publishes()[0];
    assert_eq!(publish.total_chunk_count, chunks);
    assert_eq!(publish.uploaded_bytes, size);
    assert_eq!(publish.chunks.last().unwrap().1, size - 1);
    assert_eq!(target["remote_id"].as_str(), publish.post_id.as_deref());
    let init = s
        .sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/video/init/"))
        .unwrap();
    let body: Value = serde_json::from_str(&init.body.unwrap()).unwrap();
    assert_eq!(body["post_info"]["disable_duet"], true);
    assert_eq!(body["source_info"]["chunk_size"], CHUNK);
    let ranges: Vec<String> = s
        .sim
        .requests()
        .iter()
        .filter_map(|r| r.content_range.clone())
        .collect();
    assert_eq!(ranges[0], format!("bytes 0-{}/{size}", CHUNK - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_from_url_photo_and_inbox_draft_publish() {
    let s = studio(true).await;
    let bytes = mp4();
    let size = bytes.len() as u64;
    let v = s.upload("clip.mp4", "video/mp4", bytes, None).await;
    let post = s
        .post(json!({"kind": "video", "text": "Pulled", "media": [v], "options": {"privacy_level": "SELF_ONLY", "source": "PULL_FROM_URL"}}))
        .await;
    s.publish_now(&post).await;
    s.published(&post).await;
    assert_eq!(s.sequence_from(3), strs(&[CREATOR, VIDEO_INIT, STATUS]));
    // The simulator fetched the host's signed URL and got the whole file.
    assert_eq!(s.sim.publishes()[0].pulled, vec![size]);

    let a = s.upload("a.jpg", "image/jpeg", jpeg(400, 300), None).await;
    let b = s.upload("b.jpg", "image/jpeg", jpeg(300, 400), None).await;
    let post = s
        .post(json!({"kind": "photo", "text": "Two photos", "media": [a, b], "options": {"privacy_level": "FOLLOWER_OF_CREATOR"}}))
        .await;
    let from = s.sim.sequence().len();
    s.publish_now(&post).await;
    s.published(&post).await;
    assert_eq!(
        s.sequence_from(from),
        strs(&[CREATOR, "POST /v2/post/publish/content/init/", STATUS])
    );
    assert_eq!(s.sim.publishes()[1].pulled.len(), 2);

    let v = s.upload("clip.mp4", "video/mp4", mp4(), None).await;
    let post = s
        .post(json!({"kind": "draft", "text": "", "media": [v]}))
        .await;
    let from = s.sim.sequence().len();
    s.publish_now(&post).await;
    s.published(&post).await;
    let seen = s.sequence_from(from);
    assert_eq!(
        seen[..2],
        strs(&[CREATOR, "POST /v2/post/publish/inbox/video/init/"])[..]
    );
    assert_eq!(seen.last().unwrap(), STATUS);
    assert_eq!(s.sim.publishes()[2].route, "inbox_video");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_and_publish_retried() {
    let s = studio(true).await;
    s.sim.inject(TikTokFault::new(
        "POST",
        "/v2/post/publish/creator_info/query/",
        TikTokFaultAction::ExpireToken,
    ));
    let v = s.upload("clip.mp4", "video/mp4", mp4(), None).await;
    let post = s
        .post(json!({"kind": "video", "text": "After refresh", "media": [v], "options": {"privacy_level": "SELF_ONLY", "source": "PULL_FROM_URL"}}))
        .await;
    s.publish_now(&post).await;
    s.published(&post).await;
    assert_eq!(
        s.sequence_from(3),
        strs(&[
            CREATOR,
            "POST /v2/oauth/token/",
            CREATOR,
            VIDEO_INIT,
            STATUS
        ])
    );
    let refresh = s.sim.requests()[4].body.clone().unwrap();
    assert!(refresh.contains("grant_type=refresh_token"), "{refresh}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_defers_with_the_wait() {
    let s = studio(true).await;
    s.sim.inject(TikTokFault::new(
        "POST",
        "/v2/post/publish/video/init/",
        TikTokFaultAction::RateLimited {
            reset_after_secs: 2,
        },
    ));
    let v = s.upload("clip.mp4", "video/mp4", mp4(), None).await;
    let post = s
        .post(json!({"kind": "video", "text": "Later", "media": [v], "options": {"privacy_level": "SELF_ONLY", "source": "PULL_FROM_URL"}}))
        .await;
    s.publish_now(&post).await;
    let waiting = s
        .wait(&post, 30, |t| {
            t["status"] == "queued" && !t["deferred_reason"].is_null()
        })
        .await;
    let reason = waiting["deferred_reason"].as_str().unwrap();
    assert!(
        reason.contains("trying again in 2 s") && reason.contains("rate_limit_exceeded"),
        "{reason}"
    );
    s.published(&post).await;
    let inits: Vec<Option<u16>> = s
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/video/init/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(inits, vec![Some(429), Some(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_explains_the_unaudited_app_limit_and_title_length() {
    let s = studio(false).await;
    let v = s.upload("clip.mp4", "video/mp4", mp4(), None).await;
    let post = s
        .post(json!({"kind": "video", "text": "x".repeat(2201), "media": [v], "options": {"privacy_level": "PUBLIC_TO_EVERYONE"}}))
        .await;
    let (status, report) = send(
        client()
            .post(s.url(&format!("/posts/{post}/validate")))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false);
    let problems = report["targets"][0]["problems"].as_array().unwrap();
    let codes: Vec<&str> = problems
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"text-too-long") && codes.contains(&"unaudited-app"),
        "{report}"
    );
    let unaudited = problems
        .iter()
        .find(|p| p["code"] == "unaudited-app")
        .unwrap();
    assert!(unaudited["message"].as_str().unwrap().contains("SELF_ONLY"));
    // Validation made no call beyond the connection.
    assert_eq!(s.sim.sequence().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_chunk_upload_resumes_at_the_next_chunk() {
    let s = studio(true).await;
    let bytes = mp4();
    let chunks = bytes.len() as u64 / CHUNK;
    assert!(
        chunks >= 3,
        "the test video is too small: {} bytes",
        bytes.len()
    );
    s.sim.inject(
        TikTokFault::new(
            "PUT",
            "/upload/",
            TikTokFaultAction::ServerError {
                status: 503,
                body: "upstream unavailable".into(),
            },
        )
        .skip(1),
    );
    let v = s.upload("clip.mp4", "video/mp4", bytes, None).await;
    let post = s
        .post(json!({"kind": "video", "text": "Resumed", "media": [v], "options": {"privacy_level": "SELF_ONLY"}}))
        .await;
    s.publish_now(&post).await;
    s.published(&post).await;
    let puts: Vec<(String, Option<u16>)> = s
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| (r.content_range.clone().unwrap(), r.status))
        .collect();
    assert_eq!(puts[0].1, Some(206));
    assert_eq!(puts[1].1, Some(503));
    // The retry starts with the chunk that failed, never chunk 0 again.
    assert_eq!(puts[2].0, puts[1].0);
    assert_eq!(puts.len() as u64, chunks + 1);
    assert_eq!(s.sim.publishes().len(), 1, "one publish, continued");
}

/// TikTok's signed webhook (`Tiktok-Signature: t=…,s=…`, HMAC-SHA256 of `t.body` with the
/// client secret) reports a post's final state: a pending target becomes published. A
/// forged signature is refused and changes nothing; a replayed delivery is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_publish_webhook_completes_a_pending_post() {
    let s = studio(true).await;
    // TikTok's status endpoint answers slowly: the webhook is what reports the outcome.
    s.sim.inject(TikTokFault::new(
        "POST",
        "/v2/post/publish/status/fetch/",
        TikTokFaultAction::Delay { ms: 20_000 },
    ));
    let v = s.upload("clip.mp4", "video/mp4", mp4(), None).await;
    let post = s
        .post(json!({"kind": "video", "text": "Reported by webhook", "media": [v], "options": {"privacy_level": "SELF_ONLY", "source": "PULL_FROM_URL"}}))
        .await;
    s.publish_now(&post).await;
    s.wait(&post, 30, |t| t["status"] == "pending").await;
    let publish_id = s.sim.publishes()[0].publish_id.clone();
    let body = json!({
        "client_key": s.sim.config().client_key,
        "event": "post.publish.complete",
        "create_time": 1_700_000_000,
        "user_openid": account_remote_id(&s).await,
        "content": json!({"publish_id": publish_id, "publish_type": "DIRECT_PUBLISH"}).to_string(),
    })
    .to_string();
    let url = format!("{}/webhooks/tiktok/{}", s.server.base, s.app);
    let deliver = |signature: String| {
        client()
            .post(&url)
            .header("content-type", "application/json")
            .header("Tiktok-Signature", signature)
            .body(body.clone())
    };
    let t = "1700000000";
    let good = hmac_sha256_hex(
        s.sim.config().client_secret.as_bytes(),
        format!("{t}.{body}").as_bytes(),
    );

    let forged = deliver(format!("t={t},s={}", "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let (_, view) = send(
        client()
            .get(s.url(&format!("/posts/{post}")))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(view["targets"][0]["status"], "pending", "{view}");

    let accepted = deliver(format!("t={t},s={good}")).send().await.unwrap();
    assert_eq!(accepted.status(), 200);
    let done = s.wait(&post, 10, |t| t["status"] == "published").await;
    assert_eq!(done["remote_id"], publish_id.as_str(), "{done}");

    let replay = deliver(format!("t={t},s={good}")).send().await.unwrap();
    assert_eq!(
        replay.status(),
        200,
        "a replay is acknowledged, not re-applied"
    );
    let again = s.wait(&post, 10, |t| t["status"] == "published").await;
    assert_eq!(again["published_at"], done["published_at"]);
}

async fn account_remote_id(s: &Ctx) -> String {
    let (_, account) = send(
        client()
            .get(s.url(&format!("/accounts/{}", s.account)))
            .bearer_auth(&s.token),
    )
    .await;
    account["remote_id"].as_str().unwrap().to_string()
}
