//! Hostile input to the media studio: decompression bombs, truncated and corrupt files,
//! zero-length streams, and a job that runs past its deadline. Each ends as a clear failed
//! job (or a 4xx), never a crash, a hang or a half-written library item, and the server
//! keeps answering other requests throughout. The files are made here; those the upload
//! probe would already refuse are planted in the library directly, as if a probe had
//! missed them, so the worker's own defences are what is tested.

use plugboard::store::activity::Entry;
use plugboard::store::media::MediaRow;
use plugboard_e2e::api::{Session, client, create_workspace, problem, send, signup};
use plugboard_e2e::{TestServer, server_binary, test_server};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::io::Cursor;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

struct Ctx {
    server: TestServer,
    owner: Session,
    ws: String,
}

impl Ctx {
    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/workspaces/{}{rest}", self.server.base, self.ws)
    }

    /// Stores `bytes` as a library item without probing it.
    async fn plant(
        &self,
        name: &str,
        mime: &str,
        kind: &str,
        bytes: Vec<u8>,
        dims: Option<(i64, i64)>,
        duration_ms: Option<i64>,
    ) -> String {
        let app = self.server.app();
        let id = format!("planted-{name}");
        let key = plugboard::media::object_key(&self.ws, &id);
        app.blobs.put(&key, bytes.clone()).await.unwrap();
        let row = MediaRow {
            id: id.clone(),
            workspace_id: self.ws.clone(),
            object_key: key,
            filename: name.into(),
            mime_type: mime.into(),
            kind: kind.into(),
            size: bytes.len() as i64,
            sha256: "0".repeat(64),
            width: dims.map(|d| d.0),
            height: dims.map(|d| d.1),
            duration_ms,
            frame_rate: None,
            video_codec: None,
            audio_codec: None,
            has_audio: kind != "image",
            folder: None,
            tags: "[]".into(),
            alt_text: None,
            probe: "{}".into(),
            created_by: None,
            created_at: chrono::Utc::now(),
        };
        let entry = Entry {
            workspace_id: &self.ws,
            actor_id: None,
            action: "media.uploaded",
            subject_type: "media",
            subject_id: Some(&id),
            details: json!({}),
        };
        plugboard::store::media::insert(&app.db, &row, entry)
            .await
            .unwrap();
        id
    }

    async fn transform(&self, media_id: &str, op: Value) -> Value {
        let (status, job) = send(
            client()
                .post(self.url(&format!("/media/{media_id}/transform")))
                .bearer_auth(&self.owner.access_token)
                .json(&op),
        )
        .await;
        assert_eq!(status, 202, "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        for _ in 0..600 {
            let (_, job) = send(
                client()
                    .get(self.url(&format!("/media/jobs/{id}")))
                    .bearer_auth(&self.owner.access_token),
            )
            .await;
            if !matches!(job["status"].as_str(), Some("queued" | "running")) {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("media job {id} hung");
    }

    async fn fails(&self, media_id: &str, op: Value, kind: &str) -> Value {
        let job = self.transform(media_id, op).await;
        assert_eq!(job["status"], "failed", "{job}");
        assert_eq!(job["error"]["kind"], kind, "{job}");
        assert!(job["result_media_id"].is_null());
        job
    }

    async fn library_size(&self) -> usize {
        let (_, page) = send(
            client()
                .get(self.url("/media?limit=200"))
                .bearer_auth(&self.owner.access_token),
        )
        .await;
        page["items"].as_array().unwrap().len()
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend(data);
    out.extend(&body);
    out.extend(crc32(&body).to_be_bytes());
    out
}

/// A valid PNG header claiming `side`×`side` pixels, with a few bytes of data: decoding it
/// would need gigabytes.
fn bomb_png(side: u32) -> Vec<u8> {
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    out.extend(chunk(b"IEND", &[]));
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A WAV whose data chunk is empty.
fn empty_wav() -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend(36u32.to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(44_100u32.to_le_bytes());
    out.extend(88_200u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(0u32.to_le_bytes());
    out
}

fn video(size: &str, seconds: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let src = format!("testsrc2=size={size}:rate=30:duration={seconds}");
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &src,
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

#[tokio::test]
async fn hostile_media_fails_cleanly_while_the_server_keeps_serving() {
    // A short deadline, so that a long encode stands in for a stuck one.
    // SAFETY: set before the server starts and before any other thread reads it.
    unsafe { std::env::set_var("PLUGBOARD_MEDIA_TIMEOUT_SECS", "3") };
    server_binary();
    let server = test_server().await;
    let owner = signup(&server.base, "owner@example.com").await;
    let ws = create_workspace(&server.base, &owner.access_token, "Hostile").await;
    let c = Ctx { server, owner, ws };

    // Other requests are answered all along.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let pinger = {
        let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
        let (health, list, token) = (
            format!("{}/healthz", c.server.base),
            c.url("/media"),
            c.owner.access_token.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for req in [
                    client().get(&health),
                    client().get(&list).bearer_auth(&token),
                ] {
                    match tokio::time::timeout(Duration::from_secs(2), req.send()).await {
                        Ok(Ok(r)) if r.status().is_success() => {
                            served.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // The upload probe refuses a bomb outright.
    let form = Form::new().part("file", Part::bytes(bomb_png(100_000)).file_name("bomb.png"));
    problem(
        client()
            .post(c.url("/media"))
            .bearer_auth(&c.owner.access_token)
            .multipart(form),
        422,
        "image-too-large",
    )
    .await;

    let bomb = c
        .plant(
            "bomb.png",
            "image/png",
            "image",
            bomb_png(100_000),
            Some((100_000, 100_000)),
            None,
        )
        .await;
    let mut cut = png(400, 300);
    cut.truncate(cut.len() / 2);
    let truncated = c
        .plant("cut.png", "image/png", "image", cut, Some((400, 300)), None)
        .await;
    let garbage: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let corrupt = c
        .plant(
            "noise.mp4",
            "video/mp4",
            "video",
            garbage,
            Some((640, 360)),
            Some(1000),
        )
        .await;
    let empty = c
        .plant(
            "empty.wav",
            "audio/x-wav",
            "audio",
            empty_wav(),
            None,
            Some(0),
        )
        .await;
    let mut clip = video("320x240", 2);
    clip.truncate(clip.len() * 2 / 3);
    let cut_video = c
        .plant(
            "cut.mp4",
            "video/mp4",
            "video",
            clip,
            Some((320, 240)),
            Some(2000),
        )
        .await;
    let planted = c.library_size().await;

    c.fails(
        &bomb,
        json!({ "op": "image", "format": "jpeg" }),
        "image-too-large",
    )
    .await;
    c.fails(
        &truncated,
        json!({ "op": "image", "format": "jpeg" }),
        "corrupt-media",
    )
    .await;
    c.fails(
        &corrupt,
        json!({ "op": "video", "resize": { "width": 100, "height": 100, "fit": "pad" } }),
        "corrupt-media",
    )
    .await;
    c.fails(
        &corrupt,
        json!({ "op": "thumbnail", "at_ms": 0, "format": "png" }),
        "corrupt-media",
    )
    .await;
    c.fails(
        &empty,
        json!({ "op": "audio", "format": "mp3" }),
        "empty-media",
    )
    .await;
    // The MP4 index (moov) is at the end of the file: cut off, nothing is readable.
    c.fails(
        &cut_video,
        json!({ "op": "video", "frame_rate": 10 }),
        "corrupt-media",
    )
    .await;
    // A merge with a broken clip fails as a whole.
    let good = {
        let form = Form::new().part("file", Part::bytes(video("320x240", 1)).file_name("ok.mp4"));
        let (status, item) = send(
            client()
                .post(c.url("/media"))
                .bearer_auth(&c.owner.access_token)
                .multipart(form),
        )
        .await;
        assert_eq!(status, 201, "{item}");
        item["id"].as_str().unwrap().to_string()
    };
    c.fails(
        &good,
        json!({ "op": "merge", "clips": [corrupt] }),
        "corrupt-media",
    )
    .await;

    // A job past its deadline is killed and reported.
    let long = {
        let form = Form::new().part(
            "file",
            Part::bytes(video("1280x720", 30)).file_name("long.mp4"),
        );
        let (status, item) = send(
            client()
                .post(c.url("/media"))
                .bearer_auth(&c.owner.access_token)
                .multipart(form),
        )
        .await;
        assert_eq!(status, 201, "{item}");
        item["id"].as_str().unwrap().to_string()
    };
    let job = c
        .fails(
            &long,
            json!({ "op": "video", "resize": { "width": 1920, "height": 1920, "fit": "pad" } }),
            "timed-out",
        )
        .await;
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{job}"
    );

    // Nothing half-made joined the library, and ordinary work still succeeds.
    assert_eq!(c.library_size().await, planted + 2);
    let ok = c
        .transform(
            &good,
            json!({ "op": "thumbnail", "at_ms": 500, "format": "jpeg" }),
        )
        .await;
    assert_eq!(ok["status"], "done", "{ok}");

    stop.store(true, Ordering::Relaxed);
    pinger.await.unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during the hostile suite"
    );
    assert!(served.load(Ordering::Relaxed) > 10);
}
