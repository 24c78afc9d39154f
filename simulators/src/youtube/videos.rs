//! `channels.list`, `videos.insert` over the resumable upload protocol, and `videos.list`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::error::ApiError;
use super::state::{
    Sim, State as Yt, UploadSession, Video, VideoMetadata, pacific_day, random_secret,
};

const READ_SCOPES: &[&str] = &["youtube", "youtube.readonly", "youtube.force-ssl"];
const UPLOAD_SCOPES: &[&str] = &["youtube", "youtube.upload", "youtube.force-ssl"];
/// The video categories YouTube assigns in the US.
const CATEGORIES: &[&str] = &[
    "1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29",
];

/// `GET /youtube/v3/channels?part=snippet&mine=true`.
pub(crate) async fn channels(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    sim.lock().caller(&headers, READ_SCOPES)?;
    if q.get("mine").map(String::as_str) != Some("true")
        || !q
            .get("part")
            .is_some_and(|p| p.split(',').any(|p| p == "snippet"))
    {
        return Err(ApiError::bad_request(
            "This simulator answers channels.list with part=snippet and mine=true",
        ));
    }
    let c = &sim.config;
    Ok(Json(
        json!({"kind": "youtube#channelListResponse", "items": [{
            "kind": "youtube#channel",
            "id": c.channel_id,
            "snippet": {"title": c.channel_title, "customUrl": "@plugboardtest", "thumbnails": {"default": {"url": format!("{}/thumb/{}.jpg", sim.base_url, c.channel_id)}}},
        }]}),
    ))
}

/// Checks `videos.insert` metadata as YouTube does.
fn metadata(body: &Value) -> Result<VideoMetadata, ApiError> {
    let snippet = body.get("snippet").ok_or_else(|| {
        ApiError::invalid(
            "invalidVideoMetadata",
            "The request metadata is invalid: snippet is required.",
        )
    })?;
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let title = text(snippet, "title");
    if title.trim().is_empty() || title.chars().count() > 100 || title.contains(['<', '>']) {
        return Err(ApiError::invalid(
            "invalidTitle",
            "The request metadata specifies an invalid or empty video title.",
        ));
    }
    let description = text(snippet, "description");
    if description.len() > 5000 || description.contains(['<', '>']) {
        return Err(ApiError::invalid(
            "invalidDescription",
            "The request metadata specifies an invalid video description.",
        ));
    }
    let tags: Vec<String> = snippet
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    // Commas between tags count, and a tag with a space counts its quotes.
    let tag_chars: usize = tags
        .iter()
        .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
        .sum::<usize>()
        + tags.len().saturating_sub(1);
    if tag_chars > 500 || tags.iter().any(|t| t.contains(['<', '>'])) {
        return Err(ApiError::invalid(
            "invalidTags",
            "The request metadata specifies invalid video keywords.",
        ));
    }
    let category_id = text(snippet, "categoryId");
    if !category_id.is_empty() && !CATEGORIES.contains(&category_id.as_str()) {
        return Err(ApiError::invalid(
            "invalidCategoryId",
            "The snippet.categoryId property specifies an invalid category ID.",
        ));
    }
    let status = body.get("status").cloned().unwrap_or(json!({}));
    let privacy = status
        .get("privacyStatus")
        .and_then(Value::as_str)
        .unwrap_or("public")
        .to_owned();
    if !["public", "unlisted", "private"].contains(&privacy.as_str()) {
        return Err(ApiError::invalid(
            "invalidVideoMetadata",
            format!("The request metadata specifies an invalid privacy status: {privacy}."),
        ));
    }
    let publish_at = status
        .get("publishAt")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(at) = &publish_at {
        let future = DateTime::parse_from_rfc3339(at).is_ok_and(|t| t > Utc::now());
        if privacy != "private" || !future {
            return Err(ApiError::invalid(
                "invalidPublishAt",
                "The request metadata specifies an invalid scheduled publishing time: it must lie in the future and the video must be private.",
            ));
        }
    }
    let made_for_kids = match status.get("selfDeclaredMadeForKids") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(ApiError::invalid(
                "invalidVideoMetadata",
                "status.selfDeclaredMadeForKids must be a boolean.",
            ));
        }
    };
    Ok(VideoMetadata {
        title,
        description,
        tags,
        category_id: if category_id.is_empty() {
            "22".into()
        } else {
            category_id
        },
        privacy_status: privacy,
        publish_at,
        made_for_kids,
    })
}

