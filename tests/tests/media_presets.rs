//! Platform presets end to end: one 16:9 master becomes a rendition for each installed
//! platform's video post kind (Instagram Reel, Facebook Reel, TikTok video, YouTube Short,
//! X video, LinkedIn video) through `POST …/media/{id}/fit`. Each rendition is checked three ways:
//! decoded with ffprobe against the limits the plugin's `describe()` declares, against the
//! presets again (`GET …/media/{id}/presets`), and by `POST …/posts/{id}/validate` for a
//! connected account; then one post with a per-platform rendition is published through the
//! Instagram, LinkedIn, X, YouTube and TikTok simulators, whose records show what they
//! accepted.

use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard_e2e::api::{client, create_workspace, send, signup};
use plugboard_e2e::{TestServer, plugin, server_binary, test_server};
use plugboard_simulators::{
    InstagramConfig, InstagramSim, LinkedinConfig, LinkedinSim, TikTokConfig, TikTokSim, XConfig,
    XSim, YoutubeConfig, YoutubeSim,
};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

/// The preset each platform's video post kind gets, and the fit that makes the rendition.
const TARGETS: [(&str, &str); 6] = [
    ("instagram/reel/video", "cover"),
    ("facebook/reel/video", "cover"),
    ("tiktok/video/video", "cover"),
    ("youtube/short/video", "pad"),
    ("x/video/video", "cover"),
    ("linkedin/video/video", "cover"),
];

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
        let (status, body) = send(
            client()
                .post(self.url(rest))
                .bearer_auth(&self.token)
                .json(&body),
        )
        .await;
        (status, body)
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

    /// Fits `media` to `preset` and waits for the rendition; returns its library item.
    async fn fit(&self, media: &str, preset: &str, fit: &str) -> Value {
        let (status, job) = self
            .post(
                &format!("/media/{media}/fit"),
                json!({"preset": preset, "fit": fit}),
            )
            .await;
        assert_eq!(status, 202, "{job}");
        assert_eq!(job["preset"], preset, "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(180);
        let job = loop {
            let job = self.get(&format!("/media/jobs/{id}")).await;
            if !matches!(job["status"].as_str(), Some("queued" | "running")) {
                break job;
            }
            assert!(Instant::now() < deadline, "fit to {preset} never ended");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(job["status"], "done", "fit to {preset}: {job}");
        let rendition = job["result_media_id"].as_str().unwrap();
        self.get(&format!("/media/{rendition}")).await
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

    /// Connects an account of `plugin` through the API: an app with `settings`, the OAuth
    /// redirect to the simulator's consent page, and its callback. Returns the account id.
    async fn connect(&self, plugin: &str, settings: Value) -> String {
        let (status, app) = self
            .post(
                "/apps",
                json!({"plugin": plugin, "name": format!("Our {plugin} app"), "settings": settings}),
            )
            .await;
        assert_eq!(status, 201, "{app}");
        let (status, started) = self
            .post(
                &format!("/accounts/connect/{plugin}"),
                json!({"app_id": app["id"]}),
            )
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
        assert_eq!(consent.status(), 302, "{plugin}'s consent did not redirect");
        let callback = consent.headers()["location"].to_str().unwrap().to_string();
        let (status, connected) = send(no_redirects.get(&callback)).await;
        assert!(status == 200 || status == 201, "{connected}");
        let accounts = self.get("/accounts").await;
        accounts["accounts"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["plugin"] == plugin))
            .unwrap_or_else(|| panic!("no {plugin} account: {accounts}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

async fn install(server: &TestServer, name: &str) {
    let bytes = plugin(name);
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
}

/// ffprobe's view of `bytes`.
fn ffprobe(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json"])
        .args(["-show_format", "-show_streams"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe failed on a rendition");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every limit of `preset` (from the plugin's `describe()`) that the decoded file breaks.
fn breaks(preset: &Value, bytes: &[u8]) -> Vec<String> {
    let p = ffprobe(bytes);
    let video = p["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("a video stream");
    let mut out = Vec::new();
    let (w, h) = (
        video["width"].as_f64().unwrap(),
        video["height"].as_f64().unwrap(),
    );
    let num = |k: &str| preset[k].as_f64();
    for (k, v, below) in [
        ("min_width", w, true),
        ("max_width", w, false),
        ("min_height", h, true),
        ("max_height", h, false),
    ] {
        if let Some(limit) = num(k)
            && (if below { v < limit } else { v > limit })
        {
            out.push(format!("{k} {limit}: {v}"));
        }
    }
    let aspect = w / h;
    if num("min_aspect").is_some_and(|m| aspect < m - 0.01)
        || num("max_aspect").is_some_and(|m| aspect > m + 0.01)
    {
        out.push(format!("aspect {aspect:.4} outside {preset}"));
    }
    let seconds: f64 = p["format"]["duration"].as_str().unwrap().parse().unwrap();
    if num("max_duration_ms").is_some_and(|m| seconds * 1000.0 > m) {
        out.push(format!("lasts {seconds} s"));
    }
    if num("min_duration_ms").is_some_and(|m| seconds * 1000.0 < m) {
        out.push(format!("lasts only {seconds} s"));
    }
    let (n, d) = video["avg_frame_rate"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    let fps = n.parse::<f64>().unwrap() / d.parse::<f64>().unwrap();
    if num("max_frame_rate").is_some_and(|m| fps > m + 0.01) {
        out.push(format!("{fps} fps"));
    }
    if bytes.len() as f64 > num("max_bytes").unwrap() {
        out.push(format!("{} bytes", bytes.len()));
    }
    if video["codec_name"] != "h264" || video["pix_fmt"] != "yuv420p" {
        out.push(format!(
            "video is {} {}",
            video["codec_name"], video["pix_fmt"]
        ));
    }
    out
}

fn fit_of<'a>(fits: &'a Value, preset: &str) -> &'a Value {
    fits.as_array()
        .unwrap()
        .iter()
        .find(|f| f["preset"] == preset)
        .unwrap_or_else(|| panic!("no {preset} in {fits}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn one_16_9_master_becomes_a_valid_rendition_for_every_platform() {
    server_binary();
    let server = test_server().await;
    for name in [
        "instagram",
        "facebook",
        "tiktok",
        "youtube",
        "x",
        "linkedin",
    ] {
        install(&server, name).await;
    }
    let owner = signup(&server.base, "owner@example.com").await;
    let ws = create_workspace(&server.base, &owner.access_token, "Presets").await;
    let c = Ctx {
        server,
        token: owner.access_token,
        ws,
    };

    // The presets come from the plugins' describe(), one per post kind × media type.
    let presets = c.get("/media/presets").await;
    let preset = |id: &str| -> Value {
        presets
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("no preset {id} in {presets}"))
            .clone()
    };
    let reel = preset("facebook/reel/video");
    assert!(
        reel["min_aspect"].as_f64().unwrap() > 0.55 && reel["max_aspect"].as_f64().unwrap() < 0.57,
        "{reel}"
    );
    assert_eq!(reel["max_duration_ms"], 90_000, "{reel}");
    assert_eq!(preset("youtube/short/video")["max_aspect"], 1.0);

    let dir = tempfile::tempdir().unwrap();
    let master = c
        .upload(
            "master.mp4",
            plugboard_e2e::platform::master_16_9(dir.path()),
        )
        .await;
    let master_id = master["id"].as_str().unwrap().to_string();
    assert_eq!(
        (master["width"].clone(), master["height"].clone()),
        (json!(1280), json!(720))
    );

    // The master does not fit the vertical kinds, and each says precisely why.
    let fits = c.get(&format!("/media/{master_id}/presets")).await;
    // (The Instagram plugin's reel takes any aspect ratio, so only these two refuse it.)
    for id in ["facebook/reel/video", "youtube/short/video"] {
        let f = fit_of(&fits, id);
        assert_eq!(f["fits"], false, "{f}");
        let why = f["problems"].to_string();
        assert!(why.contains("aspect ratio is 1.778 (1280×720)"), "{why}");
    }
    assert_eq!(fit_of(&fits, "x/video/video")["fits"], true, "{fits}");

    let mut renditions = std::collections::BTreeMap::new();
    for (id, fit) in TARGETS {
        let item = c.fit(&master_id, id, fit).await;
        assert_eq!(item["mime_type"], "video/mp4", "{item}");
        let rid = item["id"].as_str().unwrap().to_string();
        let bytes = c.download(&rid).await;
        let broken = breaks(&preset(id), &bytes);
        assert!(broken.is_empty(), "{id}: {broken:?}");
        let fits = c.get(&format!("/media/{rid}/presets")).await;
        assert_eq!(fit_of(&fits, id)["fits"], true, "{id}: {fits}");
        renditions.insert(id.split('/').next().unwrap().to_string(), rid);
    }
    // A portrait cover crop of the 16:9 master at Facebook's minimum reel height (even
    // sides, so the width is the nearest even one inside the 1 % tolerance, not 540).
    let reel_item = c.get(&format!("/media/{}", renditions["facebook"])).await;
    assert_eq!(reel_item["height"], 960, "{reel_item}");
    assert!(
        (540..=546).contains(&reel_item["width"].as_u64().unwrap()),
        "{reel_item}"
    );

    // Accounts on the X, YouTube and TikTok simulators, connected through the API.
    let x = XSim::start(XConfig::default()).await.unwrap();
    let xc = x.config();
    let x_account = c
        .connect(
            "x",
            json!({"api_url": x.base_url(), "web_url": x.base_url(),
                   "client_id": xc.client_id, "client_secret": xc.client_secret}),
        )
        .await;
    let yc = YoutubeConfig {
        redirect_uris: vec![format!("{}/api/v1/accounts/callback", c.server.base)],
        processing_ms: 300,
        ..YoutubeConfig::default()
    };
    let youtube = YoutubeSim::start(yc.clone()).await.unwrap();
    let yb = youtube.base_url();
    let yt_account = c
        .connect(
            "youtube",
            json!({"client_id": yc.client_id, "client_secret": yc.client_secret,
                   "oauth_url": yb, "token_url": yb, "api_url": yb}),
        )
        .await;
    let tiktok = TikTokSim::start(TikTokConfig {
        processing_ms: 300,
        ..TikTokConfig::default()
    })
    .await
    .unwrap();
    let tc = tiktok.config();
    let tt_account = c
        .connect(
            "tiktok",
            json!({"client_key": tc.client_key, "client_secret": tc.client_secret,
                   "api_url": tiktok.base_url(), "auth_url": tiktok.base_url()}),
        )
        .await;

    let ig = InstagramSim::start(InstagramConfig {
        video_processing_ms: 1_000,
        ..InstagramConfig::default()
    })
    .await
    .unwrap();
    let ig_account = c
        .connect(
            "instagram",
            json!({"client_id": ig.config().app_id, "client_secret": ig.config().app_secret,
                   "graph_url": ig.base_url(), "status_poll_secs": "1"}),
        )
        .await;
    let lc = LinkedinConfig {
        redirect_uris: vec![format!("{}/api/v1/accounts/callback", c.server.base)],
        video_processing_ms: 1_000,
        ..LinkedinConfig::default()
    };
    let linkedin = LinkedinSim::start(lc.clone()).await.unwrap();
    let li_account = c
        .connect(
            "linkedin",
            json!({"client_id": lc.client_id, "client_secret": lc.client_secret,
                   "api_url": linkedin.base_url(), "oauth_url": linkedin.base_url()}),
        )
        .await;

    // With the master everywhere, validate names the Short's aspect ratio precisely.
    let variants = |media: [&str; 5]| {
        let [short, x_media, tiktok_media, reel, li_media] = media;
        json!({
            "youtube": {"kind": "short", "media": [short],
                        "options": {"title": "Fitted short", "privacy_status": "unlisted"}},
            "x": {"media": [x_media]},
            "tiktok": {"media": [tiktok_media], "options": {"privacy_level": "SELF_ONLY"}},
            "instagram": {"kind": "reel", "media": [reel]},
            "linkedin": {"media": [li_media]},
        })
    };
    let m = master_id.as_str();
    let (status, post) = c
        .post(
            "/posts",
            json!({"kind": "video", "text": "One master, every platform", "media": [master_id],
                   "targets": [x_account, yt_account, tt_account, ig_account, li_account],
                   "variants": variants([m, m, m, m, m])}),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    let post_id = post["id"].as_str().unwrap().to_string();
    let (status, report) = c
        .post(&format!("/posts/{post_id}/validate"), json!({}))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false, "{report}");
    let short = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["plugin"] == "youtube")
        .unwrap();
    let message = short["problems"][0]["message"].as_str().unwrap();
    assert_eq!(short["problems"][0]["code"], "aspect-ratio", "{short}");
    assert!(
        message.contains("1280:720 (1.778)") && message.contains("YouTube 'short'"),
        "{message}"
    );

    // With each platform's rendition, every target is valid and publishes.
    let version = post["version"].as_i64().unwrap();
    let (status, edited) = send(
        client()
            .patch(c.url(&format!("/posts/{post_id}")))
            .bearer_auth(&c.token)
            .header("If-Match", format!("\"{version}\""))
            .json(&json!({"variants": variants([
                renditions["youtube"].as_str(),
                renditions["x"].as_str(),
                renditions["tiktok"].as_str(),
                renditions["instagram"].as_str(),
                renditions["linkedin"].as_str(),
            ])})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    let (_, report) = c
        .post(&format!("/posts/{post_id}/validate"), json!({}))
        .await;
    assert_eq!(report["valid"], true, "{report}");
    let (status, scheduled) = c
        .post(&format!("/posts/{post_id}/schedule"), json!({}))
        .await;
    assert_eq!(status, 200, "{scheduled}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = c.get(&format!("/posts/{post_id}")).await;
        let targets = view["targets"].as_array().unwrap();
        if targets.iter().all(|t| t["status"] == "published") {
            break;
        }
        assert!(
            targets
                .iter()
                .all(|t| !matches!(t["status"].as_str(), Some("failed" | "in_doubt"))),
            "{view}"
        );
        assert!(Instant::now() < deadline, "not all published: {view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // What each simulator accepted is the rendition made for it.
    let size = |id: &str| {
        let id = id.to_string();
        let c = &c;
        async move {
            c.get(&format!("/media/{id}")).await["size"]
                .as_u64()
                .unwrap()
        }
    };
    let tweets = x.tweets();
    assert_eq!(tweets.len(), 1, "{:?}", x.sequence());
    let uploaded = x.media(&tweets[0].media_ids[0]).unwrap();
    assert_eq!(uploaded.media_type, "video/mp4");
    assert_eq!(uploaded.total_bytes, size(&renditions["x"]).await);
    let videos = youtube.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].size, size(&renditions["youtube"]).await);
    let publishes = tiktok.publishes();
    assert_eq!(publishes.len(), 1, "{:?}", tiktok.sequence());
    assert_eq!(publishes[0].video_size, size(&renditions["tiktok"]).await);
    // Instagram pulled the reel rendition from its signed URL.
    let reels = ig.media();
    assert_eq!(reels.len(), 1);
    assert_eq!(reels[0].media_product_type, "REELS");
    let container = ig.container(&reels[0].container_id).unwrap();
    assert_eq!(container.bytes as u64, size(&renditions["instagram"]).await);
    // LinkedIn received the rendition's bytes in its upload parts.
    assert_eq!(linkedin.posts().len(), 1);
    let uploaded: usize = linkedin
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.body_len)
        .sum();
    assert_eq!(uploaded as u64, size(&renditions["linkedin"]).await);
}
