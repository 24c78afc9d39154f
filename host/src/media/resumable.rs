//! Resumable uploads (tus 1.0.0 sessions). Each PATCH body is stored as its own part
//! object and the offset moves only once the part is stored, so an interrupted request
//! keeps what arrived and the client resumes from the offset HEAD reports. When the offset
//! reaches the length, the parts are concatenated into the media object by streaming,
//! probed, and the media row is created in the same transaction that completes the
//! session. Two requests racing to append at one offset cannot both win: the offset only
//! moves from the value each started at.

use super::describe::Description;
use super::ingest::{self, Copied, Ended};
use super::{MediaError, object_key};
use crate::app::App;
use crate::blobs::BlobWriter;
use crate::store::media::{self as store, UploadRow};
use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

/// How long a session lives after it is created.
pub const EXPIRY: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Expired sessions cleaned up per sweep (a sweep runs when a session is created).
const SWEEP_BATCH: i64 = 100;

/// Object-store key of one stored PATCH body.
fn part_key(workspace_id: &str, upload_id: &str) -> String {
    format!(
        "ws/{workspace_id}/uploads/{upload_id}/{}",
        uuid::Uuid::now_v7()
    )
}

/// Starts a session for a file of `length` bytes.
pub async fn create(
    app: &App,
    workspace_id: &str,
    user_id: &str,
    length: u64,
    filetype: Option<String>,
    description: &Description,
) -> Result<UploadRow, MediaError> {
    if length == 0 {
        return Err(MediaError::Rejected {
            kind: "empty-file",
            message: "the file is empty".into(),
        });
    }
    let limit = app.config.max_upload_bytes;
    if length > limit {
        return Err(MediaError::TooLarge { limit });
    }
    let now = ingest::now();
    let row = UploadRow {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_id.to_string(),
        media_id: uuid::Uuid::now_v7().to_string(),
        filename: description.filename.clone(),
        filetype,
        alt_text: description.alt_text.clone(),
        folder: description.folder.clone(),
        tags: description.tags_json(),
        upload_length: i64::try_from(length).context("upload length")?,
        upload_offset: 0,
        created_by: Some(user_id.to_string()),
        created_at: now,
        expires_at: now + EXPIRY,
        completed_at: None,
    };
    store::insert_upload(&app.db, &row).await?;
    Ok(row)
}

/// A session of the workspace: [`MediaError::Unknown`] if there is none,
/// [`MediaError::Expired`] if it has expired (it is then cleaned up at once).
pub async fn find(app: &App, workspace_id: &str, id: &str) -> Result<UploadRow, MediaError> {
    let Some(row) = store::get_upload(&app.db, workspace_id, id).await? else {
        return Err(MediaError::Unknown(vec![id.to_string()]));
    };
    if row.expires_at < Utc::now() {
        terminate(app, workspace_id, id).await?;
        return Err(MediaError::Expired(id.to_string()));
    }
    Ok(row)
}

/// Appends one request body at the session's current offset (the caller has checked that
/// the client's offset matches). Returns the new offset; an interrupted body is kept and
/// reported as [`MediaError::Interrupted`] after the offset has moved past it.
pub async fn append<E: std::fmt::Display>(
    app: &App,
    upload: &UploadRow,
    body: impl Stream<Item = Result<Bytes, E>>,
) -> Result<u64, MediaError> {
    let start = upload.upload_offset;
    let remaining = (upload.upload_length - start).max(0) as u64;
    let key = part_key(&upload.workspace_id, &upload.id);
    let mut writer = app.blobs.writer(&key).await?;
    let copied = match ingest::copy_stream(&mut writer, body, remaining).await {
        Ok(c) => c,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e.into());
        }
    };
    if copied.ended == Ended::OverLimit {
        let _ = writer.abort().await;
        return Err(MediaError::PastEnd {
            length: upload.upload_length.max(0) as u64,
        });
    }
    if copied.size == 0 {
        let _ = writer.abort().await;
        return match copied.ended {
            Ended::Interrupted(e) => Err(MediaError::Interrupted(e)),
            _ => Ok(start as u64),
        };
    }
    writer.finish().await?;
    let size = copied.size as i64;
    if !store::add_part(&app.db, &upload.id, start, size, &key).await? {
        ingest::discard(&app.blobs, &key).await;
        return Err(MediaError::Conflict(
            "the upload moved on while this request ran; HEAD it for the current offset".into(),
        ));
    }
    if let Ended::Interrupted(e) = copied.ended {
        return Err(MediaError::Interrupted(format!(
            "{e}; {} bytes were kept, resume at offset {}",
            copied.size,
            start + size
        )));
    }
    Ok((start + size) as u64)
}

