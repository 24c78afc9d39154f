//! Video: the Resumable Upload API (`/{app}/uploads`, `/upload:{sid}`), Page videos,
//! reels and video stories in phases with uploads to `rupload` (`/video-upload/…`), and
//! the status a video goes through while it is processed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};

use super::state::{RecordedPost, Sim, Upload, Video, VideoKind};
use crate::graph::pull::{mp4_info, pull, sniff};
use crate::graph::{GraphError, Params, Token, TokenKind, new_id, new_secret};

const VIDEO_TYPES: &[&str] = &["video/mp4", "video/quicktime"];

/// `POST /{app-id}/uploads?file_name&file_length&file_type` with a user token.
pub(crate) async fn start_upload(
    State(sim): State<Arc<Sim>>,
    Path(app_id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    if app_id != sim.config.app_id {
        return Err(GraphError::unknown_object(&app_id));
    }
    if token.kind != TokenKind::User {
        return Err(GraphError::invalid(
            "The Resumable Upload API needs a user access token",
        ));
    }
    let length: u64 = params
        .required("file_length")?
        .parse()
        .map_err(|_| GraphError::invalid("file_length must be a positive integer"))?;
    if length == 0 || length > sim.config.max_video_bytes {
        return Err(GraphError::invalid(format!(
            "file_length must be between 1 and {} bytes",
            sim.config.max_video_bytes
        )));
    }
    let file_type = params.required("file_type")?.to_string();
    if !matches!(
        file_type.as_str(),
        "video/mp4" | "video/quicktime" | "image/jpeg" | "image/png" | "application/pdf"
    ) {
        return Err(GraphError::invalid(format!(
            "file_type {file_type} is not supported"
        )));
    }
    let sid = new_secret("");
    sim.lock().uploads.insert(
        sid.clone(),
        Upload {
            file_length: length,
            file_type,
            data: Vec::new(),
            handle: format!("4:{}", new_secret("")),
            user_id: token.user_id,
        },
    );
    Ok(Json(json!({ "id": format!("upload:{sid}") })))
}

/// The token of an upload endpoint: `Authorization: OAuth <token>` only (they take no
/// `appsecret_proof`).
fn oauth_header_token(sim: &Sim, params: &Params) -> Result<Token, GraphError> {
    match (params.token.as_deref(), params.token_scheme.as_deref()) {
        (Some(t), Some("OAuth")) => sim.graph.core().tokens.check(t),
        _ => Err(GraphError::oauth(
            190,
            None,
            "Upload requests must carry the header Authorization: OAuth <access token>",
        )),
    }
}

/// `POST /upload:{sid}` with `file_offset` and a body of bytes from that offset.
pub(crate) fn upload_chunk(
    sim: &Sim,
    sid: &str,
    params: &Params,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, GraphError> {
    let token = oauth_header_token(sim, params)?;
    let offset: u64 = headers
        .get("file_offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| GraphError::invalid("The header file_offset is required"))?;
    let mut state = sim.lock();
    let upload = state
        .uploads
        .get_mut(sid)
        .filter(|u| u.user_id == token.user_id)
        .ok_or_else(|| GraphError::unknown_object(&format!("upload:{sid}")))?;
    let have = upload.data.len() as u64;
    if offset != have {
        return Err(GraphError::oauth(
            100,
            Some(1_363_037),
            format!(
                "(#100) Invalid file_offset {offset}: the session holds {have} bytes; resume from there"
            ),
        ));
    }
    if have + body.len() as u64 > upload.file_length {
        return Err(GraphError::invalid(format!(
            "The upload exceeds file_length {}",
            upload.file_length
        )));
    }
    upload.data.extend_from_slice(&body);
    if upload.data.len() as u64 == upload.file_length {
        let kind = sniff(&upload.data).unwrap_or("application/octet-stream");
        if kind != upload.file_type {
            return Err(GraphError::invalid(format!(
                "The uploaded file is {kind}, not the declared {}",
                upload.file_type
            )));
        }
    }
    Ok(Json(json!({ "h": upload.handle })))
}

/// `GET /upload:{sid}`: where to resume.
pub(crate) fn upload_status(
    sim: &Sim,
    sid: &str,
    params: &Params,
) -> Result<Json<Value>, GraphError> {
    let token = oauth_header_token(sim, params)?;
    let state = sim.lock();
    let upload = state
        .uploads
        .get(sid)
        .filter(|u| u.user_id == token.user_id)
        .ok_or_else(|| GraphError::unknown_object(&format!("upload:{sid}")))?;
    Ok(Json(
        json!({ "id": format!("upload:{sid}"), "file_offset": upload.data.len() }),
    ))
}

/// `POST /{page}/videos`: from a finished upload handle (`fbuploader_video_file_chunk`),
/// a `file_url` (fetched here) or a multipart `source`.
pub(crate) async fn create_video(
    State(sim): State<Arc<Sim>>,
    Path(page_id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.page_token(&token, &page_id)?;
    token.require("pages_manage_posts")?;
    let description = params.get("description").map(str::to_string);
    let data: Vec<u8> = if let Some(handle) = params.get("fbuploader_video_file_chunk") {
        let state = sim.lock();
        let upload = state
            .uploads
            .values()
            .find(|u| u.handle == handle && u.user_id == token.user_id)
            .ok_or_else(|| {
                GraphError::invalid("fbuploader_video_file_chunk is not a known upload handle")
            })?;
        if (upload.data.len() as u64) < upload.file_length {
            return Err(GraphError::oauth(
                6000,
                None,
                "There was a problem uploading your video file. Please try again: the upload is incomplete",
            ));
        }
        upload.data.clone()
    } else if let Some(url) = params.get("file_url") {
        pull(url, VIDEO_TYPES, sim.config.max_video_bytes)
            .await
            .map_err(|e| e.graph("file_url"))?
            .bytes
            .to_vec()
    } else if let Some((_, _, data)) = params.files.iter().find(|(n, _, _)| n == "source") {
        data.to_vec()
    } else {
        return Err(GraphError::oauth(
            390,
            None,
            "(#390) There was a problem uploading your video file",
        ));
    };
    if !sniff(&data).is_some_and(|t| VIDEO_TYPES.contains(&t)) {
        return Err(GraphError::oauth(
            352,
            None,
            "(#352) Sorry, the video file you selected is in a format that we don't support.",
        ));
    }
    let video_id = new_id();
    let mut state = sim.lock();
    state.videos.insert(
        video_id.clone(),
        Video {
            page_id: page_id.clone(),
            kind: VideoKind::Video,
            file_size: Some(data.len() as u64),
            data,
            finished_at: Some(Instant::now()),
            post_id: Some(video_id.clone()),
            error: None,
        },
    );
    state.posts.push(RecordedPost {
        id: video_id.clone(),
        page_id,
        kind: "video".into(),
        message: description,
        link: None,
        media: vec![video_id.clone()],
        created_time: Utc::now(),
        deleted: false,
        scheduled_publish_time: None,
    });
    Ok(Json(json!({ "id": video_id })))
}

/// `POST /{page}/video_reels` (`upload_phase=start|finish`).
pub(crate) async fn reels(
    State(sim): State<Arc<Sim>>,
    Path(page_id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    phased(&sim, &page_id, &params, VideoKind::Reel)
}

/// `POST /{page}/video_stories` (`upload_phase=start|finish`).
pub(crate) async fn stories(
    State(sim): State<Arc<Sim>>,
    Path(page_id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    phased(&sim, &page_id, &params, VideoKind::Story)
}

fn phased(
    sim: &Sim,
    page_id: &str,
    params: &Params,
    kind: VideoKind,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(params)?;
    sim.page_token(&token, page_id)?;
    token.require("pages_manage_posts")?;
    match params.required("upload_phase")? {
        "start" => {
            let video_id = new_id();
            sim.lock().videos.insert(
                video_id.clone(),
                Video {
                    page_id: page_id.to_string(),
                    kind,
                    file_size: None,
                    data: Vec::new(),
                    finished_at: None,
                    post_id: None,
                    error: None,
                },
            );
            Ok(Json(json!({
                "video_id": video_id,
                "upload_url": format!("{}/video-upload/v25.0/{video_id}", sim.graph.base_url),
            })))
        }
        "finish" => finish(sim, page_id, params, kind),
        other => Err(GraphError::invalid(format!(
            "upload_phase must be start or finish, not {other}"
        ))),
    }
}

fn finish(
    sim: &Sim,
    page_id: &str,
    params: &Params,
    kind: VideoKind,
) -> Result<Json<Value>, GraphError> {
    let video_id = params.required("video_id")?.to_string();
    let description = params.get("description").map(str::to_string);
    if kind == VideoKind::Reel {
        let state = params.required("video_state")?;
        if !matches!(state, "PUBLISHED" | "DRAFT" | "SCHEDULED") {
            return Err(GraphError::invalid(
                "video_state must be PUBLISHED, DRAFT or SCHEDULED",
            ));
        }
        if let Some(d) = &description
            && d.chars().count() > sim.config.max_message_chars
        {
            return Err(GraphError::invalid("description is too long"));
        }
        let day_ago = Utc::now() - chrono::Duration::hours(24);
        let recent = sim
            .lock()
            .posts
            .iter()
            .filter(|p| p.page_id == page_id && p.kind == "reel" && p.created_time > day_ago)
            .count();
        if recent >= sim.config.reels_per_day {
            return Err(GraphError::oauth(
                368,
                Some(1_363_120),
                format!(
                    "This Page has published {recent} reels through the API in the last 24 hours, the limit"
                ),
            ));
        }
    }
    let mut state = sim.lock();
    let video = state
        .videos
        .get_mut(&video_id)
        .filter(|v| v.page_id == page_id && v.kind == kind)
        .ok_or_else(|| GraphError::unknown_object(&video_id))?;
    if video.finished_at.is_some() {
        return Err(GraphError::invalid("This video was already finished"));
    }
    if !video.uploaded() {
        return Err(GraphError::oauth(
            6000,
            Some(1_363_130),
            "There was a problem uploading your video file. Please try again with another file: the upload is incomplete",
        ));
    }
    video.error = constraint_problem(&video.data, kind);
    video.finished_at = Some(Instant::now());
    video.post_id = Some(video_id.clone());
    let post_kind = match kind {
        VideoKind::Reel => "reel",
        VideoKind::Story => "video_story",
        VideoKind::Video => "video",
    };
    state.posts.push(RecordedPost {
        id: video_id.clone(),
        page_id: page_id.to_string(),
        kind: post_kind.into(),
        message: description,
        link: None,
        media: vec![video_id.clone()],
        created_time: Utc::now(),
        deleted: false,
        scheduled_publish_time: None,
    });
    Ok(Json(match kind {
        VideoKind::Story => json!({ "success": true, "post_id": video_id }),
        _ => json!({ "success": true }),
    }))
}

/// What processing refuses: reels 9:16, at least 540×960, 3–90 s; video stories 3–60 s.
fn constraint_problem(data: &[u8], kind: VideoKind) -> Option<String> {
    let Some((ms, w, h)) = mp4_info(data) else {
        return Some("The video file could not be read".into());
    };
    let max_ms = if kind == VideoKind::Story {
        60_000
    } else {
        90_000
    };
    if !(3_000..=max_ms).contains(&ms) {
        return Some(format!(
            "The video lasts {ms} ms; it must last 3 to {} seconds",
            max_ms / 1000
        ));
    }
    if kind == VideoKind::Reel {
        let ratio = f64::from(w) / f64::from(h.max(1));
        if (ratio - 9.0 / 16.0).abs() > 0.01 {
            return Some(format!("The video is {w}x{h}; reels must be 9:16"));
        }
        if w < 540 || h < 960 {
            return Some(format!(
                "The video is {w}x{h}; reels must be at least 540x960"
            ));
        }
    }
    None
}

/// rupload's own error envelope.
fn rupload_error(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"debug_info": {"retriable": false, "type": "ProcessingFailedError", "message": message.into()}})),
    )
        .into_response()
}

/// `POST /video-upload/{version}/{video_id}`: headers `Authorization: OAuth`, `offset`,
/// `file_size`, body = bytes from `offset`; or a `file_url` header and no body.
pub(crate) async fn rupload(
    State(sim): State<Arc<Sim>>,
    Path((_version, video_id)): Path<(String, String)>,
    Extension(params): Extension<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match oauth_header_token(&sim, &params) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let data = match header("file_url") {
        Some(url) => match pull(&url, VIDEO_TYPES, sim.config.max_video_bytes).await {
            Ok(p) => p.bytes,
            Err(e) => return rupload_error(format!("file_url could not be fetched: {e:?}")),
        },
        None => body,
    };
    let from_url = header("file_url").is_some();
    let offset: u64 = match header("offset").and_then(|v| v.parse().ok()) {
        Some(o) => o,
        None if from_url => 0,
        None => return rupload_error("The header offset is required"),
    };
    let size: u64 = match header("file_size").and_then(|v| v.parse().ok()) {
        Some(s) => s,
        None if from_url => data.len() as u64,
        None => return rupload_error("The header file_size is required"),
    };
    let mut state = sim.lock();
    let Some(video) = state.videos.get_mut(&video_id) else {
        return rupload_error(format!("Unknown video id {video_id}"));
    };
    if token.page_id.as_deref() != Some(video.page_id.as_str()) {
        return rupload_error("The access token is not the Page token of this video's Page");
    }
    if video.finished_at.is_some() {
        return rupload_error("The video was already finished");
    }
    if video.file_size.is_some_and(|s| s != size) {
        return rupload_error("file_size differs from the earlier chunks");
    }
    if offset != video.data.len() as u64 {
        return rupload_error(format!(
            "offset {offset} does not match the {} bytes received",
            video.data.len()
        ));
    }
    if offset + data.len() as u64 > size {
        return rupload_error("The body runs past file_size");
    }
    video.file_size = Some(size);
    video.data.extend_from_slice(&data);
    if video.uploaded() && !sniff(&video.data).is_some_and(|t| VIDEO_TYPES.contains(&t)) {
        video.error = Some("The file is not an MP4 or MOV video".into());
    }
    Json(json!({ "success": true })).into_response()
}

/// `GET /{video}?fields=status`.
pub(crate) fn status(sim: &Sim, video_id: &str, token: &Token) -> Result<Json<Value>, GraphError> {
    let state = sim.lock();
    let video = state
        .videos
        .get(video_id)
        .filter(|v| {
            token.kind == TokenKind::User || token.page_id.as_deref() == Some(v.page_id.as_str())
        })
        .ok_or_else(|| GraphError::unknown_object(video_id))?;
    let processing = Duration::from_millis(sim.config.processing_ms);
    let uploaded = video.uploaded();
    let finished = video.finished_at.is_some();
    let ready = video.ready(processing);
    let phase = |done: bool, started: bool| {
        if done {
            "complete"
        } else if started {
            "in_progress"
        } else {
            "not_started"
        }
    };
    let (video_status, processing_phase) = match (&video.error, finished, ready) {
        (Some(e), true, _) => (
            "error",
            json!({"status": "error", "errors": [{"code": 1_363_008, "message": e}]}),
        ),
        (_, _, true) => ("ready", json!({"status": "complete"})),
        (_, true, false) => ("processing", json!({"status": "in_progress"})),
        _ => ("upload_complete", json!({"status": "not_started"})),
    };
    let video_status = if !uploaded { "uploading" } else { video_status };
    let mut publishing = json!({"status": phase(ready && video.error.is_none(), finished)});
    if ready && video.error.is_none() {
        publishing["publish_status"] = "published".into();
        publishing["publish_time"] = Utc::now().timestamp().into();
    }
    Ok(Json(json!({
        "id": video_id,
        "status": {
            "video_status": video_status,
            "uploading_phase": {"status": phase(uploaded, !video.data.is_empty()), "bytes_transferred": video.data.len()},
            "processing_phase": processing_phase,
            "publishing_phase": publishing,
        },
        "permalink_url": format!("{}/reel/{video_id}", sim.graph.base_url),
    })))
}