/// `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` → 200 with
/// the session URI in `Location`.
pub(crate) async fn insert(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut state = sim.lock();
    state.caller(&headers, UPLOAD_SCOPES)?;
    if q.get("uploadType").map(String::as_str) != Some("resumable") {
        return Err(ApiError::bad_request(
            "This simulator takes uploadType=resumable only",
        ));
    }
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "global",
            "parseError",
            format!("Parse Error: {e}"),
        )
    })?;
    let parts: Vec<&str> = q
        .get("part")
        .map(|p| p.split(',').collect())
        .unwrap_or_default();
    for key in ["snippet", "status"] {
        if body.get(key).is_some() && !parts.contains(&key) {
            return Err(ApiError::bad_request(format!(
                "The request body sets {key} but part does not name it"
            )));
        }
    }
    let total = headers
        .get("x-upload-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n > 0);
    let Some(total) = total else {
        return Err(ApiError::bad_request("X-Upload-Content-Length is required"));
    };
    if total > sim.config.max_video_bytes {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "youtube.video",
            "uploadLimitExceeded",
            "The video exceeds the maximum size.",
        ));
    }
    let kind = headers
        .get("x-upload-content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !(kind.starts_with("video/") || kind == "application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "youtube.video",
            "invalidContentType",
            format!("X-Upload-Content-Type must be video/*, not '{kind}'"),
        ));
    }
    let metadata = metadata(&body)?;
    let day = pacific_day(Utc::now());
    let used = state.uploads.entry(day).or_insert(0);
    if *used >= sim.config.daily_uploads {
        return Err(ApiError::quota_exceeded());
    }
    *used += 1;
    let id = random_secret();
    state.sessions.insert(
        id.clone(),
        UploadSession {
            metadata,
            total,
            received: 0,
            head: Vec::new(),
            video_id: None,
        },
    );
    let location = format!(
        "{}/upload/youtube/v3/videos?uploadType=resumable&upload_id={id}",
        sim.base_url
    );
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("URLs are header-safe"),
    );
    response.headers_mut().insert(
        "x-guploader-uploadid",
        HeaderValue::from_str(&id).expect("ids are header-safe"),
    );
    Ok(response)
}

/// `Content-Range` of an upload PUT: `*` (a status query) or a byte range, and the total.
fn content_range(value: &str) -> Option<(Option<(u64, u64)>, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let total = total.parse().ok()?;
    if range == "*" {
        return Some((None, total));
    }
    let (s, e) = range.split_once('-')?;
    Some((Some((s.parse().ok()?, e.parse().ok()?)), total))
}

/// `PUT <session URI>`: stores a chunk (or answers a status query). `interrupt` keeps only
/// that many bytes of the chunk and answers 503, as a transfer broken mid-way.
pub(crate) fn put(
    sim: &Sim,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: &[u8],
    interrupt: Option<u64>,
) -> Response {
    put_inner(sim, headers, q, body, interrupt).unwrap_or_else(IntoResponse::into_response)
}

fn put_inner(
    sim: &Sim,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: &[u8],
    interrupt: Option<u64>,
) -> Result<Response, ApiError> {
    let mut state = sim.lock();
    let id = q.get("upload_id").cloned().unwrap_or_default();
    let Some(session) = state.sessions.get(&id).cloned() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "global",
            "notFound",
            "The upload session was not found or has expired.",
        ));
    };
    let range = headers.get("content-range").and_then(|v| v.to_str().ok());
    let (range, total) = match range {
        None => (
            Some((0, (body.len() as u64).saturating_sub(1))),
            body.len() as u64,
        ),
        Some(v) => content_range(v).ok_or_else(|| {
            ApiError::bad_request(format!("Failed to parse Content-Range header: {v}"))
        })?,
    };
    if total != session.total {
        return Err(ApiError::bad_request(format!(
            "Content-Range total {total} does not match X-Upload-Content-Length {}",
            session.total
        )));
    }
    let Some((start, end)) = range else {
        if !body.is_empty() {
            return Err(ApiError::bad_request(
                "A status query (bytes */total) carries no body",
            ));
        }
        return Ok(progress(sim, &mut state, &id));
    };
    if start != session.received {
        return Err(ApiError::bad_request(format!(
            "The chunk starts at byte {start}, but {} bytes were received; query the session first",
            session.received
        )));
    }
    if end < start || end >= total || body.len() as u64 != end - start + 1 {
        return Err(ApiError::bad_request(format!(
            "The body is {} bytes; Content-Range says bytes {start}-{end}",
            body.len()
        )));
    }
    let granularity = sim.config.chunk_granularity.max(1);
    if end + 1 < total && !(body.len() as u64).is_multiple_of(granularity) {
        return Err(ApiError::bad_request(format!(
            "Every chunk but the last must be a multiple of {granularity} bytes; this one is {}",
            body.len()
        )));
    }
    let kept = match interrupt {
        Some(keep) => (keep.min(body.len() as u64) / granularity) * granularity,
        None => body.len() as u64,
    };
    let s = state.sessions.get_mut(&id).expect("checked above");
    let take = (12 - s.head.len().min(12)).min(usize::try_from(kept).unwrap_or(usize::MAX));
    s.head.extend_from_slice(&body[..take]);
    s.received += kept;
    if interrupt.is_some() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "global",
            "backendError",
            "Backend Error",
        ));
    }
    Ok(progress(sim, &mut state, &id))
}

