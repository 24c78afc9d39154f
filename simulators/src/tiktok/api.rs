//! The handlers: OAuth (authorize, token), creator info, the three init routes, chunk
//! upload, pulling from URLs, status fetch — with TikTok's `{"data","error"}` envelope.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::state::{Code, OPEN_ID, Publish, Sim, Token};

const PRIVACY: &[&str] = &[
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
];
const MAX_VIDEO_BYTES: u64 = 4 * 1024 * 1024 * 1024;
const MAX_TITLE: usize = 2200;
const MAX_PHOTOS: usize = 35;

fn log_id() -> String {
    format!("{}", chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0))
}

pub(crate) fn ok(data: Value) -> Response {
    Json(json!({"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}}))
        .into_response()
}

pub(crate) fn err(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"data": {}, "error": {"code": code, "message": message, "log_id": log_id()}})),
    )
        .into_response()
}

fn invalid(message: &str) -> Response {
    err(StatusCode::BAD_REQUEST, "invalid_params", message)
}

fn oauth_err(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description, "log_id": log_id()})),
    )
        .into_response()
}

/// The bearer's scopes, or the refusal to answer with.
fn authorize_request(sim: &Sim, headers: &HeaderMap, scope: &str) -> Result<(), Box<Response>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            Box::new(err(
                StatusCode::UNAUTHORIZED,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            ))
        })?;
    let state = sim.lock();
    let token = state
        .tokens
        .get(token.trim())
        .filter(|t| t.expires > Instant::now())
        .ok_or_else(|| {
            Box::new(err(
                StatusCode::UNAUTHORIZED,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            ))
        })?;
    if !token.scopes.split(',').any(|s| s == scope) {
        return Err(Box::new(err(
            StatusCode::UNAUTHORIZED,
            "scope_not_authorized",
            &format!(
                "The user did not authorize the scope required for completing this request: {scope}."
            ),
        )));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !json {
        return Err(Box::new(invalid(
            "Content-Type must be application/json; charset=UTF-8",
        )));
    }
    Ok(())
}

pub(crate) async fn authorize(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("client_key") != sim.config.client_key || get("redirect_uri").is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "client_key or redirect_uri is invalid",
        )
            .into_response();
    }
    let redirect = get("redirect_uri");
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    if get("response_type") != "code"
        || (!get("code_challenge").is_empty() && get("code_challenge_method") != "S256")
    {
        let to = format!(
            "{redirect}{sep}error=invalid_request&state={}",
            enc(get("state"))
        );
        return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    }
    let mut state = sim.lock();
    let code = state.secret("code-");
    state.codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect.to_owned(),
            challenge: Some(get("code_challenge").to_owned()).filter(|c| !c.is_empty()),
            scopes: get("scope").to_owned(),
        },
    );
    let to = format!(
        "{redirect}{sep}code={}&scopes={}&state={}",
        enc(&code),
        enc(get("scope")),
        enc(get("state"))
    );
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

pub(crate) async fn token(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("client_key") != sim.config.client_key
        || get("client_secret") != sim.config.client_secret
    {
        return oauth_err("invalid_client", "Client key or secret is incorrect.");
    }
    let mut state = sim.lock();
    let scopes = match get("grant_type") {
        "authorization_code" => {
            let Some(code) = state.codes.get(get("code")) else {
                return oauth_err("invalid_grant", "Authorization code is expired.");
            };
            let verified = code.challenge.as_ref().is_none_or(|c| {
                URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes())) == *c
            });
            if code.redirect_uri != get("redirect_uri") || !verified {
                return oauth_err("invalid_grant", "Authorization code is invalid.");
            }
            let scopes = code.scopes.clone();
            state.codes.remove(get("code"));
            scopes
        }
        "refresh_token" => match state.refresh_tokens.remove(get("refresh_token")) {
            Some(scopes) => scopes,
            None => return oauth_err("invalid_grant", "Refresh token is invalid or expired."),
        },
        _ => return oauth_err("unsupported_grant_type", "The grant type is not supported."),
    };
    let access = state.secret("act.");
    let refresh = state.secret("rft.");
    state.tokens.insert(
        access.clone(),
        Token {
            scopes: scopes.clone(),
            expires: Instant::now() + Duration::from_secs(sim.config.access_token_ttl_secs),
        },
    );
    state.refresh_tokens.insert(refresh.clone(), scopes.clone());
    Json(json!({
        "open_id": OPEN_ID,
        "scope": scopes,
        "access_token": access,
        "expires_in": sim.config.access_token_ttl_secs,
        "refresh_token": refresh,
        "refresh_expires_in": 31_536_000,
        "token_type": "Bearer",
    }))
    .into_response()
}

