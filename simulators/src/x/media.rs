//! Media upload (API v2): simple upload for images, chunked upload
//! (`initialize` → `append` × n → `finalize` → `STATUS` polls) for video and GIFs, and alt
//! text through `/2/media/metadata`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, Uri, header};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::{Signed, authenticate};
use super::error::ApiError;
use super::record::multipart;
use super::state::Sim;

/// How long an uploaded media id stays usable (X: 24 h).
const EXPIRES_AFTER_SECS: u64 = 86_400;
/// Highest `segment_index` X accepts.
const MAX_SEGMENT_INDEX: u32 = 999;
/// Longest alt text.
const MAX_ALT_TEXT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Gif,
    Video,
}

/// One uploaded (or uploading) media object.
#[derive(Debug, Clone, Serialize)]
pub struct Media {
    pub id: String,
    pub kind: MediaKind,
    pub media_type: String,
    pub total_bytes: u64,
    /// Sizes of the appended segments by index (a re-sent index replaces its segment).
    pub segments: BTreeMap<u32, usize>,
    pub alt_text: Option<String>,
    #[serde(skip)]
    pub finalized: Option<Instant>,
    /// Bytes at the start of segment 0, to check the file is what `media_type` says.
    #[serde(skip)]
    head: Vec<u8>,
}

impl Media {
    /// Ready to be attached: images at once, video and GIFs once processing is over.
    pub(crate) fn ready(&self, sim: &Sim) -> bool {
        match (self.kind, self.finalized) {
            (_, None) => false,
            (MediaKind::Image, Some(_)) => true,
            (_, Some(at)) => at.elapsed() >= sim.processing_time(),
        }
    }

    fn processing_info(&self, sim: &Sim) -> Value {
        let Some(at) = self.finalized else {
            return Value::Null;
        };
        let total = sim.processing_time().as_millis().max(1);
        let done = at.elapsed().as_millis();
        if done >= total {
            json!({"state": "succeeded", "progress_percent": 100})
        } else {
            json!({
                "state": if done * 4 < total { "pending" } else { "in_progress" },
                "check_after_secs": 1,
                "progress_percent": (done * 100 / total) as u64,
            })
        }
    }

    fn view(&self, sim: &Sim) -> Value {
        let mut data = json!({
            "id": self.id,
            "media_key": format!("{}_{}", if self.kind == MediaKind::Image { 3 } else { 7 }, self.id),
            "size": self.total_bytes,
            "expires_after_secs": EXPIRES_AFTER_SECS,
        });
        if self.kind != MediaKind::Image && self.finalized.is_some() {
            data["processing_info"] = self.processing_info(sim);
        }
        json!({ "data": data })
    }
}

/// What the first bytes say the file is.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some(if &bytes[8..10] == b"qt" {
            "video/quicktime"
        } else {
            "video/mp4"
        })
    } else {
        None
    }
}

fn auth(
    sim: &Sim,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let request = Signed {
        method,
        uri,
        headers,
        body,
    };
    authenticate(sim, &mut sim.lock(), &request, &["media.write"])
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// `POST /2/media/upload`: one multipart request with the whole image.
pub(crate) async fn upload(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth(&sim, &method, &uri, &headers, &body)?;
    let fields = match multipart(content_type(&headers), body).await {
        Some(Ok(fields)) => fields,
        _ => {
            return Err(ApiError::invalid(
                "The request body must be multipart/form-data",
            ));
        }
    };
    let field = |name: &str| fields.iter().find(|f| f.name == name);
    let media = field("media").ok_or_else(|| ApiError::invalid("The `media` field is required"))?;
    let category = field("media_category")
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_else(|| "tweet_image".into());
    if category != "tweet_image" {
        return Err(ApiError::invalid(format!(
            "media_category `{category}` needs the chunked upload"
        )));
    }
    let kind = sniff(&media.data)
        .filter(|t| t.starts_with("image/"))
        .ok_or_else(|| ApiError::invalid("media type unrecognized."))?;
    if media.data.len() as u64 > sim.config.image_size_limit {
        return Err(ApiError::invalid(format!(
            "File size exceeds {} bytes.",
            sim.config.image_size_limit
        )));
    }
    let mut state = sim.lock();
    let id = state.id();
    let item = Media {
        id: id.clone(),
        kind: MediaKind::Image,
        media_type: kind.to_owned(),
        total_bytes: media.data.len() as u64,
        segments: BTreeMap::from([(0, media.data.len())]),
        alt_text: None,
        finalized: Some(Instant::now()),
        head: Vec::new(),
    };
    let view = item.view(&sim);
    state.media.insert(id, item);
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Initialize {
    media_type: String,
    total_bytes: u64,
    media_category: Option<String>,
}

/// `POST /2/media/upload/initialize`.
pub(crate) async fn initialize(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth(&sim, &method, &uri, &headers, &body)?;
    let init: Initialize = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("Invalid initialize request: {e}")))?;
    let category = init.media_category.as_deref().unwrap_or("tweet_image");
    let (kind, limit) = match (init.media_type.as_str(), category) {
        ("video/mp4" | "video/quicktime", "tweet_video" | "amplify_video") => {
            (MediaKind::Video, sim.config.video_size_limit)
        }
        ("image/gif", "tweet_gif") => (MediaKind::Gif, sim.config.gif_size_limit),
        ("image/jpeg" | "image/png" | "image/webp" | "image/gif", "tweet_image") => {
            (MediaKind::Image, sim.config.image_size_limit)
        }
        (media_type, category) => {
            return Err(ApiError::invalid(format!(
                "media_type `{media_type}` is not allowed with media_category `{category}`"
            )));
        }
    };
    if init.total_bytes == 0 || init.total_bytes > limit {
        return Err(ApiError::invalid(format!(
            "total_bytes must be between 1 and {limit} for {category}"
        )));
    }
    let mut state = sim.lock();
    let id = state.id();
    let item = Media {
        id: id.clone(),
        kind,
        media_type: init.media_type,
        total_bytes: init.total_bytes,
        segments: BTreeMap::new(),
        alt_text: None,
        finalized: None,
        head: Vec::new(),
    };
    let view = item.view(&sim);
    state.media.insert(id, item);
    Ok(Json(view))
}

