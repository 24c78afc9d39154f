//! Video uploads: `initializeUpload`, one PUT per upload instruction (a byte range of the
//! stored media, never copied into the plugin), `finalizeUpload` with the ETags in order,
//! and the processing status.
//!
//! Progress is saved in plugin storage under the post target after every part, so an
//! interrupted upload resumes with the parts LinkedIn has not acknowledged — within the
//! call (a failed part is retried) and across attempts (the next publish continues).

use super::api::{self, Session};
use plugboard_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Tries per part within one call before the attempt gives up (transient failures only).
const PART_TRIES: u32 = 3;

#[derive(Serialize, Deserialize)]
struct Progress {
    video: String,
    upload_token: String,
    size: u64,
    /// Unix seconds after which the upload URLs are dead.
    expires_at: u64,
    parts: Vec<Part>,
}

#[derive(Serialize, Deserialize)]
struct Part {
    url: String,
    first: u64,
    last: u64,
    etag: Option<String>,
}

#[derive(Deserialize)]
struct Init {
    value: InitValue,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitValue {
    video: String,
    #[serde(default)]
    upload_token: String,
    upload_urls_expire_at: Option<u64>,
    upload_instructions: Vec<Instruction>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instruction {
    upload_url: String,
    first_byte: u64,
    last_byte: u64,
}

fn key(target_id: &str) -> String {
    format!("video:{target_id}")
}

fn save(target_id: &str, progress: &Progress) -> Result<(), PluginError> {
    let text =
        serde_json::to_string(progress).map_err(|e| PluginError::Permanent(e.to_string()))?;
    storage::set_string(&key(target_id), &text)
}

/// Uploads (or finishes uploading) the video of a post target; returns its URN.
pub fn upload(
    session: &Session,
    owner: &str,
    target_id: &str,
    m: &MediaRef,
) -> Result<String, PluginError> {
    let saved = storage::get_string(&key(target_id))?
        .and_then(|t| serde_json::from_str::<Progress>(&t).ok())
        .filter(|p| p.size == m.size && p.expires_at > api::now() + 60);
    let mut progress = match saved {
        Some(p) => p,
        None => {
            let init: Init = api::check(session.post_json(
                "/rest/videos?action=initializeUpload",
                &json!({"initializeUploadRequest": {
                    "owner": owner,
                    "fileSizeBytes": m.size,
                    "uploadCaptions": false,
                    "uploadThumbnail": false,
                }}),
            )?)?
            .json()?;
            let v = init.value;
            let progress = Progress {
                video: v.video,
                upload_token: v.upload_token,
                size: m.size,
                expires_at: v
                    .upload_urls_expire_at
                    .map(|ms| ms / 1000)
                    .unwrap_or(api::now() + 3600),
                parts: v
                    .upload_instructions
                    .into_iter()
                    .map(|i| Part {
                        url: i.upload_url,
                        first: i.first_byte,
                        last: i.last_byte,
                        etag: None,
                    })
                    .collect(),
            };
            save(target_id, &progress)?;
            progress
        }
    };
    for i in 0..progress.parts.len() {
        if progress.parts[i].etag.is_some() {
            continue;
        }
        let etag = put_part(&progress.parts[i], &m.handle)?;
        progress.parts[i].etag = Some(etag);
        save(target_id, &progress)?;
    }
    let etags: Vec<&str> = progress
        .parts
        .iter()
        .filter_map(|p| p.etag.as_deref())
        .collect();
    api::check(session.post_json(
        "/rest/videos?action=finalizeUpload",
        &json!({"finalizeUploadRequest": {
            "video": progress.video,
            "uploadToken": progress.upload_token,
            "uploadedPartIds": etags,
        }}),
    )?)?;
    storage::delete(&key(target_id)).map_err(storage::to_plugin_error)?;
    Ok(progress.video)
}

/// One ranged PUT to its pre-signed URL; a transient failure is retried, nothing else is.
fn put_part(part: &Part, handle: &str) -> Result<String, PluginError> {
    let mut last_error = None;
    for _ in 0..PART_TRIES {
        let sent = http::put(&part.url)
            .header("Content-Type", "application/octet-stream")
            .media_body(handle, part.first, Some(part.last - part.first + 1))
            .send()
            .and_then(api::check);
        match sent {
            Ok(resp) => {
                return resp.header("etag").map(str::to_string).ok_or_else(|| {
                    PluginError::Transient("LinkedIn accepted a video part without an ETag".into())
                });
            }
            Err(e @ PluginError::Transient(_)) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| PluginError::Transient("the video part upload failed".into())))
}

/// `PROCESSING`, `AVAILABLE`, `PROCESSING_FAILED` or `WAITING_UPLOAD`.
pub fn status(session: &Session, urn: &str) -> Result<String, PluginError> {
    #[derive(Deserialize)]
    struct Video {
        status: String,
    }
    let video: Video =
        api::check(session.get(&format!("/rest/videos/{}", api::encode_urn(urn)))?)?.json()?;
    Ok(video.status)
}
