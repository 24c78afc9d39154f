//! From bytes to a media row: streaming a body into object storage while hashing and
//! counting (memory stays bounded whatever the size), probing the stored object, and
//! building the row. A file that fails probing is deleted again: nothing half-written.

use super::describe::Description;
use super::probe::{self, Probe};
use super::{MediaError, object_key};
use crate::blobs::{BlobWriter, Blobs};
use crate::store::activity::Entry;
use crate::store::media::MediaRow;
use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, SubsecRound, Utc};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// How a body stream ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    Complete,
    /// The stream failed (client gone, malformed body); what came before was written.
    Interrupted(String),
    /// The next chunk would have passed the limit; it was not written.
    OverLimit,
}

/// What [`copy_stream`] wrote.
#[derive(Debug)]
pub struct Copied {
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes written.
    pub sha256: String,
    pub ended: Ended,
}

/// Copies `body` into `writer` until it ends, fails, or would pass `limit` bytes. Storage
/// failures are errors; the caller finishes or aborts the writer.
pub async fn copy_stream<E: std::fmt::Display>(
    writer: &mut BlobWriter,
    body: impl Stream<Item = Result<Bytes, E>>,
    limit: u64,
) -> anyhow::Result<Copied> {
    let mut body = std::pin::pin!(body);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let ended = loop {
        match body.next().await {
            None => break Ended::Complete,
            Some(Err(e)) => break Ended::Interrupted(e.to_string()),
            Some(Ok(chunk)) => {
                if size + chunk.len() as u64 > limit {
                    break Ended::OverLimit;
                }
                size += chunk.len() as u64;
                hasher.update(&chunk);
                writer.write(chunk).await?;
            }
        }
    };
    Ok(Copied {
        size,
        sha256: hex::encode(hasher.finalize()),
        ended,
    })
}

/// Deletes an object that must not stay (a rejected or abandoned file); a failure is
/// logged, since the request already fails for a better reason.
pub async fn discard(blobs: &Blobs, key: &str) {
    if let Err(e) = blobs.delete(key).await {
        tracing::warn!(key, error = %format!("{e:#}"), "could not delete an abandoned object");
    }
}

/// Probes a stored object: in place on local storage, otherwise from a temporary copy
/// (streamed, never held in memory). A rejected object is deleted.
pub async fn probe_stored(blobs: &Blobs, key: &str) -> Result<Probe, MediaError> {
    let result = probe_object(blobs, key).await;
    if matches!(result, Err(MediaError::Rejected { .. })) {
        discard(blobs, key).await;
    }
    result
}

async fn probe_object(blobs: &Blobs, key: &str) -> Result<Probe, MediaError> {
    if let Some(path) = blobs.local_path(key).await? {
        return Ok(probe::probe(&path).await?);
    }
    let temp = tempfile::NamedTempFile::new().context("creating a temporary file for probing")?;
    let size = blobs.size(key).await?;
    let mut stream = blobs.stream_range(key, 0..size).await?;
    let mut file = tokio::fs::File::create(temp.path())
        .await
        .context("opening the temporary file")?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("downloading {key} for probing"))?;
        file.write_all(&chunk)
            .await
            .context("writing the temporary file")?;
    }
    file.flush().await.context("writing the temporary file")?;
    drop(file);
    Ok(probe::probe(temp.path()).await?)
}

/// The current time at the precision both databases keep (PostgreSQL: microseconds), so
/// what an answer shows is what a later read returns.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The row of a newly stored, probed file.
pub fn media_row(
    workspace_id: &str,
    media_id: &str,
    copied: &Copied,
    probe: Probe,
    description: &Description,
    created_by: Option<&str>,
) -> MediaRow {
    MediaRow {
        id: media_id.to_string(),
        workspace_id: workspace_id.to_string(),
        object_key: object_key(workspace_id, media_id),
        filename: description.filename.clone(),
        mime_type: probe.mime_type,
        kind: probe.kind.as_str().to_string(),
        size: i64::try_from(copied.size).unwrap_or(i64::MAX),
        sha256: copied.sha256.clone(),
        width: probe.width.map(i64::from),
        height: probe.height.map(i64::from),
        duration_ms: probe.duration_ms.and_then(|d| i64::try_from(d).ok()),
        frame_rate: probe.frame_rate,
        video_codec: probe.video_codec,
        audio_codec: probe.audio_codec,
        has_audio: probe.has_audio,
        folder: description.folder.clone(),
        tags: description.tags_json(),
        alt_text: description.alt_text.clone(),
        probe: probe.details.to_string(),
        created_by: created_by.map(str::to_string),
        created_at: now(),
    }
}

/// The activity log entry of an upload (`via`: how the file came).
pub fn uploaded<'a>(row: &'a MediaRow, via: &str) -> Entry<'a> {
    Entry {
        workspace_id: &row.workspace_id,
        actor_id: row.created_by.as_deref(),
        action: "media.uploaded",
        subject_type: "media",
        subject_id: Some(&row.id),
        details: serde_json::json!({
            "filename": row.filename,
            "mime_type": row.mime_type,
            "size": row.size,
            "via": via,
        }),
    }
}
