//! YouTube end to end: the real server's HTTP API → jobs → the `youtube` plugin → the
//! YouTube simulator: a video and a Short through the resumable upload (pending while
//! processing, then published), a broken transfer resumed from the acknowledged byte, an
//! expired token refreshed, the daily quota deferring to midnight Pacific, and metadata
//! over YouTube's limits refused by validate.

use plugboard_e2e::api::{client, send};
use plugboard_e2e::platform::{self, Studio};
use plugboard_e2e::test_server;
use plugboard_simulators::youtube::{YoutubeFault, YoutubeFaultAction, YoutubeRequest};
use plugboard_simulators::{YoutubeConfig, YoutubeSim};
use serde_json::{Value, json};

/// The plugin sends chunks of this size (the app setting `chunk_bytes`): 256 KiB.
const CHUNK: usize = 256 * 1024;

struct Ctx {
    studio: Studio,
    sim: YoutubeSim,
    channel: String,
}

impl std::ops::Deref for Ctx {
    type Target = Studio;
    fn deref(&self) -> &Studio {
        &self.studio
    }
}

impl Ctx {
    async fn upload_clip(&self, bytes: Vec<u8>) -> String {
        self.studio
            .upload("clip.mp4", "video/mp4", bytes, None)
            .await
    }

    /// Polls until the target satisfies `done` (for at most a minute), failing fast on a
    /// target that failed, is in doubt or paused; returns it and every status seen.
    async fn wait_for(&self, post_id: &str, done: impl Fn(&Value) -> bool) -> (Value, Vec<String>) {
        self.studio
            .wait(post_id, 60, platform::fail_fast(done), || {
                format!("{:?}", self.sequence(0))
            })
            .await
    }

    fn sequence(&self, since: usize) -> Vec<String> {
        self.sim.requests()[since..].iter().map(shape).collect()
    }
}

/// `METHOD path [Content-Range] → status`, session ids left out.
fn shape(r: &YoutubeRequest) -> String {
    let what = match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/upload/youtube/v3/videos") => {
            "POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status".to_string()
        }
        ("PUT", _) => format!("PUT session {}", r.content_range.as_deref().unwrap_or("-")),
        _ => format!("{} {}", r.method, r.path),
    };
    format!("{what} → {}", r.status.unwrap_or(0))
}

async fn setup(adjust: impl FnOnce(&mut YoutubeConfig)) -> Ctx {
    let server = test_server().await;
    platform::install(&server, "youtube").await;
    let mut config = YoutubeConfig {
        redirect_uris: vec![format!("{}/api/v1/accounts/callback", server.base)],
        processing_ms: 1500,
        ..YoutubeConfig::default()
    };
    adjust(&mut config);
    let sim = YoutubeSim::start(config.clone()).await.unwrap();
    let studio = Studio::open(server, "owner@example.com", "Studio").await;
    let base = sim.base_url();
    let app = studio
        .create_app(
            "youtube",
            "Our Google project",
            json!({"client_id": config.client_id, "client_secret": config.client_secret, "oauth_url": base, "token_url": base, "api_url": base, "chunk_bytes": CHUNK.to_string()}),
        )
        .await;
    let connection = studio.connect_oauth("youtube", &app["id"]).await;
    let authorize_url = &connection.authorize_url;
    assert!(
        authorize_url.contains("code_challenge_method=S256")
            && authorize_url.contains("access_type=offline"),
        "{authorize_url}"
    );
    let accounts = studio.accounts().await;
    let channel = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["plugin"] == "youtube")
        .unwrap_or_else(|| panic!("{accounts}"))
        .clone();
    assert_eq!(channel["kind"], "channel");
    assert_eq!(channel["display_name"], "Plugboard Test Channel");
    Ctx {
        channel: channel["id"].as_str().unwrap().to_string(),
        studio,
        sim,
    }
}

/// An H.264 MP4 from ffmpeg's test source, `w`×`h`, `secs` long, with noise so that it
/// is large enough to take several 256 KiB chunks.
fn mp4(w: u32, h: u32, secs: u32) -> Vec<u8> {
    platform::ffmpeg(
        "clip.mp4",
        &[
            "-i",
            &format!("testsrc=size={w}x{h}:rate=25"),
            "-t",
            &secs.to_string(),
            "-vf",
            "noise=alls=60:allf=t",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-b:v",
            "3M",
            "-movflags",
            "+faststart",
        ],
    )
}