fn privacy_options(sim: &Sim) -> Vec<&'static str> {
    if sim.config.audited {
        PRIVACY.to_vec()
    } else {
        vec!["SELF_ONLY"]
    }
}

pub(crate) async fn creator_info(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize_request(&sim, &headers, "video.publish") {
        return *e;
    }
    ok(json!({
        "creator_avatar_url": format!("{}/avatar.jpg", sim.base_url),
        "creator_username": sim.config.username,
        "creator_nickname": sim.config.nickname,
        "privacy_level_options": privacy_options(&sim),
        "comment_disabled": false,
        "duet_disabled": false,
        "stitch_disabled": true,
        "max_video_post_duration_sec": sim.config.max_video_post_duration_sec,
    }))
}

/// Checks `post_info.privacy_level` against the creator's options and the app's audit.
fn check_privacy(sim: &Sim, privacy: Option<&str>) -> Result<(), Box<Response>> {
    let Some(privacy) = privacy else {
        return Err(Box::new(invalid("post_info.privacy_level is required")));
    };
    if !sim.config.audited && privacy != "SELF_ONLY" {
        return Err(Box::new(err(
            StatusCode::FORBIDDEN,
            "unaudited_client_can_only_post_to_private_accounts",
            "Please review our integration guidelines at https://developers.tiktok.com/doc/content-sharing-guidelines/",
        )));
    }
    if !privacy_options(sim).contains(&privacy) {
        return Err(Box::new(err(
            StatusCode::BAD_REQUEST,
            "privacy_level_option_mismatch",
            "privacy_level is not one of the creator's privacy_level_options",
        )));
    }
    Ok(())
}

/// `POST /v2/post/publish/video/init/` (`inbox` false) and
/// `/v2/post/publish/inbox/video/init/` (`inbox` true).
pub(crate) async fn video_init(
    sim: Arc<Sim>,
    headers: HeaderMap,
    body: Bytes,
    inbox: bool,
) -> Response {
    let scope = if inbox {
        "video.upload"
    } else {
        "video.publish"
    };
    if let Err(e) = authorize_request(&sim, &headers, scope) {
        return *e;
    }
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return invalid("The request body is not valid JSON");
    };
    let title = input["post_info"]["title"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    if !inbox {
        if let Err(e) = check_privacy(&sim, input["post_info"]["privacy_level"].as_str()) {
            return *e;
        }
        if title.encode_utf16().count() > MAX_TITLE {
            return invalid("post_info.title is longer than 2200 characters");
        }
    }
    let source = &input["source_info"];
    let mut publish = Publish {
        publish_id: String::new(),
        route: if inbox { "inbox_video" } else { "video" }.into(),
        source: source["source"].as_str().unwrap_or("").to_owned(),
        privacy_level: input["post_info"]["privacy_level"]
            .as_str()
            .map(str::to_owned),
        title,
        video_size: 0,
        chunk_size: 0,
        total_chunk_count: 0,
        chunks: Vec::new(),
        uploaded_bytes: 0,
        pulled: Vec::new(),
        fail_reason: None,
        complete_at: None,
        post_id: None,
    };
    let urls = match publish.source.as_str() {
        "FILE_UPLOAD" => {
            let (Some(size), Some(chunk), Some(count)) = (
                source["video_size"].as_u64(),
                source["chunk_size"].as_u64(),
                source["total_chunk_count"].as_u64(),
            ) else {
                return invalid("source_info needs video_size, chunk_size and total_chunk_count");
            };
            if let Err(message) = check_chunks(&sim, size, chunk, count) {
                return invalid(&message);
            }
            (
                publish.video_size,
                publish.chunk_size,
                publish.total_chunk_count,
            ) = (size, chunk, count);
            Vec::new()
        }
        "PULL_FROM_URL" => match source["video_url"].as_str() {
            Some(url) => vec![url.to_owned()],
            None => return invalid("source_info.video_url is required"),
        },
        _ => return invalid("source_info.source must be FILE_UPLOAD or PULL_FROM_URL"),
    };
    let id = {
        let mut state = sim.lock();
        let id = state.id("v_pub_file~v2-1.");
        publish.publish_id = id.clone();
        state.publishes.push(publish);
        id
    };
    if urls.is_empty() {
        ok(
            json!({"publish_id": id, "upload_url": format!("{}/upload/?upload_id={id}", sim.base_url)}),
        )
    } else {
        tokio::spawn(pull(Arc::clone(&sim), id.clone(), urls, "video/"));
        ok(json!({"publish_id": id}))
    }
}

