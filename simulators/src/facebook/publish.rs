//! Page posts: text and link posts, photos (published, or unpublished for multi-photo
//! posts and stories), photo stories, reading the feed and single objects, deleting.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::state::{Photo, RecordedPost, Sim};
use super::video;
use crate::graph::pull::{Pulled, pull, sniff};
use crate::graph::{GraphError, Params, TokenKind, new_id};

const PHOTO_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/bmp"];

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

fn check_message(sim: &Sim, message: Option<&str>) -> Result<(), GraphError> {
    if let Some(m) = message {
        let n = m.chars().count();
        if n > sim.config.max_message_chars {
            return Err(GraphError::invalid(format!(
                "Message is too long: {n} characters, the limit is {}",
                sim.config.max_message_chars
            ))
            .with_user_message("Post Too Long", "The message of this post is too long."));
        }
    }
    Ok(())
}

/// `attached_media[N]={"media_fbid":"…"}` fields, in index order, or an `attached_media`
/// JSON array.
fn attached_media(params: &Params) -> Result<Vec<String>, GraphError> {
    let mut indexed: Vec<(usize, &str)> = Vec::new();
    for (k, v) in &params.values {
        if let Some(i) = k
            .strip_prefix("attached_media[")
            .and_then(|r| r.strip_suffix(']'))
        {
            let i = i
                .parse()
                .map_err(|_| GraphError::invalid(format!("Invalid parameter name {k}")))?;
            indexed.push((i, v));
        }
    }
    indexed.sort();
    let mut raw: Vec<Value> = Vec::new();
    for (_, v) in indexed {
        raw.push(serde_json::from_str(v).map_err(|_| {
            GraphError::invalid("attached_media must be JSON objects with a media_fbid")
        })?);
    }
    if let Some(list) = params.get("attached_media") {
        match serde_json::from_str::<Value>(list) {
            Ok(Value::Array(items)) => raw.extend(items),
            _ => return Err(GraphError::invalid("attached_media must be an array")),
        }
    }
    raw.iter()
        .map(|v| {
            v["media_fbid"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| GraphError::invalid("attached_media entries need a media_fbid"))
        })
        .collect()
}

