//! Media upload through X's v2 endpoints: images in one multipart request, GIFs and video
//! in chunks (initialize → append segments → finalize), alt text through the metadata
//! endpoint. Each segment is sent by handle and byte range, so no file passes through the
//! plugin's memory. Progress is kept in plugin storage per post target and media slot: a
//! retried publish continues with the first segment X has not acknowledged.

use crate::api::{self, MediaUpload, Session};
use plugboard_sdk::http::{MediaBody, Method, Part, PartBody};
use plugboard_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// Segment size when the app sets none: below X's 5 MB per APPEND.
const DEFAULT_CHUNK: u64 = 4 * 1024 * 1024;
const MAX_CHUNK: u64 = 5 * 1024 * 1024;

/// Where an upload stands; stored under its slot's key.
#[derive(Serialize, Deserialize, Default)]
struct Progress {
    media_id: Option<String>,
    /// First segment X has not acknowledged.
    next_segment: u64,
    finalized: bool,
    /// Seconds to wait before asking about processing; none when the media is ready.
    processing: Option<u32>,
    described: bool,
}

/// An uploaded media object; `processing` when X still works on it.
pub struct Uploaded {
    pub id: String,
    pub processing: Option<u32>,
}

/// Storage key of the upload of media `slot` of thread item `item` of a target.
fn key(target: &str, item: usize, slot: usize) -> String {
    format!("up/{target}/{item}/{slot}")
}

fn load(key: &str) -> Result<Progress, PluginError> {
    Ok(storage::get_string(key)?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

fn save(key: &str, progress: &Progress) -> Result<(), PluginError> {
    let text = serde_json::to_string(progress)
        .map_err(|e| PluginError::Permanent(format!("cannot record upload progress: {e}")))?;
    storage::set_string(key, &text)
}

/// The segment size: the `media_chunk_bytes` app setting (tests use small files), capped
/// at X's limit.
fn chunk_size() -> Result<u64, PluginError> {
    Ok(secrets::app("media_chunk_bytes")?
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CHUNK)
        .min(MAX_CHUNK))
}

fn category(mime: &str) -> &'static str {
    if mime == "image/gif" {
        "tweet_gif"
    } else if mime.starts_with("video/") {
        "tweet_video"
    } else {
        "tweet_image"
    }
}

fn file_part(m: &MediaRef, offset: u64, length: Option<u64>) -> Part {
    Part {
        name: "media".into(),
        filename: Some("media".into()),
        content_type: Some(m.mime_type.clone()),
        body: PartBody::Media(MediaBody {
            handle: m.handle.clone(),
            offset,
            length,
        }),
    }
}

fn text_part(name: &str, value: &str) -> Part {
    Part {
        name: name.into(),
        filename: None,
        content_type: None,
        body: PartBody::Text(value.into()),
    }
}

/// Uploads (or continues uploading) `m` for slot (`item`, `slot`) of `target`.
pub fn upload(
    session: &Session,
    target: &str,
    item: usize,
    slot: usize,
    m: &MediaRef,
) -> Result<Uploaded, PluginError> {
    let base = api::api_url()?;
    let key = key(target, item, slot);
    let mut progress = load(&key)?;
    let category = category(&m.mime_type);
    if progress.media_id.is_none() && category == "tweet_image" {
        let url = format!("{base}/2/media/upload");
        let parts = vec![file_part(m, 0, None), text_part("media_category", category)];
        let created: api::Data<MediaUpload> =
            api::check(session.send(Method::Post, &url, &[], |b| b.multipart(parts))?)?.json()?;
        progress.media_id = Some(created.data.id);
        progress.finalized = true;
        save(&key, &progress)?;
    }
    let id = match &progress.media_id {
        Some(id) => id.clone(),
        None => {
            let body = serde_json::json!({
                "media_type": m.mime_type,
                "total_bytes": m.size,
                "media_category": category,
            });
            let created: api::Data<MediaUpload> = api::check(
                session.post_json(&format!("{base}/2/media/upload/initialize"), &body)?,
            )?
            .json()?;
            progress.media_id = Some(created.data.id.clone());
            save(&key, &progress)?;
            created.data.id
        }
    };
    if !progress.finalized {
        let chunk = chunk_size()?;
        let segments = m.size.div_ceil(chunk);
        for segment in progress.next_segment..segments {
            let offset = segment * chunk;
            let length = chunk.min(m.size - offset);
            let parts = vec![
                file_part(m, offset, Some(length)),
                text_part("segment_index", &segment.to_string()),
            ];
            let url = format!("{base}/2/media/upload/{id}/append");
            api::check(session.send(Method::Post, &url, &[], |b| b.multipart(parts))?)?;
            progress.next_segment = segment + 1;
            save(&key, &progress)?;
        }
        let url = format!("{base}/2/media/upload/{id}/finalize");
        let done: api::Data<MediaUpload> =
            api::check(session.send(Method::Post, &url, &[], |b| b)?)?.json()?;
        progress.finalized = true;
        progress.processing = processing(&done.data.processing_info)?;
        save(&key, &progress)?;
    }
    if !progress.described
        && let Some(alt) = m.alt_text.as_deref().filter(|a| !a.is_empty())
    {
        let body = serde_json::json!({"id": id, "metadata": {"alt_text": {"text": alt}}});
        api::check(session.post_json(&format!("{base}/2/media/metadata"), &body)?)?;
        progress.described = true;
        save(&key, &progress)?;
    }
    Ok(Uploaded {
        id,
        processing: progress.processing,
    })
}

/// Seconds to wait when X is still processing; an error when processing failed.
fn processing(info: &Option<api::ProcessingInfo>) -> Result<Option<u32>, PluginError> {
    match info {
        None => Ok(None),
        Some(i) if i.state == "succeeded" => Ok(None),
        Some(i) if i.state == "failed" => Err(invalid(
            "media",
            "media-processing-failed",
            format!(
                "X could not process the media: {}",
                i.error.as_ref().map(|e| e.to_string()).unwrap_or_default()
            ),
        )),
        Some(i) => Ok(Some(i.check_after_secs.unwrap_or(1).max(1))),
    }
}

/// Asks X how processing of `id` is going: none when done.
pub fn status(session: &Session, id: &str) -> Result<Option<u32>, PluginError> {
    let url = format!(
        "{}/2/media/upload?command=STATUS&media_id={id}",
        api::api_url()?
    );
    let resp: api::Data<MediaUpload> = api::check(session.get(&url)?)?.json()?;
    processing(&resp.data.processing_info)
}

/// Forgets the progress of every upload and post of `target` once it is published.
pub fn forget(target: &str) -> Result<(), PluginError> {
    for prefix in [format!("up/{target}/"), format!("tw/{target}/")] {
        for key in storage::list_keys(&prefix).map_err(storage::to_plugin_error)? {
            storage::delete(&key).map_err(storage::to_plugin_error)?;
        }
    }
    Ok(())
}