/// Concatenates the parts of a fully received session into its media object, probes it
/// and creates the media row. Running it again (a retry, a racing request) is harmless.
/// A file that fails probing ends the session: its parts and object are deleted.
pub async fn finish(app: &App, upload: &UploadRow) -> Result<String, MediaError> {
    if upload.completed_at.is_some() {
        return Ok(upload.media_id.clone());
    }
    let parts = store::parts(&app.db, &upload.id).await?;
    let mut expected = 0i64;
    for part in &parts {
        if part.start_offset != expected {
            return Err(
                anyhow::anyhow!("upload {} has a gap at offset {expected}", upload.id).into(),
            );
        }
        expected += part.size;
    }
    if expected != upload.upload_length {
        return Err(anyhow::anyhow!(
            "upload {} has {expected} of {} bytes stored",
            upload.id,
            upload.upload_length
        )
        .into());
    }
    let key = object_key(&upload.workspace_id, &upload.media_id);
    let mut writer = app.blobs.writer(&key).await?;
    let copied = match concatenate(app, &parts, &mut writer).await {
        Ok(c) if c.size == expected as u64 => c,
        Ok(c) => {
            let _ = writer.abort().await;
            return Err(anyhow::anyhow!(
                "the parts of upload {} hold {} bytes, not {expected}",
                upload.id,
                c.size
            )
            .into());
        }
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e.into());
        }
    };
    writer.finish().await?;
    let probe = match ingest::probe_stored(&app.blobs, &key).await {
        Ok(p) => p,
        Err(e @ MediaError::Rejected { .. }) => {
            terminate(app, &upload.workspace_id, &upload.id).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let description = Description {
        filename: upload.filename.clone(),
        alt_text: upload.alt_text.clone(),
        folder: upload.folder.clone(),
        tags: serde_json::from_str(&upload.tags).context("stored upload tags")?,
    };
    let row = ingest::media_row(
        &upload.workspace_id,
        &upload.media_id,
        &copied,
        probe,
        &description,
        upload.created_by.as_deref(),
    );
    if store::complete_upload(
        &app.db,
        &upload.id,
        &row,
        ingest::uploaded(&row, "resumable"),
    )
    .await?
    {
        for part in &parts {
            ingest::discard(&app.blobs, &part.object_key).await;
        }
        return Ok(row.id);
    }
    // Someone else completed it first, or the session was terminated meanwhile.
    match store::get(&app.db, &upload.workspace_id, &upload.media_id).await? {
        Some(_) => Ok(upload.media_id.clone()),
        None => Err(MediaError::Conflict(
            "the upload was terminated while it was being completed".into(),
        )),
    }
}

/// Streams the parts one after another into `writer`, hashing as it goes.
async fn concatenate(
    app: &App,
    parts: &[store::PartRow],
    writer: &mut BlobWriter,
) -> anyhow::Result<Copied> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    for part in parts {
        let mut stream = app
            .blobs
            .stream_range(&part.object_key, 0..part.size.max(0) as u64)
            .await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("reading {}", part.object_key))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
            writer.write(chunk).await?;
        }
    }
    Ok(Copied {
        size,
        sha256: hex::encode(hasher.finalize()),
        ended: Ended::Complete,
    })
}

/// Ends a session: its row, its parts and, unless it completed, its half-made object.
/// False if there was no such session.
pub async fn terminate(app: &App, workspace_id: &str, id: &str) -> Result<bool, MediaError> {
    let Some(row) = store::get_upload(&app.db, workspace_id, id).await? else {
        return Ok(false);
    };
    let Some(part_keys) = store::delete_upload(&app.db, workspace_id, id).await? else {
        return Ok(false);
    };
    for key in &part_keys {
        ingest::discard(&app.blobs, key).await;
    }
    if row.completed_at.is_none()
        && store::get(&app.db, workspace_id, &row.media_id)
            .await?
            .is_none()
    {
        let key = object_key(workspace_id, &row.media_id);
        if app.blobs.exists(&key).await? {
            ingest::discard(&app.blobs, &key).await;
        }
    }
    Ok(true)
}

/// Cleans up sessions that expired before `now` (a bounded batch).
pub async fn sweep_expired(app: &App, now: DateTime<Utc>) -> Result<usize, MediaError> {
    let expired = store::expired_uploads(&app.db, now, SWEEP_BATCH).await?;
    let mut n = 0;
    for (workspace_id, id) in expired {
        if terminate(app, &workspace_id, &id).await? {
            n += 1;
        }
    }
    Ok(n)
}