/// The chunk rules of the media transfer guide.
fn check_chunks(sim: &Sim, size: u64, chunk: u64, count: u64) -> Result<(), String> {
    let c = &sim.config;
    if size == 0 || size > MAX_VIDEO_BYTES {
        return Err("video_size must be between 1 byte and 4 GB".into());
    }
    if size < c.min_chunk_bytes {
        return if chunk == size && count == 1 {
            Ok(())
        } else {
            Err(format!(
                "a video under {} bytes is uploaded whole: chunk_size = video_size, total_chunk_count = 1",
                c.min_chunk_bytes
            ))
        };
    }
    if chunk < c.min_chunk_bytes || chunk > c.max_chunk_bytes {
        return Err(format!(
            "chunk_size must be between {} and {} bytes",
            c.min_chunk_bytes, c.max_chunk_bytes
        ));
    }
    if count != size / chunk || !(1..=1000).contains(&count) {
        return Err("total_chunk_count must be floor(video_size / chunk_size), 1 to 1000".into());
    }
    if size - (count - 1) * chunk > c.max_last_chunk_bytes {
        return Err(format!(
            "the last chunk may be at most {} bytes",
            c.max_last_chunk_bytes
        ));
    }
    Ok(())
}

/// `PUT /upload/?upload_id=…`: one chunk, in order, with `Content-Range`.
pub(crate) async fn upload(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = q.get("upload_id").cloned().unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !matches!(content_type, "video/mp4" | "video/quicktime" | "video/webm") {
        return invalid("Content-Type must be video/mp4, video/quicktime or video/webm");
    }
    let range = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let Some((first, last, total)) = range else {
        return invalid("Content-Range must be `bytes first-last/total`");
    };
    let mut state = sim.lock();
    let Some(publish) = state.publish_mut(&id).filter(|p| p.source == "FILE_UPLOAD") else {
        return err(
            StatusCode::NOT_FOUND,
            "invalid_params",
            "upload_url is invalid or expired",
        );
    };
    let index = first / publish.chunk_size.max(1);
    let is_last = index + 1 == publish.total_chunk_count;
    let expected_len = if is_last {
        publish.video_size - first
    } else {
        publish.chunk_size
    };
    if total != publish.video_size
        || first != publish.uploaded_bytes
        || first % publish.chunk_size != 0
        || last + 1 - first != expected_len
        || body.len() as u64 != expected_len
    {
        return (
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!(
                "expected bytes {}-{}/{}",
                publish.uploaded_bytes,
                publish.uploaded_bytes + expected_len - 1,
                publish.video_size
            ),
        )
            .into_response();
    }
    if first == 0 && !(body.len() >= 12 && &body[4..8] == b"ftyp") && content_type != "video/webm" {
        publish.fail_reason = Some("file_format_check_failed".into());
    }
    publish.chunks.push((first, last));
    publish.uploaded_bytes = last + 1;
    if is_last {
        publish.complete_at = Some(Instant::now());
        StatusCode::CREATED.into_response()
    } else {
        StatusCode::PARTIAL_CONTENT.into_response()
    }
}

fn parse_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last, total) = (first.parse().ok()?, last.parse().ok()?, total.parse().ok()?);
    (first <= last && last < total).then_some((first, last, total))
}

/// Fetches every URL as TikTok does, checks status and type, and marks the publish.
async fn pull(sim: Arc<Sim>, id: String, urls: Vec<String>, kind: &'static str) {
    let client = reqwest::Client::new();
    let mut sizes = Vec::new();
    let mut failure = None;
    for url in &urls {
        let fetched = match client.get(url).send().await {
            Ok(resp) if resp.status().is_success() => resp.bytes().await.ok(),
            _ => None,
        };
        let Some(bytes) = fetched else {
            failure = Some(if kind == "video/" {
                "video_pull_failed"
            } else {
                "photo_pull_failed"
            });
            break;
        };
        let type_ok = match kind {
            "video/" => bytes.len() >= 12 && &bytes[4..8] == b"ftyp",
            _ => {
                bytes.starts_with(&[0xFF, 0xD8, 0xFF])
                    || (bytes.len() >= 12 && &bytes[8..12] == b"WEBP")
            }
        };
        if !type_ok {
            failure = Some("file_format_check_failed");
            break;
        }
        sizes.push(bytes.len() as u64);
    }
    let mut state = sim.lock();
    if let Some(publish) = state.publish_mut(&id) {
        publish.uploaded_bytes = sizes.iter().sum();
        publish.pulled = sizes;
        publish.fail_reason = failure.map(str::to_owned);
        publish.complete_at = Some(Instant::now());
    }
}

