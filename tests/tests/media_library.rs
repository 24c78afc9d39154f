//! The media library over HTTP: direct uploads of generated images and video, probing,
//! hostile files (bombs, truncated, empty, unknown), roles and workspace isolation,
//! resumable (tus) uploads with conflicts and interruptions, listing filters and pages,
//! signed public URLs with ranges, and the items plugins get.

use plugboard::media::{MediaError, media_items, resumable};
use plugboard::on_db;
use plugboard_e2e::api::{Session, client, create_workspace, invite_and_join, signup};
use plugboard_e2e::{TestServer, pg_database, test_server, test_server_with};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Ctx {
    server: TestServer,
    owner: Session,
    ws: String,
}

async fn pg_server() -> TestServer {
    let url = pg_database().await;
    test_server_with(tempfile::tempdir().unwrap(), |c| c.database_url = Some(url)).await
}

async fn with_owner(server: TestServer) -> Ctx {
    let owner = signup(&server.base, "owner@example.com").await;
    let ws = create_workspace(&server.base, &owner.access_token, "Studio").await;
    Ctx { server, owner, ws }
}

impl Ctx {
    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/workspaces/{}{rest}", self.server.base, self.ws)
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([x as u8, y as u8, (x ^ y) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Noise compresses badly: a large file from a small image.
fn noisy_png(side: u32) -> Vec<u8> {
    let bytes = noise(side as usize * side as usize * 3, 7);
    let img = image::RgbImage::from_raw(side, side, bytes).unwrap();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let bytes = noise(width as usize * height as usize * 3, 3);
    let img = image::RgbImage::from_raw(width, height, bytes).unwrap();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// Deterministic pseudo-random bytes (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
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

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A valid PNG header claiming `width`×`height` RGBA pixels (a decompression bomb's header).
fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // A zlib stream of a few zero bytes.
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A two-second 320×240 test video with a sine tone, made by the ffmpeg CLI.
fn video(dir: &Path) -> Vec<u8> {
    let out = dir.join("clip.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=320x240:rate=25",
        ])
        .args(["-f", "lavfi", "-i", "sine=duration=2"])
        .args(["-shortest", "-pix_fmt", "yuv420p"])
        .arg(&out)
        .status()
        .expect("running ffmpeg (scripts/setup.sh installs it)");
    assert!(status.success(), "ffmpeg failed");
    std::fs::read(out).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every stored file under the server's media folder, as paths relative to it.
fn stored_files(server: &TestServer) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p: PathBuf = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let root = server.dir.path().join("media");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

async fn upload_form(ctx: &Ctx, token: &str, form: Form) -> reqwest::Response {
    client()
        .post(ctx.url("/media"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn file_form(name: &str, bytes: Vec<u8>) -> Form {
    Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()))
}

async fn upload(ctx: &Ctx, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    upload_form(ctx, token, file_form(name, bytes)).await
}

async fn json_of(resp: reqwest::Response, status: StatusCode) -> Value {
    let got = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem+json answer of `status` and kind `slug`.
async fn problem(resp: reqwest::Response, status: StatusCode, slug: &str) -> Value {
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = json_of(resp, status).await;
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    assert_eq!(
        body["type"],
        format!("https://plugboard.dev/problems/{slug}"),
        "{body}"
    );
    assert!(!body["detail"].as_str().unwrap_or("").is_empty());
    body
}

async fn get(ctx: &Ctx, token: &str, rest: &str) -> reqwest::Response {
    client()
        .get(ctx.url(rest))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn list_ids(ctx: &Ctx, query: &str) -> Vec<String> {
    let page = json_of(
        get(ctx, &ctx.owner.access_token, &format!("/media?{query}")).await,
        StatusCode::OK,
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

async fn activity_count(ctx: &Ctx, action: &str) -> usize {
    let page = json_of(
        get(
            ctx,
            &ctx.owner.access_token,
            &format!("/activity?action={action}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().len()
}

async fn library(server: TestServer) {
    let ctx = with_owner(server).await;
    let token = ctx.owner.access_token.clone();

    let png_bytes = png(64, 48);
    let form = file_form("../../sunset.png", png_bytes.clone())
        .text("alt_text", "A sunset over the sea")
        .text("folder", "campaigns/spring")
        .text("tags", "beach, summer ,beach");
    let resp = upload_form(&ctx, &token, form).await;
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let png_media = json_of(resp, StatusCode::CREATED).await;
    let png_id = png_media["id"].as_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("/api/v1/workspaces/{}/media/{png_id}", ctx.ws)
    );
    assert_eq!(png_media["filename"], "sunset.png");
    assert_eq!(png_media["mime_type"], "image/png");
    assert_eq!(png_media["kind"], "image");
    assert_eq!(png_media["width"], 64);
    assert_eq!(png_media["height"], 48);
    assert_eq!(png_media["size"], png_bytes.len());
    assert_eq!(png_media["sha256"], sha256_hex(&png_bytes));
    assert_eq!(png_media["alt_text"], "A sunset over the sea");
    assert_eq!(png_media["folder"], "campaigns/spring");
    assert_eq!(png_media["tags"], json!(["beach", "summer"]));
    assert_eq!(png_media["has_audio"], false);
    assert_eq!(png_media["duration_ms"], Value::Null);
    assert_eq!(png_media["created_by"], ctx.owner.user_id.as_str());
    assert_eq!(png_media["probe"]["format"], "png");

    // The client's name for the type is not believed: a JPEG named .png is a JPEG.
    let jpeg_bytes = jpeg(40, 30);
    let jpeg_media = json_of(
        upload(&ctx, &token, "photo.png", jpeg_bytes.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(jpeg_media["mime_type"], "image/jpeg");
    assert_eq!(
        (jpeg_media["width"].as_u64(), jpeg_media["height"].as_u64()),
        (Some(40), Some(30))
    );
    assert_eq!(jpeg_media["sha256"], sha256_hex(&jpeg_bytes));
    assert_eq!(jpeg_media["size"], jpeg_bytes.len());
    let jpeg_id = jpeg_media["id"].as_str().unwrap().to_string();

    let clip = video(ctx.server.dir.path());
    let vid = json_of(
        upload(&ctx, &token, "clip.mp4", clip.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(vid["kind"], "video");
    assert_eq!(vid["mime_type"], "video/mp4");
    assert_eq!(
        (vid["width"].as_u64(), vid["height"].as_u64()),
        (Some(320), Some(240))
    );
    let duration = vid["duration_ms"].as_u64().unwrap();
    assert!((1900..=2100).contains(&duration), "duration {duration}");
    assert_eq!(vid["frame_rate"], 25.0);
    assert_eq!(vid["has_audio"], true);
    assert_eq!(vid["video_codec"], "h264");
    assert_eq!(vid["audio_codec"], "aac");
    assert_eq!(vid["sha256"], sha256_hex(&clip));
    let vid_id = vid["id"].as_str().unwrap().to_string();

    // Read back.
    let got = json_of(
        get(&ctx, &token, &format!("/media/{png_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got, png_media);
    problem(
        get(&ctx, &token, "/media/0190c5b0-0000-7000-8000-000000000000").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;

    // Describe.
    let patch = |body: Value| {
        client()
            .patch(ctx.url(&format!("/media/{png_id}")))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let edited = json_of(
        patch(
            json!({"filename": "dusk.png", "alt_text": "Dusk", "tags": ["evening"], "folder": ""}),
        )
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["filename"], "dusk.png");
    assert_eq!(edited["alt_text"], "Dusk");
    assert_eq!(edited["tags"], json!(["evening"]));
    assert_eq!(edited["folder"], Value::Null);
    assert_eq!(edited["sha256"], png_media["sha256"]);
    let kept = json_of(
        patch(json!({"alt_text": "Dusk at sea"})).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (kept["filename"].as_str(), kept["tags"].clone()),
        (Some("dusk.png"), json!(["evening"]))
    );
    problem(
        patch(json!({"colour": "red"})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
    )
    .await;
    problem(
        patch(json!({"tags": "evening"})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
    )
    .await;
    let bad = problem(
        patch(json!({"filename": "a/b.png"})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "filename");
    problem(
        patch(json!({"tags": ["ok", ""]})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    problem(
        patch(json!({"alt_text": "x".repeat(1501)})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    let malformed = client()
        .patch(ctx.url(&format!("/media/{png_id}")))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"alt_text\": ")
        .send()
        .await
        .unwrap();
    problem(malformed, StatusCode::BAD_REQUEST, "malformed-json").await;
    let unchanged = json_of(
        get(&ctx, &token, &format!("/media/{png_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["alt_text"], "Dusk at sea");

    // Signed public URL, whole and ranged.
    let public = |id: String, body: Value| {
        client()
            .post(ctx.url(&format!("/media/{id}/public-url")))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let signed = json_of(
        public(vid_id.clone(), json!({"ttl_secs": 600}))
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let url = signed["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/media/public/", ctx.server.base)),
        "{url}"
    );
    let whole = client().get(&url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), clip.as_slice());
    let ranged = client()
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        ranged.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-199/{}", clip.len())
    );
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &clip[100..200]);
    let tampered = url.replace("sig=", "sig=00");
    assert_eq!(
        client().get(&tampered).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    problem(
        public(vid_id.clone(), json!({"ttl_secs": 0}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    problem(
        public(vid_id.clone(), json!({"ttl_secs": 21601}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    problem(
        public(vid_id.clone(), json!({})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
    )
    .await;

    // The items a publish call gets, by handle.
    let app = ctx.server.app();
    let items = media_items(app, &ctx.ws, &[jpeg_id.clone(), vid_id.clone()])
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].handle, jpeg_id);
    assert_eq!(items[0].key, format!("ws/{}/media/{jpeg_id}", ctx.ws));
    assert_eq!(items[0].mime_type, "image/jpeg");
    assert_eq!(items[0].size, jpeg_bytes.len() as u64);
    assert_eq!((items[0].width, items[0].height), (Some(40), Some(30)));
    assert_eq!(items[1].mime_type, "video/mp4");
    assert!(items[1].duration_ms.is_some());
    let missing = "0190c5b0-0000-7000-8000-000000000001".to_string();
    match media_items(app, &ctx.ws, &[jpeg_id.clone(), missing.clone()]).await {
        Err(MediaError::Unknown(ids)) => assert_eq!(ids, vec![missing]),
        other => panic!("expected an unknown-media error, got {other:?}"),
    }
    assert!(matches!(
        media_items(app, "another-workspace", std::slice::from_ref(&jpeg_id)).await,
        Err(MediaError::Unknown(_))
    ));

    // Delete: row and object go; the signed URL stops working.
    assert_eq!(stored_files(&ctx.server).len(), 3);
    let resp = client()
        .delete(ctx.url(&format!("/media/{vid_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    problem(
        get(&ctx, &token, &format!("/media/{vid_id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert_eq!(
        client().get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let files = stored_files(&ctx.server);
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| !f.contains(&vid_id)));
    let resp = client()
        .delete(ctx.url(&format!("/media/{vid_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::NOT_FOUND, "not-found").await;

    assert_eq!(activity_count(&ctx, "media.uploaded").await, 3);
    assert_eq!(activity_count(&ctx, "media.deleted").await, 1);
    assert_eq!(activity_count(&ctx, "media.updated").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_document_describes_the_media_routes() {
    let server = test_server().await;
    let doc: Value = client()
        .get(format!("{}/api/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let routes = [
        (
            "/api/v1/workspaces/{workspace_id}/media",
            &["get", "post"][..],
        ),
        (
            "/api/v1/workspaces/{workspace_id}/media/{id}",
            &["get", "patch", "delete"][..],
        ),
        (
            "/api/v1/workspaces/{workspace_id}/media/{id}/public-url",
            &["post"][..],
        ),
        (
            "/api/v1/workspaces/{workspace_id}/uploads",
            &["options", "post"][..],
        ),
        (
            "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}",
            &["head", "patch", "delete"][..],
        ),
    ];
    for (path, methods) in routes {
        for method in methods {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path} is not documented");
            assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
            assert!(op["summary"].is_string(), "{method} {path}");
            assert!(op["responses"]["401"].is_object(), "{method} {path}");
            assert!(op["responses"]["404"].is_object(), "{method} {path}");
        }
    }
    let upload = &doc["paths"]["/api/v1/workspaces/{workspace_id}/media"]["post"];
    assert!(upload["requestBody"]["content"]["multipart/form-data"].is_object());
}

async fn hostile_files(server: TestServer) {
    let ctx = with_owner(server).await;
    let token = ctx.owner.access_token.clone();
    let whole = jpeg(256, 256);
    let clip = video(ctx.server.dir.path());
    let mut bmp = b"BM".to_vec();
    bmp.extend(noise(2000, 2));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bomb.png", bomb_png(100_000, 100_000), "image-too-large"),
        // Each side is allowed, the pixel count is not.
        ("wide.png", bomb_png(12_000, 9_000), "image-too-large"),
        (
            "cut.jpg",
            whole[..whole.len() / 2].to_vec(),
            "corrupt-image",
        ),
        ("empty.png", Vec::new(), "empty-file"),
        ("random.mp4", noise(64 * 1024, 11), "unknown-media-type"),
        // An MP4 header that ffprobe cannot make sense of (the index is cut off).
        ("cut.mp4", clip[..4096].to_vec(), "unreadable-media"),
        ("noise.bmp", bmp, "unsupported-media-type"),
    ];
    for (name, bytes, slug) in cases {
        problem(
            upload(&ctx, &token, name, bytes).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            slug,
        )
        .await;
        assert!(list_ids(&ctx, "").await.is_empty(), "{name} left a row");
        assert_eq!(
            stored_files(&ctx.server),
            Vec::<String>::new(),
            "{name} left an object"
        );
    }
    let bomb = problem(
        upload(&ctx, &token, "bomb.png", bomb_png(100_000, 100_000)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "image-too-large",
    )
    .await;
    assert!(
        bomb["detail"].as_str().unwrap().contains("100000×100000"),
        "{bomb}"
    );

    // Malformed forms: no file, an unknown field after the file, not multipart at all.
    let no_file = Form::new().text("alt_text", "nothing");
    problem(
        upload_form(&ctx, &token, no_file).await,
        StatusCode::BAD_REQUEST,
        "invalid-multipart",
    )
    .await;
    let extra = file_form("a.png", png(8, 8)).text("colour", "red");
    problem(
        upload_form(&ctx, &token, extra).await,
        StatusCode::BAD_REQUEST,
        "invalid-multipart",
    )
    .await;
    let two = file_form("a.png", png(8, 8)).part("file", Part::bytes(png(8, 8)).file_name("b.png"));
    problem(
        upload_form(&ctx, &token, two).await,
        StatusCode::BAD_REQUEST,
        "invalid-multipart",
    )
    .await;
    let bad_tags = file_form("a.png", png(8, 8)).text("tags", "x".repeat(51));
    problem(
        upload_form(&ctx, &token, bad_tags).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    let json_body = client()
        .post(ctx.url("/media"))
        .bearer_auth(&token)
        .json(&json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    problem(
        json_body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    assert!(list_ids(&ctx, "").await.is_empty());
    assert_eq!(stored_files(&ctx.server), Vec::<String>::new());

    // The server still serves.
    let health = client()
        .get(format!("{}/healthz", ctx.server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    json_of(
        upload(&ctx, &token, "fine.png", png(16, 16)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(stored_files(&ctx.server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_past_the_size_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = test_server_with(dir, |c| c.max_upload_bytes = 4096).await;
    let ctx = with_owner(server).await;
    let token = ctx.owner.access_token.clone();
    let big = noisy_png(64);
    assert!(big.len() > 4096);
    problem(
        upload(&ctx, &token, "big.png", big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file-too-large",
    )
    .await;
    assert_eq!(stored_files(&ctx.server), Vec::<String>::new());
    let options = client()
        .request(reqwest::Method::OPTIONS, ctx.url("/uploads"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(options.headers()["tus-max-size"], "4096");
    let create = client()
        .post(ctx.url("/uploads"))
        .bearer_auth(&token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "4097")
        .header("upload-metadata", metadata(&[("filename", "big.png")]))
        .send()
        .await
        .unwrap();
    problem(create, StatusCode::PAYLOAD_TOO_LARGE, "file-too-large").await;
    json_of(
        upload(&ctx, &token, "small.png", png(8, 8)).await,
        StatusCode::CREATED,
    )
    .await;
}

async fn roles_and_isolation(server: TestServer) {
    let ctx = with_owner(server).await;
    let base = ctx.server.base.clone();
    let owner = ctx.owner.access_token.clone();
    let editor = invite_and_join(&base, &owner, &ctx.ws, "editor", "editor@example.com")
        .await
        .access_token;
    let viewer = invite_and_join(&base, &owner, &ctx.ws, "viewer", "viewer@example.com")
        .await
        .access_token;
    let outsider = signup(&base, "outsider@example.com").await.access_token;
    let other_ws = create_workspace(&base, &outsider, "Elsewhere").await;

    let media = json_of(
        upload(&ctx, &editor, "e.png", png(10, 10)).await,
        StatusCode::CREATED,
    )
    .await;
    let id = media["id"].as_str().unwrap().to_string();

    // Viewers read but do not write.
    problem(
        upload(&ctx, &viewer, "v.png", png(10, 10)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let page = json_of(get(&ctx, &viewer, "/media").await, StatusCode::OK).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    json_of(
        get(&ctx, &viewer, &format!("/media/{id}")).await,
        StatusCode::OK,
    )
    .await;
    let resp = client()
        .patch(ctx.url(&format!("/media/{id}")))
        .bearer_auth(&viewer)
        .json(&json!({"alt_text": "x"}))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = client()
        .delete(ctx.url(&format!("/media/{id}")))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = client()
        .post(ctx.url("/uploads"))
        .bearer_auth(&viewer)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .header("upload-metadata", metadata(&[("filename", "v.png")]))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = client()
        .post(ctx.url(&format!("/media/{id}/public-url")))
        .bearer_auth(&viewer)
        .json(&json!({"ttl_secs": 60}))
        .send()
        .await
        .unwrap();
    json_of(resp, StatusCode::OK).await;

    // Outsiders see nothing: every route of the workspace answers 404.
    problem(
        get(&ctx, &outsider, "/media").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    problem(
        get(&ctx, &outsider, &format!("/media/{id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    problem(
        upload(&ctx, &outsider, "o.png", png(10, 10)).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let resp = client()
        .patch(ctx.url(&format!("/media/{id}")))
        .bearer_auth(&outsider)
        .json(&json!({"alt_text": "x"}))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::NOT_FOUND, "not-found").await;
    let resp = client()
        .delete(ctx.url(&format!("/media/{id}")))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::NOT_FOUND, "not-found").await;
    let resp = client()
        .post(ctx.url("/uploads"))
        .bearer_auth(&outsider)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::NOT_FOUND, "not-found").await;
    // Their own workspace does not reach this one's media either.
    let theirs = |rest: String| format!("{base}/api/v1/workspaces/{other_ws}{rest}");
    let resp = client()
        .get(theirs(format!("/media/{id}")))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::NOT_FOUND, "not-found").await;
    let resp = client()
        .post(theirs(format!("/media/{id}/public-url")))
        .bearer_auth(&outsider)
        .json(&json!({"ttl_secs": 60}))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::NOT_FOUND, "not-found").await;
    let resp = client()
        .delete(theirs(format!("/media/{id}")))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::NOT_FOUND, "not-found").await;
    let page = json_of(
        client()
            .get(theirs("/media".into()))
            .bearer_auth(&outsider)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["items"], json!([]));

    // No token at all.
    let resp = client().get(ctx.url("/media")).send().await.unwrap();
    problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // The editor may delete; the media is still there until then.
    let resp = client()
        .delete(ctx.url(&format!("/media/{id}")))
        .bearer_auth(&editor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

/// `Upload-Metadata` from pairs.
fn metadata(pairs: &[(&str, &str)]) -> String {
    use base64::Engine;
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} {}",
                base64::engine::general_purpose::STANDARD.encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn tus_create(ctx: &Ctx, length: usize, meta: &[(&str, &str)]) -> String {
    let resp = client()
        .post(ctx.url("/uploads"))
        .bearer_auth(&ctx.owner.access_token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length.to_string())
        .header("upload-metadata", metadata(meta))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    assert!(resp.headers().contains_key("upload-expires"));
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("/api/v1/workspaces/{}/uploads/", ctx.ws)),
        "{location}"
    );
    format!("{}{location}", ctx.server.base)
}

async fn tus_patch(ctx: &Ctx, url: &str, offset: usize, bytes: Vec<u8>) -> reqwest::Response {
    client()
        .patch(url)
        .bearer_auth(&ctx.owner.access_token)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn tus_head(ctx: &Ctx, url: &str) -> reqwest::Response {
    client()
        .head(url)
        .bearer_auth(&ctx.owner.access_token)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap()
}

fn offset_of(resp: &reqwest::Response) -> usize {
    resp.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn resumable_uploads(server: TestServer) {
    let ctx = with_owner(server).await;
    let token = ctx.owner.access_token.clone();

    let options = client()
        .request(reqwest::Method::OPTIONS, ctx.url("/uploads"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.headers()["tus-resumable"], "1.0.0");
    assert_eq!(options.headers()["tus-version"], "1.0.0");
    let extensions = options.headers()["tus-extension"]
        .to_str()
        .unwrap()
        .to_string();
    for ext in ["creation", "termination", "expiration"] {
        assert!(extensions.split(',').any(|e| e == ext), "{extensions}");
    }
    assert_eq!(
        options.headers()["tus-max-size"],
        (5u64 << 30).to_string().as_str()
    );

    // Version negotiation and creation errors.
    let resp = client()
        .post(ctx.url("/uploads"))
        .bearer_auth(&token)
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["tus-version"], "1.0.0");
    problem(
        resp,
        StatusCode::PRECONDITION_FAILED,
        "tus-version-unsupported",
    )
    .await;
    let create = |length: &str, meta: String| {
        client()
            .post(ctx.url("/uploads"))
            .bearer_auth(&token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length.to_string())
            .header("upload-metadata", meta)
            .send()
    };
    problem(
        create("ten", metadata(&[("filename", "a.png")]))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid-header",
    )
    .await;
    problem(
        create("10", "filename !!!".into()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid-upload-metadata",
    )
    .await;
    problem(
        create("10", metadata(&[("filetype", "image/png")]))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid-upload-metadata",
    )
    .await;
    problem(
        create("0", metadata(&[("filename", "a.png")]))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty-file",
    )
    .await;

    // A file in three PATCHes, with a wrong offset and an interrupted request in between.
    let file = noisy_png(320);
    let n = file.len();
    let (a, c) = (n / 3, 2 * n / 3);
    let url = tus_create(
        &ctx,
        n,
        &[
            ("filename", "big.png"),
            ("filetype", "image/png"),
            ("alt_text", "Static"),
            ("tags", "noise"),
        ],
    )
    .await;
    let resp = tus_patch(&ctx, &url, 0, file[..a].to_vec()).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(offset_of(&resp), a);
    assert!(!resp.headers().contains_key("plugboard-media-id"));

    problem(
        tus_patch(&ctx, &url, 0, file[..a].to_vec()).await,
        StatusCode::CONFLICT,
        "offset-mismatch",
    )
    .await;
    let head = tus_head(&ctx, &url).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(offset_of(&head), a);
    assert_eq!(head.headers()["upload-length"], n.to_string().as_str());
    assert_eq!(head.headers()["cache-control"], "no-store");
    assert_eq!(head.headers()["tus-resumable"], "1.0.0");

    let wrong_type = client()
        .patch(&url)
        .bearer_auth(&token)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/octet-stream")
        .header("upload-offset", a.to_string())
        .body(file[a..c].to_vec())
        .send()
        .await
        .unwrap();
    problem(
        wrong_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;

    // The client dies after sending some bytes: they are kept.
    let sent = 10_000;
    let (tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(rx);
    let request = client()
        .patch(&url)
        .bearer_auth(&token)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", a.to_string())
        .body(body)
        .send();
    let feeder = {
        let chunk = file[a..a + sent].to_vec();
        let mut tx = tx;
        async move {
            use futures::SinkExt;
            tx.send(Ok(chunk)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            tx.send(Err(std::io::Error::other("the client crashed")))
                .await
                .unwrap();
        }
    };
    let (result, ()) = tokio::join!(request, feeder);
    assert!(result.is_err(), "the request was cut");
    let mut b = a;
    for _ in 0..100 {
        b = offset_of(&tus_head(&ctx, &url).await);
        if b != a {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(b, a + sent, "the bytes that arrived are kept");

    let resp = tus_patch(&ctx, &url, b, file[b..c].to_vec()).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(offset_of(&resp), c);
    problem(
        tus_patch(
            &ctx,
            &url,
            c,
            file[c..].iter().chain(b"extra").copied().collect(),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "past-upload-length",
    )
    .await;
    let resp = tus_patch(&ctx, &url, c, file[c..].to_vec()).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(offset_of(&resp), n);
    let media_id = resp.headers()["plugboard-media-id"]
        .to_str()
        .unwrap()
        .to_string();

    let media = json_of(
        get(&ctx, &token, &format!("/media/{media_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(media["filename"], "big.png");
    assert_eq!(media["mime_type"], "image/png");
    assert_eq!(
        (media["width"].as_u64(), media["height"].as_u64()),
        (Some(320), Some(320))
    );
    assert_eq!(media["size"], n);
    assert_eq!(media["sha256"], sha256_hex(&file));
    assert_eq!(media["alt_text"], "Static");
    assert_eq!(media["tags"], json!(["noise"]));
    let signed = json_of(
        client()
            .post(ctx.url(&format!("/media/{media_id}/public-url")))
            .bearer_auth(&token)
            .json(&json!({"ttl_secs": 60}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let fetched = client()
        .get(signed["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(fetched.as_ref(), file.as_slice());

    // Completed: HEAD names the media; repeating the last PATCH is harmless; the parts are gone.
    let head = tus_head(&ctx, &url).await;
    assert_eq!(offset_of(&head), n);
    assert_eq!(head.headers()["plugboard-media-id"], media_id.as_str());
    let again = tus_patch(&ctx, &url, n, Vec::new()).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert_eq!(again.headers()["plugboard-media-id"], media_id.as_str());
    assert_eq!(
        stored_files(&ctx.server),
        vec![format!("ws/{}/media/{media_id}", ctx.ws)]
    );
    assert_eq!(activity_count(&ctx, "media.uploaded").await, 1);

    // Termination deletes what was stored.
    let doomed = tus_create(&ctx, 1000, &[("filename", "doomed.png")]).await;
    assert_eq!(
        tus_patch(&ctx, &doomed, 0, file[..400].to_vec())
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(stored_files(&ctx.server).len(), 2);
    let resp = client()
        .delete(&doomed)
        .bearer_auth(&token)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        tus_head(&ctx, &doomed).await.status(),
        StatusCode::NOT_FOUND
    );
    problem(
        tus_patch(&ctx, &doomed, 400, file[400..1000].to_vec()).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert_eq!(stored_files(&ctx.server).len(), 1);

    // A hostile file sent resumably is refused when complete, and leaves nothing.
    let junk = noise(3000, 5);
    let hostile = tus_create(
        &ctx,
        junk.len(),
        &[("filename", "junk.mp4"), ("filetype", "video/mp4")],
    )
    .await;
    assert_eq!(
        tus_patch(&ctx, &hostile, 0, junk[..1500].to_vec())
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    problem(
        tus_patch(&ctx, &hostile, 1500, junk[1500..].to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown-media-type",
    )
    .await;
    assert_eq!(
        tus_head(&ctx, &hostile).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stored_files(&ctx.server),
        vec![format!("ws/{}/media/{media_id}", ctx.ws)]
    );
    assert_eq!(list_ids(&ctx, "").await, vec![media_id.clone()]);

    // Expiry: a session past its time answers 410 and is cleaned up at once.
    let only_media = vec![format!("ws/{}/media/{media_id}", ctx.ws)];
    let stale = tus_create(&ctx, 1000, &[("filename", "stale.png")]).await;
    assert_eq!(
        tus_patch(&ctx, &stale, 0, file[..300].to_vec())
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let stale_id = stale.rsplit('/').next().unwrap().to_string();
    let app = ctx.server.app();
    let past = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
    let sql = app.db.sql("UPDATE uploads SET expires_at = ? WHERE id = ?");
    on_db!(&app.db, |p| sqlx::query(sql)
        .bind(past)
        .bind(&stale_id)
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
    problem(
        tus_patch(&ctx, &stale, 300, file[300..1000].to_vec()).await,
        StatusCode::GONE,
        "upload-expired",
    )
    .await;
    assert_eq!(tus_head(&ctx, &stale).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(stored_files(&ctx.server), only_media);

    // Sessions nobody comes back to are swept 24 hours on; media they produced stay.
    let abandoned = tus_create(&ctx, 1000, &[("filename", "abandoned.png")]).await;
    assert_eq!(
        tus_patch(&ctx, &abandoned, 0, file[..300].to_vec())
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let later = chrono::Utc::now() + chrono::TimeDelta::hours(25);
    let swept = resumable::sweep_expired(app, later).await.unwrap();
    assert_eq!(swept, 2, "the abandoned and the completed session");
    assert_eq!(
        tus_head(&ctx, &abandoned).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(tus_head(&ctx, &url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(stored_files(&ctx.server), only_media);
    assert_eq!(list_ids(&ctx, "").await, vec![media_id]);
}

async fn listing(server: TestServer) {
    let ctx = with_owner(server).await;
    let token = ctx.owner.access_token.clone();
    let mut ids = Vec::new();
    for i in 0..5u32 {
        let form = file_form(&format!("shot-{i}.png"), png(8 + i, 8))
            .text("folder", if i % 2 == 0 { "even" } else { "odd" })
            .text("tags", if i < 2 { "early, Pets" } else { "late" })
            .text("alt_text", if i == 3 { "A 100% cat_photo" } else { "" });
        let m = json_of(upload_form(&ctx, &token, form).await, StatusCode::CREATED).await;
        ids.push(m["id"].as_str().unwrap().to_string());
    }
    let midpoint = json_of(
        get(&ctx, &token, &format!("/media/{}", ids[2])).await,
        StatusCode::OK,
    )
    .await["created_at"]
        .as_str()
        .unwrap()
        .to_string();
    let clip = video(ctx.server.dir.path());
    let vid = json_of(
        upload(&ctx, &token, "clip.mp4", clip).await,
        StatusCode::CREATED,
    )
    .await;
    let vid_id = vid["id"].as_str().unwrap().to_string();

    let newest_first: Vec<String> = std::iter::once(vid_id.clone())
        .chain(ids.iter().rev().cloned())
        .collect();
    assert_eq!(list_ids(&ctx, "").await, newest_first);
    assert_eq!(list_ids(&ctx, "type=video").await, vec![vid_id.clone()]);
    assert_eq!(list_ids(&ctx, "type=audio").await, Vec::<String>::new());
    assert_eq!(list_ids(&ctx, "type=image").await.len(), 5);
    assert_eq!(
        list_ids(&ctx, "folder=odd").await,
        vec![ids[3].clone(), ids[1].clone()]
    );
    assert_eq!(
        list_ids(&ctx, "tag=Pets").await,
        vec![ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(list_ids(&ctx, "tag=pet").await, Vec::<String>::new());
    assert_eq!(list_ids(&ctx, "q=SHOT-4").await, vec![ids[4].clone()]);
    // LIKE wildcards in the query are literal characters.
    assert_eq!(
        list_ids(&ctx, "q=100%25%20cat_").await,
        vec![ids[3].clone()]
    );
    assert_eq!(list_ids(&ctx, "q=_").await, vec![ids[3].clone()]);
    assert_eq!(list_ids(&ctx, "q=clip").await, vec![vid_id.clone()]);
    let encoded = midpoint.replace('+', "%2B").replace(':', "%3A");
    let after = list_ids(&ctx, &format!("created_after={encoded}")).await;
    assert_eq!(after, newest_first[..4].to_vec());
    let before = list_ids(&ctx, &format!("created_before={encoded}")).await;
    assert_eq!(before, vec![ids[1].clone(), ids[0].clone()]);
    assert_eq!(
        list_ids(&ctx, "folder=even&tag=late").await,
        vec![ids[4].clone(), ids[2].clone()]
    );

    // Pages of two, newest first, nothing repeated or skipped.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/media?limit=2&cursor={c}"),
            None => "/media?limit=2".to_string(),
        };
        let page = json_of(get(&ctx, &token, &query).await, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|m| m["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);
    let page = json_of(get(&ctx, &token, "/media?limit=6").await, StatusCode::OK).await;
    assert_eq!(page["next_cursor"], Value::Null);

    // Bad parameters.
    problem(
        get(&ctx, &token, "/media?type=document").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    problem(
        get(&ctx, &token, "/media?limit=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    problem(
        get(&ctx, &token, "/media?limit=201").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    problem(
        get(&ctx, &token, "/media?cursor=bm9wZQ").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    problem(
        get(&ctx, &token, "/media?limit=many").await,
        StatusCode::BAD_REQUEST,
        "invalid-query",
    )
    .await;
    problem(
        get(&ctx, &token, "/media?sort=name").await,
        StatusCode::BAD_REQUEST,
        "invalid-query",
    )
    .await;
    problem(
        get(&ctx, &token, "/media?created_after=yesterday").await,
        StatusCode::BAD_REQUEST,
        "invalid-query",
    )
    .await;
}

/// Runs a scenario on a fresh server with SQLite and with PostgreSQL.
macro_rules! on_both_databases {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $scenario(test_server().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            $scenario(pg_server().await).await;
        }
    )*};
}

on_both_databases! {
    library => library_on_sqlite, library_on_postgres;
    hostile_files => hostile_files_on_sqlite, hostile_files_on_postgres;
    roles_and_isolation => roles_and_isolation_on_sqlite, roles_and_isolation_on_postgres;
    resumable_uploads => resumable_uploads_on_sqlite, resumable_uploads_on_postgres;
    listing => listing_on_sqlite, listing_on_postgres;
}
