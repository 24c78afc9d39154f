//! The Images and Videos APIs: upload initialization, the uploads themselves (images in
//! one PUT with the bearer token, videos in pre-signed ranged parts), finalization and
//! the processing states.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::rest::{may_post_as, restli};
use super::state::{Image, Sim, State as Li, Video, random_secret};

/// Upload URLs are good for a day.
const UPLOAD_URL_TTL_MS: i64 = 86_400_000;

#[derive(Deserialize)]
pub(crate) struct Action {
    action: Option<String>,
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Invalid JSON: {e}")))
}

/// `POST /rest/images?action=initializeUpload`.
pub(crate) async fn images(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(a): Query<Action>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    restli(&sim, &headers)?;
    if a.action.as_deref() != Some("initializeUpload") {
        return Err(ApiError::bad_request(
            "images supports action=initializeUpload",
        ));
    }
    let body = json_body(&body)?;
    let owner = body.pointer("/initializeUploadRequest/owner").and_then(Value::as_str).ok_or_else(|| {
        ApiError::unprocessable("UNPROCESSABLE_ENTITY", "ERROR :: /initializeUploadRequest/owner :: field is required but not found and has no default value")
    })?;
    let mut state = sim.lock();
    let token = state.caller(&headers)?;
    may_post_as(&sim, &token, owner)?;
    let id = format!("D4E22AQ{}", state.next_id());
    let urn = format!("urn:li:image:{id}");
    state.images.insert(
        urn.clone(),
        Image {
            owner: owner.to_owned(),
            uploaded: false,
        },
    );
    Ok(Json(json!({"value": {
        "uploadUrlExpiresAt": Utc::now().timestamp_millis() + UPLOAD_URL_TTL_MS,
        "uploadUrl": format!("{}/dms-uploads/image/{id}", sim.base_url),
        "image": urn,
    }})))
}

/// `PUT` of an image's bytes to its upload URL (bearer token required) → 201.
pub(crate) async fn upload_image(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let mut state = sim.lock();
    state.caller(&headers)?;
    let urn = format!("urn:li:image:{id}");
    if !state.images.contains_key(&urn) {
        return Err(ApiError::not_found(format!(
            "No upload is waiting for {urn}"
        )));
    }
    let (w, h) = image_dimensions(&body)
        .ok_or_else(|| ApiError::bad_request("The uploaded file is not a JPG, PNG or GIF image"))?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels >= sim.config.max_image_pixels {
        return Err(ApiError::bad_request(format!(
            "The image has {pixels} pixels; LinkedIn takes fewer than {}",
            sim.config.max_image_pixels
        )));
    }
    if let Some(image) = state.images.get_mut(&urn) {
        image.uploaded = true;
    }
    Ok(StatusCode::CREATED)
}

/// Width and height of a PNG, GIF or baseline/progressive JPEG.
fn image_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let be16 = |i: usize| Some(u32::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])));
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let be32 = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
        return Some((be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        let le16 = |i: usize| Some(u32::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])));
        return Some((le16(6)?, le16(8)?));
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while i + 9 < b.len() {
            if b[i] != 0xFF {
                return None;
            }
            let marker = b[i + 1];
            if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                return Some((be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + usize::try_from(be16(i + 2)?).ok()?;
        }
    }
    None
}