fn chunk_ranges(total: usize) -> Vec<String> {
    (0..total.div_ceil(CHUNK))
        .map(|i| {
            format!(
                "PUT session bytes {}-{}/{total} → {}",
                i * CHUNK,
                ((i + 1) * CHUNK).min(total) - 1,
                if (i + 1) * CHUNK >= total { 201 } else { 308 }
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_and_short_upload_in_chunks_and_publish_after_processing() {
    let c = setup(|_| {}).await;
    let clip = mp4(640, 360, 3);
    assert!(clip.len() > 2 * CHUNK, "only {} bytes", clip.len());
    let media = c.upload_clip(clip.clone()).await;
    let start = c.sim.requests().len();
    let post = c.post(&json!({"kind": "video", "text": "A test pattern, explained", "media": [media], "targets": [c.channel],
        "variants": {"youtube": {"options": {"title": "Test pattern", "tags": "test, pattern, ffmpeg", "category_id": "28", "privacy_status": "unlisted", "made_for_kids": "false"}}}})).await;
    c.publish_now(&post).await;
    let (target, seen) = c.wait_for(&post, |t| t["status"] == "published").await;
    assert!(seen.iter().any(|s| s == "pending"), "{seen:?}");
    let got = c.sequence(start);
    let mut expected = vec![
        "POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status → 200".to_string(),
    ];
    expected.extend(chunk_ranges(clip.len()));
    assert_eq!(got[..expected.len()], expected[..], "{got:?}");
    assert!(
        got[expected.len()..]
            .iter()
            .all(|r| r == "GET /youtube/v3/videos → 200")
            && got.len() > expected.len(),
        "{got:?}"
    );
    let videos = c.sim.videos();
    assert_eq!(videos[0].metadata.title, "Test pattern");
    assert_eq!(videos[0].metadata.tags, vec!["test", "pattern", "ffmpeg"]);
    assert_eq!(videos[0].metadata.category_id, "28");
    assert_eq!(videos[0].metadata.privacy_status, "unlisted");
    assert_eq!(videos[0].metadata.made_for_kids, Some(false));
    assert_eq!(videos[0].size, clip.len() as u64);
    assert_eq!(target["remote_id"].as_str(), Some(videos[0].id.as_str()));

    // A vertical Short, scheduled privately for later publication by YouTube.
    let short = mp4(360, 640, 3);
    let media = c.upload_clip(short.clone()).await;
    let start = c.sim.requests().len();
    let post = c.post(&json!({"kind": "short", "text": "Vertical test #Shorts", "media": [media], "targets": [c.channel],
        "variants": {"youtube": {"options": {"privacy_status": "private", "publish_at": "2099-01-01T12:00:00Z"}}}})).await;
    c.publish_now(&post).await;
    let (target, _) = c.wait_for(&post, |t| t["status"] == "published").await;
    let got = c.sequence(start);
    assert_eq!(
        got[1..=chunk_ranges(short.len()).len()],
        chunk_ranges(short.len())[..],
        "{got:?}"
    );
    let videos = c.sim.videos();
    assert_eq!(videos[1].metadata.title, "Vertical test #Shorts");
    assert_eq!(
        videos[1].metadata.publish_at.as_deref(),
        Some("2099-01-01T12:00:00Z")
    );
    assert!(
        target["remote_url"]
            .as_str()
            .unwrap_or_default()
            .contains("/shorts/"),
        "{target}"
    );
    c.studio.server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_transfer_resumes_from_the_acknowledged_byte() {
    let c = setup(|_| {}).await;
    let clip = mp4(640, 360, 3);
    let total = clip.len();
    assert!(total > 3 * CHUNK, "only {total} bytes");
    let media = c.upload_clip(clip).await;
    // The second chunk's transfer breaks after 100,000 bytes; YouTube keeps only whole
    // 256 KiB units, so it acknowledges the first chunk alone.
    c.sim.inject(
        YoutubeFault::new(
            "PUT",
            "/upload/youtube/v3/videos",
            YoutubeFaultAction::InterruptUpload {
                keep_bytes: 100_000,
            },
        )
        .after(1),
    );
    let start = c.sim.requests().len();
    let post = c
        .post(
            &json!({"kind": "video", "text": "Resumed", "media": [media], "targets": [c.channel]}),
        )
        .await;
    c.publish_now(&post).await;
    c.wait_for(&post, |t| t["status"] == "published").await;
    let got = c.sequence(start);
    let chunks = chunk_ranges(total);
    let mut expected = vec![
        "POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status → 200".to_string(),
        chunks[0].clone(),
    ];
    expected.push(format!(
        "PUT session bytes {CHUNK}-{}/{total} → 503",
        2 * CHUNK - 1
    ));
    expected.push(format!("PUT session bytes */{total} → 308"));
    expected.extend(chunks[1..].iter().cloned());
    assert_eq!(got[..expected.len()], expected[..], "{got:?}");
    let query = &c.sim.requests()[start + 3];
    assert_eq!(
        query.range.as_deref(),
        Some(format!("bytes=0-{}", CHUNK - 1).as_str())
    );
    // Bytes on the wire: the whole file once plus the broken chunk; the acknowledged first
    // chunk was not sent again.
    let sent: usize = c.sim.requests()[start..]
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.body_len)
        .sum();
    assert_eq!(sent, total + CHUNK);
    c.studio.server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refreshed_and_the_upload_retried() {
    let c = setup(|_| {}).await;
    let media = c.upload_clip(mp4(320, 240, 1)).await;
    c.sim.expire_tokens();
    let start = c.sim.requests().len();
    let post = c.post(&json!({"kind": "video", "text": "After a refresh", "media": [media], "targets": [c.channel]})).await;
    c.publish_now(&post).await;
    c.wait_for(&post, |t| t["status"] == "published").await;
    let got = c.sequence(start);
    assert_eq!(
        got[..3],
        [
            "POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status → 401",
            "POST /token → 200",
            "POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status → 200"
        ],
        "{got:?}"
    );
    assert!(
        c.sim.requests()[start + 1]
            .body
            .as_deref()
            .unwrap()
            .contains("grant_type=refresh_token")
    );
    c.studio.server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_quota_defers_until_midnight_pacific() {
    let c = setup(|_| {}).await;
    let media = c.upload_clip(mp4(320, 240, 1)).await;
    c.sim.inject(YoutubeFault::new(
        "POST",
        "/upload/youtube/v3/videos",
        YoutubeFaultAction::QuotaExceeded,
    ));
    let post = c
        .post(&json!({"kind": "video", "text": "Quota", "media": [media], "targets": [c.channel]}))
        .await;
    c.publish_now(&post).await;
    let (target, _) = c
        .wait_for(&post, |t| {
            t["deferred_reason"].is_string() && t["status"] == "queued"
        })
        .await;
    let reason = target["deferred_reason"].as_str().unwrap();
    assert!(reason.contains("quotaExceeded"), "{reason}");
    let secs: i64 = reason
        .split("trying again in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{reason}"));
    // now + secs is midnight in Los Angeles (UTC−7 or UTC−8), within a few seconds.
    let now = chrono::Utc::now().timestamp();
    let at_midnight = [7, 8].iter().any(|h| {
        let local = (now + secs - h * 3600).rem_euclid(86_400);
        local <= 10 || local >= 86_390
    });
    assert!(at_midnight, "{reason}");
    assert!(c.sim.videos().is_empty());
    c.studio.server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_refuses_what_youtube_would() {
    let c = setup(|_| {}).await;
    let media = c.upload_clip(mp4(320, 240, 1)).await;
    let check = |post: String| {
        let c = &c;
        async move {
            let (status, report) = send(
                client()
                    .post(c.url(&format!("/posts/{post}/validate")))
                    .bearer_auth(&c.token),
            )
            .await;
            assert_eq!(status, 200, "{report}");
            assert_eq!(report["valid"], false, "{report}");
            report["targets"][0]["problems"].clone()
        }
    };
    let title = "t".repeat(101);
    let problems = check(c.post(&json!({"kind": "video", "text": "x", "media": [media], "targets": [c.channel], "variants": {"youtube": {"options": {"title": title}}}})).await).await;
    assert_eq!(problems[0]["code"], "title-too-long", "{problems}");
    assert_eq!(
        problems[0]["message"],
        "YouTube titles take up to 100 characters; this one has 101 (1 too many)"
    );
    let problems = check(c.post(&json!({"kind": "video", "text": "ü".repeat(2501), "media": [media], "targets": [c.channel], "variants": {"youtube": {"options": {"title": "ok"}}}})).await).await;
    assert_eq!(problems[0]["code"], "text-too-long", "{problems}");
    let problems = check(c.post(&json!({"kind": "video", "text": "Later", "media": [media], "targets": [c.channel], "variants": {"youtube": {"options": {"publish_at": "2099-01-01T12:00:00Z"}}}})).await).await;
    assert_eq!(
        problems[0]["code"], "publish-at-needs-private",
        "{problems}"
    );
    // A landscape clip is not a Short.
    let problems = check(
        c.post(&json!({"kind": "short", "text": "Wide", "media": [media], "targets": [c.channel]}))
            .await,
    )
    .await;
    assert!(!problems.as_array().unwrap().is_empty(), "{problems}");
    assert!(
        c.sim
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/upload/"))
    );
    c.studio.server.running.stop().await;
}
