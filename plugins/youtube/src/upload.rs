//! The resumable upload: a session per post target (kept in plugin storage, so the next
//! attempt continues it), chunks in multiples of 256 KiB sent by handle from the host's
//! media store, and — after an interrupted transfer — a status query
//! (`Content-Range: bytes */TOTAL`) that tells from which byte to continue.

use super::api::{self, Session};
use plugboard_sdk::http::Response;
use plugboard_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const GRANULARITY: u64 = 256 * 1024;
/// 32 × 256 KiB; the app setting `chunk_bytes` (a multiple of 256 KiB) changes it.
const DEFAULT_CHUNK: u64 = 32 * GRANULARITY;
/// Transfers broken within one call that are resumed before the attempt gives up.
const RESUMES_PER_CALL: u32 = 5;

#[derive(Serialize, Deserialize)]
struct Saved {
    uri: String,
    size: u64,
}

pub fn key(target_id: &str) -> String {
    format!("upload:{target_id}")
}

fn chunk_size() -> Result<u64, PluginError> {
    Ok(secrets::app("chunk_bytes")?
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n >= GRANULARITY && n % GRANULARITY == 0)
        .unwrap_or(DEFAULT_CHUNK))
}

/// Where a session stands: the next byte to send, or the finished video.
pub enum Progress {
    Next(u64),
    Done(Value),
}

/// 308 → the byte after the acknowledged range; 200/201 → the video resource.
fn progress(resp: Response) -> Result<Progress, PluginError> {
    if resp.status == 308 {
        let next = resp
            .header("range")
            .and_then(|r| r.trim().strip_prefix("bytes=0-"))
            .and_then(|end| end.parse::<u64>().ok())
            .map_or(0, |end| end + 1);
        return Ok(Progress::Next(next));
    }
    Ok(Progress::Done(api::check(resp)?.json()?))
}

/// Asks the session how many bytes arrived.
fn query(session: &Session, uri: &str, size: u64) -> Result<Progress, PluginError> {
    progress(
        http::put(uri)
            .bearer(&session.token)
            .header("Content-Range", &format!("bytes */{size}"))
            .send()?,
    )
}

/// The stored session of a target, if one was started: its state at YouTube, or `None`
/// when YouTube no longer knows it (404: expired).
pub fn stored(
    session: &Session,
    target_id: &str,
) -> Result<Option<(String, u64, Progress)>, PluginError> {
    let Some(saved) =
        storage::get_string(&key(target_id))?.and_then(|t| serde_json::from_str::<Saved>(&t).ok())
    else {
        return Ok(None);
    };
    let resp = http::put(&saved.uri)
        .bearer(&session.token)
        .header("Content-Range", &format!("bytes */{}", saved.size))
        .send()?;
    if resp.status == 404 {
        storage::delete(&key(target_id)).map_err(storage::to_plugin_error)?;
        return Ok(None);
    }
    Ok(Some((saved.uri, saved.size, progress(resp)?)))
}

/// Returns the id of the finished video, uploading what is missing.
pub fn upload(
    session: &Session,
    target_id: &str,
    m: &MediaRef,
    metadata: &Value,
) -> Result<Value, PluginError> {
    let (uri, size, mut state) = match stored(session, target_id)?
        .filter(|(_, size, _)| *size == m.size)
    {
        Some(found) => found,
        None => {
            let resp = api::check(
                http::post(&format!("{}/upload/youtube/v3/videos", session.api))
                    .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
                    .bearer(&session.token)
                    .header("X-Upload-Content-Length", &m.size.to_string())
                    .header("X-Upload-Content-Type", &m.mime_type)
                    .bytes(
                        "application/json; charset=UTF-8",
                        serde_json::to_vec(metadata)
                            .map_err(|e| PluginError::Permanent(e.to_string()))?,
                    )
                    .send()?,
            )?;
            let uri = resp
                .header("location")
                .ok_or_else(|| {
                    PluginError::Transient("YouTube started an upload without a session URI".into())
                })?
                .to_string();
            let saved = serde_json::to_string(&Saved {
                uri: uri.clone(),
                size: m.size,
            })
            .map_err(|e| PluginError::Permanent(e.to_string()))?;
            storage::set_string(&key(target_id), &saved)?;
            (uri, m.size, Progress::Next(0))
        }
    };
    let chunk = chunk_size()?;
    let mut resumes = 0;
    loop {
        let offset = match state {
            Progress::Done(video) => return Ok(video),
            Progress::Next(offset) => offset,
        };
        let len = chunk.min(size - offset);
        let sent = http::put(&uri)
            .bearer(&session.token)
            .header("Content-Type", &m.mime_type)
            .header(
                "Content-Range",
                &format!("bytes {offset}-{}/{size}", offset + len - 1),
            )
            .media_body(&m.handle, offset, Some(len))
            .send();
        let broken = match &sent {
            Ok(resp) => resp.status >= 500,
            Err(PluginError::Transient(_)) => true,
            Err(_) => false,
        };
        state = match sent {
            Ok(resp) if resp.status == 404 => {
                storage::delete(&key(target_id)).map_err(storage::to_plugin_error)?;
                return Err(PluginError::Transient(
                    "YouTube's upload session expired; the next attempt starts a new one".into(),
                ));
            }
            // The transfer broke: only the bytes YouTube acknowledges count, so ask.
            _ if broken && resumes < RESUMES_PER_CALL => {
                resumes += 1;
                query(session, &uri, size)?
            }
            Ok(resp) => progress(resp)?,
            Err(e) => return Err(e),
        };
    }
}