/// `POST /2/media/upload/{id}/append`: one segment, multipart `media` + `segment_index`.
pub(crate) async fn append(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth(&sim, &method, &uri, &headers, &body)?;
    let fields = match multipart(content_type(&headers), body).await {
        Some(Ok(fields)) => fields,
        _ => {
            return Err(ApiError::invalid(
                "The request body must be multipart/form-data",
            ));
        }
    };
    let field = |name: &str| fields.iter().find(|f| f.name == name);
    let media = field("media").ok_or_else(|| ApiError::invalid("The `media` field is required"))?;
    let index: u32 = field("segment_index")
        .and_then(|f| std::str::from_utf8(&f.data).ok()?.trim().parse().ok())
        .filter(|i| *i <= MAX_SEGMENT_INDEX)
        .ok_or_else(|| ApiError::invalid("segment_index must be an integer from 0 to 999"))?;
    if media.data.len() > sim.config.max_segment_bytes {
        return Err(ApiError::invalid(format!(
            "Segment size exceeds {} bytes",
            sim.config.max_segment_bytes
        )));
    }
    let mut state = sim.lock();
    let item = state
        .media
        .get_mut(&id)
        .ok_or_else(|| ApiError::invalid("Invalid media_id"))?;
    if item.finalized.is_some() {
        return Err(ApiError::invalid("The media was already finalized"));
    }
    item.segments.insert(index, media.data.len());
    if index == 0 {
        item.head = media.data.iter().take(16).copied().collect();
    }
    let received: usize = item.segments.values().sum();
    if received as u64 > item.total_bytes {
        item.segments.remove(&index);
        return Err(ApiError::invalid(
            "Segments exceed the total_bytes given at initialize",
        ));
    }
    let expires = chrono::Utc::now().timestamp() as u64 + EXPIRES_AFTER_SECS;
    Ok(Json(json!({"data": {"expires_at": expires}})))
}

/// `POST /2/media/upload/{id}/finalize`.
pub(crate) async fn finalize(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth(&sim, &method, &uri, &headers, &body)?;
    let mut state = sim.lock();
    let item = state
        .media
        .get_mut(&id)
        .ok_or_else(|| ApiError::invalid("Invalid media_id"))?;
    let contiguous = item
        .segments
        .keys()
        .copied()
        .eq(0..item.segments.len() as u32);
    let received: usize = item.segments.values().sum();
    if !contiguous || received as u64 != item.total_bytes {
        return Err(ApiError::invalid(
            "Segments do not add up to provided total file size.",
        ));
    }
    let sniffed = sniff(&item.head);
    let matches = match item.kind {
        MediaKind::Video => sniffed.is_some_and(|t| t.starts_with("video/")),
        _ => sniffed == Some(item.media_type.as_str()),
    };
    if !matches {
        return Err(ApiError::invalid(
            "InvalidMedia: the file does not match its media_type",
        ));
    }
    item.finalized.get_or_insert_with(Instant::now);
    Ok(Json(item.view(&sim)))
}

/// `GET /2/media/upload?command=STATUS&media_id=…`.
pub(crate) async fn status(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth(&sim, &method, &uri, &headers, &[])?;
    if q.get("command").map(String::as_str) != Some("STATUS") {
        return Err(ApiError::invalid("command must be STATUS"));
    }
    let state = sim.lock();
    let item = q
        .get("media_id")
        .and_then(|id| state.media.get(id))
        .filter(|m| m.finalized.is_some())
        .ok_or_else(|| ApiError::invalid("Invalid media_id"))?;
    Ok(Json(item.view(&sim)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Metadata {
    id: String,
    metadata: MetadataFields,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataFields {
    alt_text: AltText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AltText {
    text: String,
}

/// `POST /2/media/metadata`: alt text of an uploaded media object.
pub(crate) async fn metadata(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth(&sim, &method, &uri, &headers, &body)?;
    let request: Metadata = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("Invalid metadata request: {e}")))?;
    if request.metadata.alt_text.text.chars().count() > MAX_ALT_TEXT {
        return Err(ApiError::invalid(format!(
            "alt_text.text is longer than {MAX_ALT_TEXT} characters"
        )));
    }
    let mut state = sim.lock();
    let item = state
        .media
        .get_mut(&request.id)
        .ok_or_else(|| ApiError::invalid("Invalid media_id"))?;
    item.alt_text = Some(request.metadata.alt_text.text.clone());
    Ok(Json(json!({"data": {
        "id": request.id,
        "associated_metadata": {"alt_text": {"text": request.metadata.alt_text.text}},
    }})))
}
