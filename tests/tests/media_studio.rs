//! The media studio end to end: HTTP API → `media` job → worker process → new library
//! item, with every output checked by decoding it (ffprobe, PNG pixels), not by its
//! existence. Fixtures are generated here: images with the `image` crate (one with an EXIF
//! orientation written by hand), video and audio with the ffmpeg CLI.

use plugboard_e2e::api::{
    Session, client, create_workspace, invite_and_join, problem, send, signup,
};
use plugboard_e2e::{TestServer, server_binary, test_server};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::io::Cursor;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

struct Ctx {
    server: TestServer,
    owner: Session,
    ws: String,
}

/// A server whose media worker is the freshly built `plugboard` binary.
async fn ctx() -> Ctx {
    server_binary();
    let server = test_server().await;
    let owner = signup(&server.base, "owner@example.com").await;
    let ws = create_workspace(&server.base, &owner.access_token, "Studio").await;
    Ctx { server, owner, ws }
}

impl Ctx {
    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/workspaces/{}{rest}", self.server.base, self.ws)
    }

    async fn upload(&self, name: &str, bytes: Vec<u8>) -> Value {
        let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
        let (status, body) = send(
            client()
                .post(self.url("/media"))
                .bearer_auth(&self.owner.access_token)
                .multipart(form),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn start(&self, media_id: &str, op: Value) -> Value {
        let (status, body) = send(
            client()
                .post(self.url(&format!("/media/{media_id}/transform")))
                .bearer_auth(&self.owner.access_token)
                .json(&op),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        body
    }

    async fn job(&self, id: &str) -> Value {
        let (status, body) = send(
            client()
                .get(self.url(&format!("/media/jobs/{id}")))
                .bearer_auth(&self.owner.access_token),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Waits for the job to end and returns it.
    async fn finish(&self, id: &str) -> Value {
        for _ in 0..1200 {
            let job = self.job(id).await;
            if !matches!(job["status"].as_str(), Some("queued" | "running")) {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("media job {id} did not finish in 120 s");
    }

    /// Runs `op` on `media_id` and returns the new library item and its bytes.
    async fn run(&self, media_id: &str, op: Value) -> (Value, Vec<u8>) {
        let job = self.start(media_id, op).await;
        let job = self.finish(job["id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(job["progress"], 100.0, "{job}");
        let id = job["result_media_id"].as_str().expect("result media id");
        assert_ne!(id, media_id);
        let (status, item) = send(
            client()
                .get(self.url(&format!("/media/{id}")))
                .bearer_auth(&self.owner.access_token),
        )
        .await;
        assert_eq!(status, 200, "{item}");
        let bytes = self.download(id).await;
        assert_eq!(bytes.len() as u64, item["size"].as_u64().unwrap());
        (item, bytes)
    }

    async fn download(&self, id: &str) -> Vec<u8> {
        let (status, url) = send(
            client()
                .post(self.url(&format!("/media/{id}/public-url")))
                .bearer_auth(&self.owner.access_token)
                .json(&json!({ "ttl_secs": 600 })),
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
}

fn ffmpeg(args: &[&str], out: &Path) -> Vec<u8> {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("running ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} failed");
    std::fs::read(out).unwrap()
}

/// `seconds` of a moving test pattern at `size` and `fps`, with a tone unless `silent`.
fn video(size: &str, fps: u32, seconds: u32, silent: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let src = format!("testsrc2=size={size}:rate={fps}:duration={seconds}");
    let tone = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let mut args = vec!["-f", "lavfi", "-i", src.as_str()];
    if !silent {
        args.extend(["-f", "lavfi", "-i", tone.as_str(), "-c:a", "aac"]);
    }
    args.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-shortest",
    ]);
    ffmpeg(&args, &dir.path().join("v.mp4"))
}

fn wav(seconds: u32, freq: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let tone = format!("sine=frequency={freq}:sample_rate=44100:duration={seconds}");
    ffmpeg(&["-f", "lavfi", "-i", &tone], &dir.path().join("a.wav"))
}

/// ffprobe's view of `bytes`: `format` and `streams`.
fn probe(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe failed on the output");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stream<'a>(p: &'a Value, kind: &str) -> Option<&'a Value> {
    p["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == kind)
}

fn dims(p: &Value) -> (u64, u64) {
    let v = stream(p, "video").expect("a video stream");
    (v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap())
}

fn duration(p: &Value) -> f64 {
    p["format"]["duration"].as_str().unwrap().parse().unwrap()
}

/// A JPEG with an EXIF APP1 segment: orientation 6 (the camera was turned clockwise).
fn rotated_jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut plain = Cursor::new(Vec::new());
    img.write_to(&mut plain, image::ImageFormat::Jpeg).unwrap();
    let plain = plain.into_inner();
    // TIFF, big-endian, one IFD entry: 0x0112 Orientation, SHORT, 1 value: 6.
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01".to_vec();
    tiff.extend([
        0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,
    ]);
    tiff.extend([0, 0, 0, 0]);
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let len = (app1.len() + 2) as u16;
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(len.to_be_bytes());
    out.extend(app1);
    out.extend(&plain[2..]);
    out
}

#[tokio::test]
async fn image_operations_resize_crop_pad_convert_and_fit_a_budget() {
    let c = ctx().await;
    let src = c.upload("photo.jpg", rotated_jpeg(1600, 1200)).await;
    let src_id = src["id"].as_str().unwrap();

    // EXIF orientation is applied: the 1600×1200 sensor image stands upright at 1200×1600,
    // and the re-encoded file carries no EXIF.
    let (item, bytes) = c
        .run(src_id, json!({ "op": "image", "format": "png" }))
        .await;
    assert_eq!(item["mime_type"], "image/png");
    assert_eq!(
        (item["width"].as_u64(), item["height"].as_u64()),
        (Some(1200), Some(1600))
    );
    assert_eq!(item["filename"], "photo-image.png");

    let (item, bytes_jpeg) = c
        .run(
            src_id,
            json!({ "op": "image", "format": "jpeg", "quality": 80,
                    "resize": { "width": 1080, "height": 1080, "fit": "cover", "focal": { "x": 0.5, "y": 0.2 } } }),
        )
        .await;
    assert_eq!(dims(&probe(&bytes_jpeg)), (1080, 1080));
    assert_eq!(item["mime_type"], "image/jpeg");
    assert!(
        !bytes_jpeg.windows(4).any(|w| w == b"Exif"),
        "metadata was not stripped"
    );
    drop(bytes);

    let (item, webp) = c
        .run(
            src_id,
            json!({ "op": "image", "format": "webp", "quality": 75,
                    "resize": { "width": 1200, "height": 630, "fit": "contain" } }),
        )
        .await;
    assert_eq!(item["mime_type"], "image/webp");
    // 1200×1600 upright inside 1200×630: 473×630.
    assert_eq!(dims(&probe(&webp)), (473, 630));

    let (_, lossless) = c
        .run(
            src_id,
            json!({ "op": "image", "format": "webp", "lossless": true,
                              "resize": { "width": 300, "height": 300, "fit": "exact" } }),
        )
        .await;
    assert_eq!(dims(&probe(&lossless)), (300, 300));

    // Pad letterboxes with the background colour.
    let (_, padded) = c
        .run(
            src_id,
            json!({ "op": "image", "format": "png",
                    "resize": { "width": 1000, "height": 500, "fit": "pad", "background": "#ff0000" } }),
        )
        .await;
    let img = image::load_from_memory_with_format(&padded, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8();
    assert_eq!(img.dimensions(), (1000, 500));
    assert_eq!(img.get_pixel(5, 250).0, [255, 0, 0]);
    assert_ne!(img.get_pixel(500, 250).0, [255, 0, 0]);

    // A byte budget is met.
    let (item, small) = c
        .run(
            src_id,
            json!({ "op": "image", "format": "jpeg", "quality": 95, "max_bytes": 40000 }),
        )
        .await;
    assert!(small.len() <= 40_000, "{} bytes", small.len());
    assert!(item["size"].as_u64().unwrap() <= 40_000);

    // The source is still there, unchanged.
    let (status, again) = send(
        client()
            .get(c.url(&format!("/media/{src_id}")))
            .bearer_auth(&c.owner.access_token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["sha256"], src["sha256"]);
}

#[tokio::test]
async fn video_operations_resize_trim_retime_budget_and_thumbnail() {
    let c = ctx().await;
    let src = c.upload("clip.mp4", video("640x360", 30, 3, false)).await;
    let id = src["id"].as_str().unwrap();

    // 16:9 → 9:16 by cropping: the box, H.264 + AAC.
    let (item, out) = c
        .run(
            id,
            json!({ "op": "video", "resize": { "width": 360, "height": 640, "fit": "cover" } }),
        )
        .await;
    let p = probe(&out);
    assert_eq!(dims(&p), (360, 640));
    assert_eq!(stream(&p, "video").unwrap()["codec_name"], "h264");
    assert_eq!(stream(&p, "audio").unwrap()["codec_name"], "aac");
    assert_eq!(item["mime_type"], "video/mp4");
    assert!((duration(&p) - 3.0).abs() < 0.2, "{}", duration(&p));

    // Letterbox to a square.
    let (_, out) = c
        .run(
            id,
            json!({ "op": "video", "resize": { "width": 480, "height": 480, "fit": "pad" } }),
        )
        .await;
    assert_eq!(dims(&probe(&out)), (480, 480));

    // Trim and frame rate.
    let (_, out) = c
        .run(
            id,
            json!({ "op": "video", "trim": { "start_ms": 500, "end_ms": 1500 }, "frame_rate": 15 }),
        )
        .await;
    let p = probe(&out);
    assert!((duration(&p) - 1.0).abs() < 0.15, "{}", duration(&p));
    assert_eq!(stream(&p, "video").unwrap()["r_frame_rate"], "15/1");

    // A byte budget.
    let (_, out) = c
        .run(id, json!({ "op": "video", "max_bytes": 150000 }))
        .await;
    assert!(out.len() <= 150_000, "{} bytes", out.len());

    // A cover frame.
    let (item, jpg) = c
        .run(
            id,
            json!({ "op": "thumbnail", "at_ms": 1000, "format": "jpeg",
                    "resize": { "width": 320, "height": 180, "fit": "cover" } }),
        )
        .await;
    assert_eq!(item["mime_type"], "image/jpeg");
    assert_eq!(dims(&probe(&jpg)), (320, 180));
}

#[tokio::test]
async fn merging_copies_matching_clips_and_re_encodes_different_ones() {
    let c = ctx().await;
    let a = c.upload("a.mp4", video("640x360", 30, 2, false)).await;
    let b = c.upload("b.mp4", video("640x360", 30, 2, false)).await;
    let odd = c.upload("odd.mp4", video("320x240", 25, 1, true)).await;
    let (a, b, odd) = (
        a["id"].as_str().unwrap(),
        b["id"].as_str().unwrap(),
        odd["id"].as_str().unwrap(),
    );

    let (_, out) = c.run(a, json!({ "op": "merge", "clips": [b] })).await;
    let p = probe(&out);
    assert_eq!(dims(&p), (640, 360));
    assert!((duration(&p) - 4.0).abs() < 0.2, "{}", duration(&p));
    assert!(stream(&p, "audio").is_some());

    // Different size, rate and no sound: letterboxed to the first clip, silence added.
    let (_, out) = c.run(a, json!({ "op": "merge", "clips": [odd, b] })).await;
    let p = probe(&out);
    assert_eq!(dims(&p), (640, 360));
    assert!((duration(&p) - 5.0).abs() < 0.3, "{}", duration(&p));
    assert_eq!(stream(&p, "audio").unwrap()["codec_name"], "aac");
    assert_eq!(stream(&p, "video").unwrap()["r_frame_rate"], "30/1");
}

#[tokio::test]
async fn audio_is_converted_levelled_extracted_and_replaced() {
    let c = ctx().await;
    let clip = c.upload("clip.mp4", video("320x180", 25, 2, false)).await;
    let tone = c.upload("tone.wav", wav(3, 880)).await;
    let (clip, tone) = (clip["id"].as_str().unwrap(), tone["id"].as_str().unwrap());

    // Extract a video's audio as MP3.
    let (item, mp3) = c.run(clip, json!({ "op": "audio", "format": "mp3" })).await;
    let p = probe(&mp3);
    assert_eq!(item["kind"], "audio");
    assert_eq!(stream(&p, "audio").unwrap()["codec_name"], "mp3");
    assert!(stream(&p, "video").is_none());

    // WAV → AAC at −12 dB, and WAV → normalised WAV.
    let (_, aac) = c
        .run(
            tone,
            json!({ "op": "audio", "format": "aac", "volume_db": -12, "bitrate_kbps": 96 }),
        )
        .await;
    assert_eq!(stream(&probe(&aac), "audio").unwrap()["codec_name"], "aac");
    let (_, norm) = c
        .run(
            tone,
            json!({ "op": "audio", "format": "wav", "normalize": true }),
        )
        .await;
    let p = probe(&norm);
    assert_eq!(stream(&p, "audio").unwrap()["codec_name"], "pcm_s16le");
    assert_eq!(stream(&p, "audio").unwrap()["sample_rate"], "48000");
    assert!((duration(&p) - 3.0).abs() < 0.1);
    // Quieter by 12 dB: the mean volume drops accordingly.
    let loud = mean_volume(&wav(3, 880));
    let quiet = mean_volume(&aac);
    assert!((loud - quiet - 12.0).abs() < 1.5, "{loud} vs {quiet}");

    // Replace the clip's sound with the 3 s tone: cut to the video's 2 s.
    let (_, out) = c
        .run(clip, json!({ "op": "replace_audio", "audio": tone }))
        .await;
    let p = probe(&out);
    assert_eq!(dims(&p), (320, 180));
    assert!((duration(&p) - 2.0).abs() < 0.2, "{}", duration(&p));
    let a = stream(&p, "audio").unwrap();
    assert_eq!(
        a["sample_rate"], "44100",
        "the tone's track, not the clip's 48 kHz one"
    );
}

/// Mean volume in dB (ffmpeg's volumedetect).
fn mean_volume(bytes: &[u8]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-i"])
        .arg(&path)
        .args(["-af", "volumedetect", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("mean_volume:"))
        .expect("volumedetect output");
    line.split("mean_volume:")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches(" dB")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn progress_streams_as_events_and_a_running_job_can_be_cancelled() {
    let c = ctx().await;
    let src = c.upload("long.mp4", video("1280x720", 30, 20, false)).await;
    let id = src["id"].as_str().unwrap();

    let job = c
        .start(
            id,
            json!({ "op": "video", "resize": { "width": 720, "height": 1280, "fit": "cover" } }),
        )
        .await;
    let job_id = job["id"].as_str().unwrap();
    let resp = client()
        .get(c.url(&format!("/media/jobs/{job_id}/events")))
        .bearer_auth(&c.owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = tokio::time::timeout(Duration::from_secs(120), resp.text())
        .await
        .expect("the event stream ends with the job")
        .expect("reading the event stream");
    let mut percents = Vec::new();
    let mut last = String::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let event = block
            .lines()
            .find_map(|l| l.strip_prefix("event: "))
            .unwrap_or("");
        let data: Value = block
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .unwrap_or(Value::Null);
        if event == "running"
            && let Some(p) = data["progress"].as_f64()
        {
            percents.push(p);
        }
        last = event.to_string();
    }
    assert_eq!(last, "done", "{text}");
    assert!(
        percents.iter().any(|&p| p > 0.0 && p < 100.0),
        "no intermediate progress: {percents:?}"
    );
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");

    // Cancel a running job: it ends cancelled and adds nothing to the library.
    let (_, before) = send(
        client()
            .get(c.url("/media"))
            .bearer_auth(&c.owner.access_token),
    )
    .await;
    let job = c
        .start(
            id,
            json!({ "op": "video", "resize": { "width": 1280, "height": 1280, "fit": "pad" } }),
        )
        .await;
    let job_id = job["id"].as_str().unwrap();
    for _ in 0..600 {
        if c.job(job_id).await["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, cancelled) = send(
        client()
            .post(c.url(&format!("/media/jobs/{job_id}/cancel")))
            .bearer_auth(&c.owner.access_token),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let job = c.job(job_id).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert!(job["result_media_id"].is_null());
    let (_, after) = send(
        client()
            .get(c.url("/media"))
            .bearer_auth(&c.owner.access_token),
    )
    .await;
    assert_eq!(
        before["items"].as_array().unwrap().len(),
        after["items"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn requests_are_validated_scoped_and_role_checked() {
    let c = ctx().await;
    let img = c
        .upload("p.png", {
            let mut out = Cursor::new(Vec::new());
            image::RgbImage::new(64, 48)
                .write_to(&mut out, image::ImageFormat::Png)
                .unwrap();
            out.into_inner()
        })
        .await;
    let img = img["id"].as_str().unwrap();
    let post = |path: &str, body: Value| {
        client()
            .post(c.url(path))
            .bearer_auth(&c.owner.access_token)
            .json(&body)
    };
    let transform = format!("/media/{img}/transform");
    let p = problem(
        post(&transform, json!({ "op": "image", "format": "png", "resize": { "width": 100000, "height": 10, "fit": "cover" } })),
        422,
        "invalid-field",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "resize.width");
    problem(
        post(&transform, json!({ "op": "image", "format": "gif" })),
        422,
        "invalid-body",
    )
    .await;
    problem(
        post(
            &transform,
            json!({ "op": "image", "format": "png", "dpi": 3 }),
        ),
        422,
        "invalid-body",
    )
    .await;
    problem(
        post(&transform, json!({ "op": "video" })),
        422,
        "unsupported-source",
    )
    .await;
    problem(
        post(&transform, json!({ "op": "merge", "clips": ["nope"] })),
        422,
        "unsupported-source",
    )
    .await;
    problem(
        post(
            "/media/nope/transform",
            json!({ "op": "image", "format": "png" }),
        ),
        404,
        "not-found",
    )
    .await;
    problem(post("/media/jobs/nope/cancel", json!({})), 404, "not-found").await;

    // Another workspace sees neither the media nor the job.
    let job = c
        .start(img, json!({ "op": "image", "format": "jpeg" }))
        .await;
    let job_id = job["id"].as_str().unwrap();
    let other = signup(&c.server.base, "other@example.com").await;
    let other_ws = create_workspace(&c.server.base, &other.access_token, "Other").await;
    let base = format!("{}/api/v1/workspaces/{other_ws}", c.server.base);
    problem(
        client()
            .post(format!("{base}/media/{img}/transform"))
            .bearer_auth(&other.access_token)
            .json(&json!({ "op": "image", "format": "png" })),
        404,
        "not-found",
    )
    .await;
    problem(
        client()
            .get(format!("{base}/media/jobs/{job_id}"))
            .bearer_auth(&other.access_token),
        404,
        "not-found",
    )
    .await;

    // Viewers read jobs but start none.
    let viewer = invite_and_join(
        &c.server.base,
        &c.owner.access_token,
        &c.ws,
        "viewer",
        "viewer@example.com",
    )
    .await;
    problem(
        client()
            .post(c.url(&transform))
            .bearer_auth(&viewer.access_token)
            .json(&json!({ "op": "image", "format": "png" })),
        403,
        "forbidden",
    )
    .await;
    let (status, _) = send(
        client()
            .get(c.url(&format!("/media/jobs/{job_id}")))
            .bearer_auth(&viewer.access_token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(c.finish(job_id).await["status"], "done");
}