/// `POST /rest/videos?action=initializeUpload | finalizeUpload`.
pub(crate) async fn videos(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(a): Query<Action>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    restli(&sim, &headers)?;
    let body = json_body(&body)?;
    let mut state = sim.lock();
    let token = state.caller(&headers)?;
    match a.action.as_deref() {
        Some("initializeUpload") => {
            let req = body.get("initializeUploadRequest").ok_or_else(|| {
                ApiError::unprocessable(
                    "UNPROCESSABLE_ENTITY",
                    "ERROR :: /initializeUploadRequest :: field is required but not found",
                )
            })?;
            let owner = req.get("owner").and_then(Value::as_str).ok_or_else(|| {
                ApiError::unprocessable(
                    "UNPROCESSABLE_ENTITY",
                    "ERROR :: /initializeUploadRequest/owner :: field is required but not found",
                )
            })?;
            may_post_as(&sim, &token, owner)?;
            let size = req.get("fileSizeBytes").and_then(Value::as_u64).ok_or_else(|| ApiError::unprocessable("UNPROCESSABLE_ENTITY", "ERROR :: /initializeUploadRequest/fileSizeBytes :: field is required and must be a number"))?;
            if size == 0 || size > sim.config.max_video_bytes {
                return Err(ApiError::unprocessable(
                    "UNPROCESSABLE_ENTITY",
                    format!(
                        "fileSizeBytes {size} is outside 1-{}",
                        sim.config.max_video_bytes
                    ),
                ));
            }
            let id = format!("D5610AQ{}", state.next_id());
            let urn = format!("urn:li:video:{id}");
            let part = sim.config.video_part_bytes.max(1);
            let signature = random_secret();
            let mut parts = Vec::new();
            let mut instructions = Vec::new();
            let mut first = 0;
            while first < size {
                let last = (first + part).min(size) - 1;
                instructions.push(json!({
                    "uploadUrl": format!("{}/dms-uploads/video/{id}/part/{}?sig={signature}", sim.base_url, parts.len()),
                    "firstByte": first,
                    "lastByte": last,
                }));
                parts.push((first, last, None));
                first = last + 1;
            }
            state.videos.insert(
                urn.clone(),
                Video {
                    owner: owner.to_owned(),
                    size,
                    upload_token: signature,
                    parts,
                    head: Vec::new(),
                    finalized: None,
                },
            );
            Ok(Json(json!({"value": {
                "uploadUrlsExpireAt": Utc::now().timestamp_millis() + UPLOAD_URL_TTL_MS,
                "video": urn,
                "uploadInstructions": instructions,
                "uploadToken": state.videos[&urn].upload_token,
            }})))
        }
        Some("finalizeUpload") => {
            let req = body.get("finalizeUploadRequest").ok_or_else(|| {
                ApiError::unprocessable(
                    "UNPROCESSABLE_ENTITY",
                    "ERROR :: /finalizeUploadRequest :: field is required but not found",
                )
            })?;
            let urn = req.get("video").and_then(Value::as_str).unwrap_or_default();
            let video = state
                .videos
                .get_mut(urn)
                .ok_or_else(|| ApiError::not_found(format!("Video {urn} not found")))?;
            if req.get("uploadToken").and_then(Value::as_str) != Some(video.upload_token.as_str()) {
                return Err(ApiError::bad_request(
                    "uploadToken does not match the upload",
                ));
            }
            let sent: Vec<&str> = req
                .get("uploadedPartIds")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let stored: Vec<Option<&str>> = video.parts.iter().map(|p| p.2.as_deref()).collect();
            if stored.iter().any(Option::is_none) {
                return Err(ApiError::bad_request(format!(
                    "{} of {} parts have not been uploaded",
                    stored.iter().filter(|p| p.is_none()).count(),
                    stored.len()
                )));
            }
            if sent.len() != stored.len() || sent.iter().zip(&stored).any(|(s, t)| Some(*s) != *t) {
                return Err(ApiError::bad_request(
                    "uploadedPartIds must be the ETags of every part, in order",
                ));
            }
            video.finalized = Some(Instant::now());
            Ok(Json(json!({})))
        }
        _ => Err(ApiError::bad_request(
            "videos supports action=initializeUpload and action=finalizeUpload",
        )),
    }
}

#[derive(Deserialize)]
pub(crate) struct Signed {
    sig: Option<String>,
}

/// `PUT` of one video part to its pre-signed URL → 200 with the part's `ETag`.
pub(crate) async fn upload_part(
    State(sim): State<Arc<Sim>>,
    Path((id, n)): Path<(String, usize)>,
    Query(s): Query<Signed>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut state = sim.lock();
    let urn = format!("urn:li:video:{id}");
    let video = state
        .videos
        .get_mut(&urn)
        .filter(|v| s.sig.as_deref() == Some(v.upload_token.as_str()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                0,
                "FORBIDDEN",
                "The upload URL is not valid",
            )
        })?;
    if video.finalized.is_some() {
        return Err(ApiError::bad_request(format!("{urn} is already finalized")));
    }
    let Some(part) = video.parts.get_mut(n) else {
        return Err(ApiError::not_found(format!("{urn} has no part {n}")));
    };
    let expected = part.1 - part.0 + 1;
    if body.len() as u64 != expected {
        return Err(ApiError::bad_request(format!(
            "Part {n} must be bytes {}-{} ({expected} bytes), got {} bytes",
            part.0,
            part.1,
            body.len()
        )));
    }
    let etag = format!("/ambry-video/{}", random_secret());
    part.2 = Some(etag.clone());
    if n == 0 {
        video.head = body.iter().take(12).copied().collect();
    }
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(
        "etag",
        HeaderValue::from_str(&etag).expect("ETags are header-safe"),
    );
    Ok(response)
}

/// `WAITING_UPLOAD` until finalized, `PROCESSING` for the configured time, then
/// `AVAILABLE` (or `PROCESSING_FAILED` for a file that is not an MP4).
pub(crate) fn video_status(state: &Li, video: &Video) -> &'static str {
    match video.finalized {
        None => "WAITING_UPLOAD",
        Some(at) if at.elapsed() < state.video_processing => "PROCESSING",
        Some(_) if video.head.get(4..8) != Some(b"ftyp") => "PROCESSING_FAILED",
        Some(_) => "AVAILABLE",
    }
}

/// `GET /rest/videos/{urn}`.
pub(crate) async fn video(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(urn): Path<String>,
) -> Result<Json<Value>, ApiError> {
    restli(&sim, &headers)?;
    let state = sim.lock();
    state.caller(&headers)?;
    let video = state
        .videos
        .get(&urn)
        .ok_or_else(|| ApiError::not_found(format!("Video {urn} not found")))?;
    let status = video_status(&state, video);
    let mut answer =
        json!({"id": urn, "owner": video.owner, "status": status, "fileSizeBytes": video.size});
    if status == "PROCESSING_FAILED" {
        answer["processingFailureReason"] = "The file is not an MP4 video".into();
    }
    Ok(Json(answer))
}