/// `POST /{page}/feed`.
pub(crate) async fn create_post(
    State(sim): State<Arc<Sim>>,
    Path(page_id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.page_token(&token, &page_id)?;
    token.require("pages_manage_posts")?;
    let message = params.get("message").filter(|m| !m.is_empty());
    check_message(&sim, message)?;
    let link = params.get("link").filter(|l| !l.is_empty());
    if let Some(l) = link
        && url::Url::parse(l).is_err()
    {
        return Err(GraphError::invalid("link should represent a valid URL"));
    }
    let media = attached_media(&params)?;
    if message.is_none() && link.is_none() && media.is_empty() {
        return Err(GraphError::invalid(
            "Post must have at least one of message, link or attached_media",
        ));
    }
    let published = params.flag("published", true)?;
    let scheduled = match params.get("scheduled_publish_time") {
        None => None,
        Some(s) => {
            if published {
                return Err(GraphError::invalid(
                    "scheduled_publish_time needs published=false",
                ));
            }
            let at: i64 = s
                .parse()
                .map_err(|_| GraphError::invalid("scheduled_publish_time must be a Unix time"))?;
            let ahead = at - Utc::now().timestamp();
            if !(600..=30 * 86_400).contains(&ahead) {
                return Err(GraphError::invalid(
                    "The specified scheduled publish time is invalid: it must be between 10 minutes and 30 days from now",
                ));
            }
            Some(at)
        }
    };
    let mut state = sim.lock();
    for id in &media {
        match state.photos.get(id) {
            Some(p) if p.page_id == page_id && !p.published && !p.used => {}
            Some(_) => {
                return Err(GraphError::invalid(format!(
                    "Photo {id} cannot be attached: it is published or already attached"
                )));
            }
            None => return Err(GraphError::unknown_object(id)),
        }
    }
    for id in &media {
        if let Some(p) = state.photos.get_mut(id) {
            p.used = true;
        }
    }
    let id = format!("{page_id}_{}", new_id());
    state.posts.push(RecordedPost {
        id: id.clone(),
        page_id,
        kind: if media.is_empty() { "status" } else { "album" }.into(),
        message: message.map(str::to_string),
        link: link.map(str::to_string),
        media,
        created_time: Utc::now(),
        deleted: false,
        scheduled_publish_time: scheduled,
    });
    Ok(Json(json!({ "id": id })))
}

/// `GET /{page}/feed`: the Page's published posts, newest first.
pub(crate) async fn feed(
    State(sim): State<Arc<Sim>>,
    Path(page_id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.page_token(&token, &page_id)?;
    token.require("pages_read_engagement")?;
    let since: i64 = params
        .get("since")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let limit: usize = params
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(25)
        .min(100);
    let processing = std::time::Duration::from_millis(sim.config.processing_ms);
    let state = sim.lock();
    let data: Vec<Value> = state
        .posts
        .iter()
        .rev()
        .filter(|p| p.page_id == page_id && !p.deleted && p.scheduled_publish_time.is_none())
        .filter(|p| !p.kind.ends_with("story"))
        .filter(|p| p.created_time.timestamp() >= since)
        .filter(|p| {
            p.media
                .first()
                .and_then(|m| state.videos.get(m))
                .is_none_or(|v| v.ready(processing))
        })
        .take(limit)
        .map(|p| post_json(&sim, p))
        .collect();
    Ok(Json(json!({ "data": data })))
}

fn post_json(sim: &Sim, p: &RecordedPost) -> Value {
    let mut v = json!({
        "id": p.id,
        "created_time": iso(p.created_time),
        "permalink_url": format!("{}/{}", sim.graph.base_url, p.id),
    });
    if let Some(m) = &p.message {
        v["message"] = m.clone().into();
    }
    v
}

/// `POST /{page}/photos`: from `url` (fetched here) or a multipart `source`.
pub(crate) async fn create_photo(
    State(sim): State<Arc<Sim>>,
    Path(page_id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.page_token(&token, &page_id)?;
    token.require("pages_manage_posts")?;
    let caption = params.get("caption").or(params.get("message"));
    check_message(&sim, caption)?;
    let published = params.flag("published", true)?;
    let pulled = photo_bytes(&sim, &params).await?;
    let photo_id = new_id();
    let mut state = sim.lock();
    state.photos.insert(
        photo_id.clone(),
        Photo {
            page_id: page_id.clone(),
            published,
            used: published,
            size: pulled.bytes.len(),
        },
    );
    if !published {
        return Ok(Json(json!({ "id": photo_id })));
    }
    let post_id = format!("{page_id}_{}", new_id());
    state.posts.push(RecordedPost {
        id: post_id.clone(),
        page_id,
        kind: "photo".into(),
        message: caption.map(str::to_string),
        link: None,
        media: vec![photo_id.clone()],
        created_time: Utc::now(),
        deleted: false,
        scheduled_publish_time: None,
    });
    Ok(Json(json!({ "id": photo_id, "post_id": post_id })))
}

async fn photo_bytes(sim: &Sim, params: &Params) -> Result<Pulled, GraphError> {
    let max = sim.config.max_photo_bytes;
    if let Some(url) = params.get("url") {
        return pull(url, PHOTO_TYPES, max)
            .await
            .map_err(|e| e.graph("url"));
    }
    let Some((_, _, data)) = params.files.iter().find(|(n, _, _)| n == "source") else {
        return Err(GraphError::oauth(324, None, "(#324) Requires upload file"));
    };
    check_photo(data, max)?;
    Ok(Pulled::from(data.clone()))
}

fn check_photo(data: &Bytes, max: u64) -> Result<(), GraphError> {
    if data.len() as u64 > max {
        return Err(GraphError::oauth(
            324,
            None,
            "(#324) The photo is too large",
        ));
    }
    match sniff(data) {
        Some(t) if PHOTO_TYPES.contains(&t) => Ok(()),
        _ => Err(GraphError::oauth(
            324,
            None,
            "(#324) Missing or invalid image file",
        )),
    }
}

/// `POST /{page}/photo_stories`: an unpublished Page photo as a story.
pub(crate) async fn photo_story(
    State(sim): State<Arc<Sim>>,
    Path(page_id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.page_token(&token, &page_id)?;
    token.require("pages_manage_posts")?;
    let photo_id = params.required("photo_id")?.to_string();
    let mut state = sim.lock();
    match state.photos.get_mut(&photo_id) {
        Some(p) if p.page_id == page_id && !p.published && !p.used => p.used = true,
        Some(_) => {
            return Err(GraphError::invalid(
                "photo_id must be an unpublished photo of this Page not used elsewhere",
            ));
        }
        None => return Err(GraphError::unknown_object(&photo_id)),
    }
    let post_id = new_id();
    state.posts.push(RecordedPost {
        id: post_id.clone(),
        page_id,
        kind: "photo_story".into(),
        message: None,
        link: None,
        media: vec![photo_id],
        created_time: Utc::now(),
        deleted: false,
        scheduled_publish_time: None,
    });
    Ok(Json(json!({ "success": true, "post_id": post_id })))
}

/// `GET /{id}`: an upload session, a video's status, or a post.
pub(crate) async fn object(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Response, GraphError> {
    if let Some(sid) = id.strip_prefix("upload:") {
        return video::upload_status(&sim, sid, &params).map(IntoResponse::into_response);
    }
    let token = sim.graph.authenticate(&params)?;
    if sim.lock().videos.contains_key(&id) {
        return video::status(&sim, &id, &token).map(IntoResponse::into_response);
    }
    let state = sim.lock();
    let post = state
        .post(&id)
        .ok_or_else(|| GraphError::unknown_object(&id))?;
    if token.kind == TokenKind::Page && token.page_id.as_deref() != Some(&post.page_id) {
        return Err(GraphError::unknown_object(&id));
    }
    Ok(Json(post_json(&sim, post)).into_response())
}

/// `POST /{id}`: only upload sessions take a POST on their own id.
pub(crate) async fn post_object(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Extension(params): Extension<Params>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, GraphError> {
    match id.strip_prefix("upload:") {
        Some(sid) => video::upload_chunk(&sim, sid, &params, &headers, body),
        None => Err(GraphError::method(
            100,
            format!(
                "Unsupported post request. Object with ID '{id}' does not support this operation."
            ),
        )),
    }
}

/// `DELETE /{id}`: a post of the token's Page.
pub(crate) async fn delete(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    token.require("pages_manage_posts")?;
    let mut state = sim.lock();
    let post = state
        .posts
        .iter_mut()
        .find(|p| p.id == id && !p.deleted)
        .ok_or_else(|| GraphError::unknown_object(&id))?;
    if token.page_id.as_deref() != Some(post.page_id.as_str()) {
        return Err(GraphError::oauth(
            210,
            None,
            "(#210) A page access token is required to request this resource.",
        ));
    }
    post.deleted = true;
    Ok(Json(json!({ "success": true })))
}
