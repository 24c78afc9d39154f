//! `auto_fit_media` end to end: a 16:9 master posted as a YouTube Short. Without the
//! option validation names the aspect ratio precisely; with it validation notes that the
//! master will be fitted, and publishing (HTTP API → publish job → media job → plugin →
//! simulator) defers the target with the rendition's reason, then publishes the rendition,
//! which ffprobe shows fits and the simulator's record shows by its byte size.

use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard_e2e::api::{client, create_workspace, send, signup};
use plugboard_e2e::{TestServer, plugin, server_binary, test_server};
use plugboard_simulators::{YoutubeConfig, YoutubeSim};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

struct Ctx {
    server: TestServer,
    token: String,
    ws: String,
}

impl Ctx {
    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/workspaces/{}{rest}", self.server.base, self.ws)
    }

    async fn get(&self, rest: &str) -> Value {
        let (status, body) = send(client().get(self.url(rest)).bearer_auth(&self.token)).await;
        assert_eq!(status, 200, "GET {rest}: {body}");
        body
    }

    async fn post(&self, rest: &str, body: Value) -> (u16, Value) {
        send(
            client()
                .post(self.url(rest))
                .bearer_auth(&self.token)
                .json(&body),
        )
        .await
    }

    async fn patch_post(&self, id: &str, version: &Value, body: Value) -> Value {
        let (status, edited) = send(
            client()
                .patch(self.url(&format!("/posts/{id}")))
                .bearer_auth(&self.token)
                .header("If-Match", format!("\"{version}\""))
                .json(&body),
        )
        .await;
        assert_eq!(status, 200, "{edited}");
        edited
    }

    async fn upload(&self, name: &str, bytes: Vec<u8>) -> Value {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
        let (status, body) = send(
            client()
                .post(self.url("/media"))
                .bearer_auth(&self.token)
                .multipart(form),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn download(&self, id: &str) -> Vec<u8> {
        let (status, url) = self
            .post(
                &format!("/media/{id}/public-url"),
                json!({ "ttl_secs": 600 }),
            )
            .await;
        assert_eq!(status, 200, "{url}");
        let resp = client()
            .get(url["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        resp.bytes().await.unwrap().to_vec()
    }

    /// Connects a YouTube account on the simulator through the API's OAuth flow.
    async fn connect_youtube(&self, yt: &YoutubeSim, yc: &YoutubeConfig) -> String {
        let yb = yt.base_url();
        let (status, app) = self
            .post(
                "/apps",
                json!({"plugin": "youtube", "name": "Our YouTube app",
                       "settings": {"client_id": yc.client_id, "client_secret": yc.client_secret,
                                    "oauth_url": yb, "token_url": yb, "api_url": yb}}),
            )
            .await;
        assert_eq!(status, 201, "{app}");
        let (status, started) = self
            .post("/accounts/connect/youtube", json!({"app_id": app["id"]}))
            .await;
        assert_eq!(status, 200, "{started}");
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let consent = no_redirects
            .get(started["authorize_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(consent.status(), 302);
        let callback = consent.headers()["location"].to_str().unwrap().to_string();
        let (status, connected) = send(no_redirects.get(&callback)).await;
        assert!(status == 200 || status == 201, "{connected}");
        let accounts = self.get("/accounts").await;
        accounts["accounts"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["plugin"] == "youtube"))
            .unwrap_or_else(|| panic!("no youtube account: {accounts}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn validate(&self, post_id: &str) -> Value {
        let (status, report) = self
            .post(&format!("/posts/{post_id}/validate"), json!({}))
            .await;
        assert_eq!(status, 200, "{report}");
        report["targets"][0].clone()
    }
}

/// The decoded video stream's width and height.
fn dimensions(bytes: &[u8]) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_streams"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe failed on the rendition");
    let probe: Value = serde_json::from_slice(&out.stdout).unwrap();
    let video = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("a video stream")
        .clone();
    (
        video["width"].as_f64().unwrap(),
        video["height"].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_16_9_master_is_fitted_to_a_youtube_short_while_publishing() {
    server_binary();
    let server = test_server().await;
    let bytes = plugin("youtube");
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
    let owner = signup(&server.base, "owner@example.com").await;
    let ws = create_workspace(&server.base, &owner.access_token, "Autofit").await;
    let c = Ctx {
        server,
        token: owner.access_token,
        ws,
    };
    let dir = tempfile::tempdir().unwrap();
    let master = c
        .upload(
            "master.mp4",
            plugboard_e2e::platform::master_16_9(dir.path()),
        )
        .await;
    let master_id = master["id"].as_str().unwrap().to_string();
    let master_size = master["size"].as_u64().unwrap();

    let yc = YoutubeConfig {
        redirect_uris: vec![format!("{}/api/v1/accounts/callback", c.server.base)],
        processing_ms: 300,
        ..YoutubeConfig::default()
    };
    let youtube = YoutubeSim::start(yc.clone()).await.unwrap();
    let account = c.connect_youtube(&youtube, &yc).await;

    // Without the option the master does not fit a Short, and validation says why.
    let (status, post) = c
        .post(
            "/posts",
            json!({"kind": "short", "text": "Fitted on the way out", "media": [master_id],
                   "options": {"title": "Auto-fitted short", "privacy_status": "unlisted"},
                   "targets": [account]}),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    assert_eq!(post["auto_fit_media"], false, "{post}");
    let post_id = post["id"].as_str().unwrap().to_string();
    let target = c.validate(&post_id).await;
    assert_eq!(target["problems"][0]["code"], "aspect-ratio", "{target}");
    let message = target["problems"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("1280:720 (1.778)") && message.contains("YouTube 'short'"),
        "{message}"
    );
    assert_eq!(target["notes"], json!([]), "{target}");
    let (status, refused) = c
        .post(&format!("/posts/{post_id}/schedule"), json!({}))
        .await;
    assert_eq!(status, 422, "{refused}");

    // A variant can opt in for its platform alone; the post-level flag stays off.
    let edited = c
        .patch_post(
            &post_id,
            &post["version"],
            json!({"variants": {"youtube": {"auto_fit_media": true}}}),
        )
        .await;
    assert_eq!(edited["auto_fit_media"], false, "{edited}");
    let target = c.validate(&post_id).await;
    assert_eq!(target["problems"], json!([]), "{target}");
    assert_eq!(target["notes"][0]["code"], "will-be-fitted", "{target}");
    let note = target["notes"][0]["message"].as_str().unwrap();
    assert!(
        note.contains("master.mp4 will be fitted to YouTube short") && note.contains("1.778"),
        "{note}"
    );

    let (status, scheduled) = c
        .post(&format!("/posts/{post_id}/schedule"), json!({}))
        .await;
    assert_eq!(status, 200, "{scheduled}");
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut waited = None;
    let published = loop {
        let view = c.get(&format!("/posts/{post_id}")).await;
        let t = view["targets"][0].clone();
        if let Some(reason) = t["deferred_reason"].as_str()
            && reason.starts_with("waiting for a fitted rendition")
        {
            waited = Some(reason.to_string());
        }
        match t["status"].as_str() {
            Some("published") => break t,
            Some("failed" | "in_doubt" | "paused") => panic!("{view}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "never published: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let waited = waited.expect("the target never waited for its rendition");
    assert!(
        waited.starts_with("waiting for a fitted rendition of master.mp4 for YouTube short (")
            && waited.ends_with("%)"),
        "{waited}"
    );
    assert!(published["remote_id"].is_string(), "{published}");

    // The rendition is in the library, made by a studio job from the master.
    let page = c.get("/media").await;
    let rendition = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] != master_id.as_str())
        .unwrap_or_else(|| panic!("no rendition in {page}"))
        .clone();
    let rendition_id = rendition["id"].as_str().unwrap();
    let job = c.get(&format!("/media/jobs/{rendition_id}")).await;
    assert_eq!(job["source_media_id"], master_id.as_str(), "{job}");
    assert_eq!(job["preset"], "youtube/short/video", "{job}");

    // It fits a Short when decoded, and it is what the simulator received.
    let rendition_bytes = c.download(rendition_id).await;
    let (w, h) = dimensions(&rendition_bytes);
    assert!(w / h <= 1.01, "{w}×{h} is not a Short");
    let videos = youtube.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].size, rendition_bytes.len() as u64);
    assert_ne!(videos[0].size, master_size);

    // Every re-check found the same job: one rendition was made.
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
}