/// `POST /v2/post/publish/content/init/`: photo posts pulled from URLs.
pub(crate) async fn content_init(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return invalid("The request body is not valid JSON");
    };
    let mode = input["post_mode"].as_str().unwrap_or("");
    let scope = if mode == "MEDIA_UPLOAD" {
        "video.upload"
    } else {
        "video.publish"
    };
    if let Err(e) = authorize_request(&sim, &headers, scope) {
        return *e;
    }
    if input["media_type"] != "PHOTO" || !matches!(mode, "DIRECT_POST" | "MEDIA_UPLOAD") {
        return invalid("media_type must be PHOTO and post_mode DIRECT_POST or MEDIA_UPLOAD");
    }
    if mode == "DIRECT_POST"
        && let Err(e) = check_privacy(&sim, input["post_info"]["privacy_level"].as_str())
    {
        return *e;
    }
    let source = &input["source_info"];
    let urls: Vec<String> = source["photo_images"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if source["source"] != "PULL_FROM_URL" || urls.is_empty() || urls.len() > MAX_PHOTOS {
        return invalid("source_info needs source PULL_FROM_URL and 1 to 35 photo_images");
    }
    if source["photo_cover_index"]
        .as_u64()
        .is_none_or(|i| i as usize >= urls.len())
    {
        return invalid("photo_cover_index must index photo_images");
    }
    let id = {
        let mut state = sim.lock();
        let id = state.id("p_pub_url~v2.");
        state.publishes.push(Publish {
            publish_id: id.clone(),
            route: if mode == "MEDIA_UPLOAD" {
                "inbox_photo"
            } else {
                "photo"
            }
            .into(),
            source: "PULL_FROM_URL".into(),
            privacy_level: input["post_info"]["privacy_level"]
                .as_str()
                .map(str::to_owned),
            title: input["post_info"]["title"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            video_size: 0,
            chunk_size: 0,
            total_chunk_count: 0,
            chunks: Vec::new(),
            uploaded_bytes: 0,
            pulled: Vec::new(),
            fail_reason: None,
            complete_at: None,
            post_id: None,
        });
        id
    };
    tokio::spawn(pull(Arc::clone(&sim), id.clone(), urls, "image/"));
    ok(json!({"publish_id": id}))
}

/// `POST /v2/post/publish/status/fetch/`.
pub(crate) async fn status(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = authorize_request(&sim, &headers, "video.publish")
        .or_else(|_| authorize_request(&sim, &headers, "video.upload"))
    {
        return *e;
    }
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["publish_id"].as_str().map(str::to_owned));
    let Some(id) = id else {
        return invalid("publish_id is required");
    };
    let processing = Duration::from_millis(sim.config.processing_ms);
    let mut state = sim.lock();
    let next = state.next_id + 1;
    let Some(publish) = state.publish_mut(&id) else {
        return invalid("publish_id does not exist");
    };
    let done = publish
        .complete_at
        .is_some_and(|at| at.elapsed() >= processing);
    let status = match (&publish.fail_reason, publish.complete_at, done) {
        (Some(_), Some(_), _) => "FAILED",
        (_, None, _) if publish.source == "FILE_UPLOAD" => "PROCESSING_UPLOAD",
        (_, None, _) => "PROCESSING_DOWNLOAD",
        (_, Some(_), false) => "PROCESSING_UPLOAD",
        (_, Some(_), true) if publish.route.starts_with("inbox") => "SEND_TO_USER_INBOX",
        (_, Some(_), true) => "PUBLISH_COMPLETE",
    };
    let mut created = false;
    if status == "PUBLISH_COMPLETE" && publish.post_id.is_none() {
        publish.post_id = Some(format!("{}", 7_500_000_000_000_000_000u64 + next));
        created = true;
    }
    // Only public posts are publicly available (TikTok lists none for private ones).
    let public: Vec<String> = publish
        .post_id
        .iter()
        .filter(|_| publish.privacy_level.as_deref() != Some("SELF_ONLY"))
        .cloned()
        .collect();
    let mut data = json!({
        "status": status,
        "publicaly_available_post_id": public,
        "uploaded_bytes": publish.uploaded_bytes,
    });
    if let Some(reason) = publish.fail_reason.clone().filter(|_| status == "FAILED") {
        data["fail_reason"] = reason.into();
    }
    if created {
        state.next_id += 1;
    }
    ok(data)
}

/// The 429 TikTok answers when a rate limit is hit, with the wait in `Retry-After`.
pub(crate) fn rate_limited(reset_after_secs: u64) -> Response {
    let mut response = err(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "Your request is blocked due to exceeding the API rate limit.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(reset_after_secs));
    response
}

pub(crate) async fn video(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    video_init(sim, headers, body, false).await
}

pub(crate) async fn inbox_video(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    video_init(sim, headers, body, true).await
}

pub(crate) async fn not_found() -> Response {
    err(
        StatusCode::NOT_FOUND,
        "invalid_params",
        "The requested path does not exist",
    )
}
