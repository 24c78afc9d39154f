//! Scaffolding the platform end-to-end tests share: install a first-party plugin with the
//! grants it requests, a signed-up owner with a workspace driven over the HTTP API
//! (register a platform app, connect an account through a simulator's OAuth redirects,
//! upload media, create and schedule posts, wait for a target's state), and test media
//! made by the image crate and the ffmpeg CLI. What differs per platform (settings, the
//! simulator's record, its normalised request lines) stays in each test file.

use crate::TestServer;
use crate::api::{client, create_workspace, send, signup};
use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use serde_json::{Value, json};
use std::time::Duration;

/// Installs the first-party plugin `name` into `server`, granting what its manifest asks.
pub async fn install(server: &TestServer, name: &str) {
    let bytes = crate::plugin(name);
    let manifest = Manifest::from_component(&bytes).expect("the plugin's manifest");
    server
        .app()
        .runtime
        .registry
        .install(
            &bytes,
            Some(Grants::requested(&manifest)),
            InstallMode::Install,
        )
        .await
        .unwrap_or_else(|e| panic!("installing {name}: {e:#}"));
}

/// What connecting an account answered: the URL the user was sent to, the platform's
/// redirect back to the server, and the server's answer to that callback.
pub struct Connection {
    pub authorize_url: String,
    pub callback: String,
    pub connected: Value,
}

/// A workspace owner's view of a test server: every call goes over the HTTP API with the
/// owner's token and asserts the status the API documents for success.
pub struct Studio {
    pub server: TestServer,
    pub token: String,
    /// `{base}/api/v1/workspaces/{id}`.
    pub api: String,
}

impl Studio {
    /// Signs up `email` and creates the workspace `name` on `server`.
    pub async fn open(server: TestServer, email: &str, name: &str) -> Studio {
        let owner = signup(&server.base, email).await;
        let ws = create_workspace(&server.base, &owner.access_token, name).await;
        let api = format!("{}/api/v1/workspaces/{ws}", server.base);
        Studio {
            server,
            token: owner.access_token,
            api,
        }
    }

    /// A workspace route: `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// Registers a platform app for `plugin`; returns the created app.
    pub async fn create_app(&self, plugin: &str, name: &str, settings: Value) -> Value {
        let (status, app) = send(
            client()
                .post(self.url("/apps"))
                .bearer_auth(&self.token)
                .json(&json!({"plugin": plugin, "name": name, "settings": settings})),
        )
        .await;
        assert_eq!(status, 201, "{app}");
        app
    }