/// 308 with `Range` while bytes are missing; the video resource (201 the first time,
/// 200 after) once every byte arrived.
fn progress(sim: &Sim, state: &mut Yt, id: &str) -> Response {
    let session = state
        .sessions
        .get(id)
        .cloned()
        .expect("the caller found it");
    if session.received < session.total {
        let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
        if session.received > 0 {
            let range = format!("bytes=0-{}", session.received - 1);
            response.headers_mut().insert(
                "range",
                HeaderValue::from_str(&range).expect("ranges are header-safe"),
            );
        }
        return response;
    }
    let (video_id, created) = match &session.video_id {
        Some(v) => (v.clone(), false),
        None => {
            let video_id: String = random_secret()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(11)
                .collect();
            state.videos.push(Video {
                id: video_id.clone(),
                metadata: session.metadata.clone(),
                size: session.total,
                is_mp4: session.head.get(4..8) == Some(b"ftyp"),
                uploaded_at: Instant::now(),
            });
            if let Some(s) = state.sessions.get_mut(id) {
                s.video_id = Some(video_id.clone());
            }
            (video_id, true)
        }
    };
    let video = state
        .videos
        .iter()
        .find(|v| v.id == video_id)
        .expect("just stored");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(resource(sim, state, video))).into_response()
}

fn upload_status(state: &Yt, video: &Video) -> (&'static str, &'static str) {
    if video.uploaded_at.elapsed() < state.processing {
        ("uploaded", "processing")
    } else if video.is_mp4 {
        ("processed", "succeeded")
    } else {
        ("failed", "failed")
    }
}

fn resource(sim: &Sim, state: &Yt, video: &Video) -> Value {
    let m = &video.metadata;
    let (upload, processing) = upload_status(state, video);
    let mut status = json!({"uploadStatus": upload, "privacyStatus": m.privacy_status, "license": "youtube", "embeddable": true});
    if let Some(at) = &m.publish_at {
        status["publishAt"] = at.clone().into();
    }
    if let Some(kids) = m.made_for_kids {
        status["selfDeclaredMadeForKids"] = kids.into();
    }
    if upload == "failed" {
        status["failureReason"] = "codec".into();
    }
    json!({
        "kind": "youtube#video",
        "id": video.id,
        "snippet": {"channelId": sim.config.channel_id, "title": m.title, "description": m.description, "tags": m.tags, "categoryId": m.category_id},
        "status": status,
        "processingDetails": {"processingStatus": processing},
    })
}

/// `GET /youtube/v3/videos?part=…&id=a,b`.
pub(crate) async fn list(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let state = sim.lock();
    state.caller(&headers, READ_SCOPES)?;
    if !q.contains_key("part") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "global",
            "required",
            "Required parameter: part",
        ));
    }
    let ids: Vec<&str> = q
        .get("id")
        .map(|i| i.split(',').collect())
        .unwrap_or_default();
    let items: Vec<Value> = state
        .videos
        .iter()
        .filter(|v| ids.contains(&v.id.as_str()))
        .map(|v| resource(&sim, &state, v))
        .collect();
    Ok(Json(
        json!({"kind": "youtube#videoListResponse", "items": items, "pageInfo": {"totalResults": items.len(), "resultsPerPage": items.len()}}),
    ))
}