    /// Connects an account with `app_id` through the simulator's OAuth: the authorize URL
    /// must answer 302 to the server's callback, which must accept it.
    pub async fn connect_oauth(&self, plugin: &str, app_id: &Value) -> Connection {
        let (status, started) = send(
            client()
                .post(self.url(&format!("/accounts/connect/{plugin}")))
                .bearer_auth(&self.token)
                .json(&json!({"app_id": app_id})),
        )
        .await;
        assert_eq!(status, 200, "{started}");
        let authorize_url = started["authorize_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no authorize_url: {started}"))
            .to_string();
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let consent = no_redirects.get(&authorize_url).send().await.unwrap();
        assert_eq!(
            consent.status(),
            302,
            "the consent page did not redirect: {:?}",
            consent.text().await
        );
        let callback = consent.headers()["location"].to_str().unwrap().to_string();
        let (status, connected) = send(no_redirects.get(&callback)).await;
        assert!(status == 200 || status == 201, "{connected}");
        Connection {
            authorize_url,
            callback,
            connected,
        }
    }

    /// The workspace's accounts (`{"accounts": [...]}`).
    pub async fn accounts(&self) -> Value {
        let (status, accounts) =
            send(client().get(self.url("/accounts")).bearer_auth(&self.token)).await;
        assert_eq!(status, 200, "{accounts}");
        accounts
    }

    /// Uploads a file into the media library (with alt text when given); returns its id.
    pub async fn upload(
        &self,
        name: &str,
        mime: &str,
        bytes: Vec<u8>,
        alt: Option<&str>,
    ) -> String {
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
                .post(self.url("/media"))
                .bearer_auth(&self.token)
                .multipart(form),
        )
        .await;
        assert_eq!(status, 201, "{media}");
        media["id"].as_str().unwrap().to_string()
    }

    /// Creates a post from `body` (which names its targets); returns its id.
    pub async fn post(&self, body: &Value) -> String {
        let (status, post) = send(
            client()
                .post(self.url("/posts"))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await;
        assert_eq!(status, 201, "{post}");
        post["id"].as_str().unwrap().to_string()
    }

    /// Schedules the post for now.
    pub async fn publish_now(&self, post: &str) {
        let (status, scheduled) = send(
            client()
                .post(self.url(&format!("/posts/{post}/schedule")))
                .bearer_auth(&self.token)
                .json(&json!({})),
        )
        .await;
        assert_eq!(status, 200, "{scheduled}");
    }

    /// The post's first target.
    pub async fn target(&self, post: &str) -> Value {
        let (status, view) = send(
            client()
                .get(self.url(&format!("/posts/{post}")))
                .bearer_auth(&self.token),
        )
        .await;
        assert_eq!(status, 200, "{view}");
        view["targets"][0].clone()
    }

    /// Polls the first target every 100 ms until `done` holds (for at most `secs`);
    /// returns it and every status seen on the way. `record` describes what the platform
    /// saw, for the failure message.
    pub async fn wait(
        &self,
        post: &str,
        secs: u64,
        done: impl Fn(&Value) -> bool,
        record: impl Fn() -> String,
    ) -> (Value, Vec<String>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut seen: Vec<String> = Vec::new();
        loop {
            let t = self.target(post).await;
            let status = t["status"].as_str().unwrap_or_default().to_string();
            if seen.last() != Some(&status) {
                seen.push(status);
            }
            if done(&t) {
                return (t, seen);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the target never got there; last seen {t}; statuses {seen:?}; the platform saw {}",
                record()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `done` for [`Studio::wait`] that fails the test as soon as the target failed, is in
/// doubt or paused (unless `done` accepts that), instead of polling until the deadline.
pub fn fail_fast(done: impl Fn(&Value) -> bool) -> impl Fn(&Value) -> bool {
    move |t| {
        done(t) || {
            assert!(
                !matches!(
                    t["status"].as_str().unwrap_or_default(),
                    "failed" | "in_doubt" | "paused"
                ),
                "{t}"
            );
            false
        }
    }
}

/// A `w`×`h` JPEG of a gradient.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    image_file(w, h, 90, image::ImageFormat::Jpeg)
}

/// A `w`×`h` PNG of a gradient.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    png_tinted(w, h, 90)
}

/// A `w`×`h` PNG of a gradient with blue channel `blue`: images of one size that must
/// still be different files.
pub fn png_tinted(w: u32, h: u32, blue: u8) -> Vec<u8> {
    image_file(w, h, blue, image::ImageFormat::Png)
}

fn image_file(w: u32, h: u32, blue: u8, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, blue])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A file `name` made by the ffmpeg CLI from a lavfi source: `args` start with `-i`.
pub fn ffmpeg(name: &str, args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi"])
        .args(args)
        .arg(&out)
        .status()
        .expect("running ffmpeg (scripts/setup.sh installs it)");
    assert!(status.success(), "ffmpeg failed");
    std::fs::read(out).unwrap()
}

/// An H.264 MP4 (yuv420p, 30 fps, moov first) of `w`×`h`, `secs` long.
pub fn mp4(w: u32, h: u32, secs: u32) -> Vec<u8> {
    mp4_at(w, h, secs, 30)
}

/// An H.264 MP4 (yuv420p, moov first) of `w`×`h`, `secs` long, at `fps` frames a second.
pub fn mp4_at(w: u32, h: u32, secs: u32, fps: u32) -> Vec<u8> {
    ffmpeg(
        "clip.mp4",
        &[
            "-i",
            &format!("testsrc=duration={secs}:size={w}x{h}:rate={fps}"),
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-movflags",
            "+faststart",
        ],
    )
}

/// A 16:9 master: 6 s of a moving 1280×720 test pattern at 30 fps with a tone.
pub fn master_16_9(dir: &std::path::Path) -> Vec<u8> {
    let out = dir.join("master.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30:duration=6",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=6",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-shortest"])
        .arg(&out)
        .status()
        .expect("running ffmpeg (scripts/setup.sh installs it)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}
