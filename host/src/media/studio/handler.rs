//! The `media` job: fetch the inputs to a scratch folder, run the operation in a worker
//! process, probe what it made like any upload, store it and add it to the library. The
//! object is stored before the row and deleted again if the row cannot be written, so a
//! failure never leaves a half-written library item.

use super::supervisor::{self, RunError, Settings};
use super::{JobEvent, Payload, Progress, emit, record_failure};
use crate::app::App;
use crate::jobs::queue::{Job, kinds};
use crate::jobs::{Handler, Outcome};
use crate::media::describe::Description;
use crate::media::ingest::{self, Ended};
use crate::media::{object_key, probe};
use crate::store::activity::Entry;
use crate::store::media::{self as store, MediaRow};
use anyhow::Context;
use futures::StreamExt;
use mediakit::Failure;
use mediakit::av::{AudioStream, AvInfo, VideoStream};
use mediakit::worker::{WorkOrder, output_extension};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

pub struct MediaHandler;

#[async_trait::async_trait]
impl Handler for MediaHandler {
    fn kind(&self) -> &'static str {
        kinds::MEDIA
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        let event = |status: &str, media: Option<String>, error: Option<&Failure>| JobEvent {
            job_id: job.id.clone(),
            workspace_id: job.workspace_id.clone().unwrap_or_default(),
            status: status.into(),
            progress: (status == "done").then_some(100.0),
            result_media_id: media,
            error: error.map(|f| super::JobError {
                kind: f.kind.clone(),
                message: f.message.clone(),
            }),
        };
        match run(app, job).await {
            Ok(media_id) => {
                emit(event("done", Some(media_id.clone()), None));
                Outcome::Done(Some(serde_json::json!({ "media_id": media_id })))
            }
            Err(RunError::Cancelled) => Outcome::Fail("cancelled".into()),
            Err(RunError::Internal(e)) => Outcome::Retry {
                error: format!("{e:#}"),
                after: None,
            },
            Err(e) => {
                let failure = match e {
                    RunError::Failed(f) => f,
                    RunError::TimedOut(_) => Failure::new("timed-out", e.to_string()),
                    other => Failure::new("worker-crashed", other.to_string()),
                };
                if let Err(e) = record_failure(app, &job.id, &failure).await {
                    tracing::warn!(job = %job.id, error = %format!("{e:#}"), "recording a media failure failed");
                }
                emit(event("failed", None, Some(&failure)));
                Outcome::Fail(format!("{}: {}", failure.kind, failure.message))
            }
        }
    }
}

fn failed(kind: &str, message: impl Into<String>) -> RunError {
    RunError::Failed(Failure::new(kind, message))
}

async fn run(app: &App, job: &Job) -> Result<String, RunError> {
    let payload: Payload = serde_json::from_value(job.payload.clone())
        .map_err(|e| failed("internal", format!("unreadable job payload: {e}")))?;
    let workspace = job.workspace_id.clone().unwrap_or_default();
    // The job id names the result: a retry after a crash finds what the first try made.
    if store::get(&app.db, &workspace, &job.id).await?.is_some() {
        return Ok(job.id.clone());
    }
    let mut ids = vec![payload.source.clone()];
    ids.extend(payload.operation.other_inputs());
    let mut rows = Vec::with_capacity(ids.len());
    for id in &ids {
        rows.push(
            store::get(&app.db, &workspace, id)
                .await?
                .ok_or_else(|| failed("source-gone", format!("media `{id}` was deleted")))?,
        );
    }
    let scratch = tempfile::tempdir().context("creating a scratch folder")?;
    let mut inputs = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        inputs.push(fetch(app, row, &scratch.path().join(format!("in{i}"))).await?);
    }
    let output = scratch
        .path()
        .join(format!("out.{}", output_extension(&payload.operation)));
    let settings = Settings::from_env();
    let order = WorkOrder {
        operation: payload.operation.clone(),
        inputs,
        known: rows.iter().map(known_av).collect(),
        output: output.clone(),
        limits: mediakit::Limits::default(),
        memory_bytes: settings.memory_bytes,
        cpu_secs: settings.cpu_secs,
    };
    supervisor::run(app, &settings, &job.id, &order, &Progress::new(job)).await?;
    store_result(app, job, &payload, &rows[0], &output).await
}

/// What the upload's probe recorded of an audio or video item, as the worker needs it; None
/// (the worker probes the file) for images and rows probed before the record had every
/// field.
fn known_av(row: &MediaRow) -> Option<AvInfo> {
    if row.kind != "video" && row.kind != "audio" {
        return None;
    }
    let details: serde_json::Value = serde_json::from_str(&row.probe).ok()?;
    let streams = details.get("streams")?.as_array()?;
    let of_type = |t: &str| {
        streams.iter().find(|s| {
            s.get("type").and_then(|v| v.as_str()) == Some(t)
                && !s
                    .get("attached_pic")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false)
        })
    };
    let text = |s: &serde_json::Value, k: &str| s.get(k)?.as_str().map(str::to_string);
    let video = match (row.kind.as_str(), of_type("video")) {
        ("video", Some(v)) => Some(VideoStream {
            codec: row.video_codec.clone()?,
            width: u32::try_from(row.width?).ok()?,
            height: u32::try_from(row.height?).ok()?,
            frame_rate: text(v, "r_frame_rate")?,
            pix_fmt: text(v, "pix_fmt")?,
        }),
        ("video", None) => return None,
        _ => None,
    };
    let audio = match of_type("audio") {
        Some(a) if row.has_audio => Some(AudioStream {
            codec: row.audio_codec.clone()?,
            sample_rate: text(a, "sample_rate")?,
            channels: u32::try_from(a.get("channels")?.as_u64()?).ok()?,
        }),
        _ => None,
    };
    Some(AvInfo {
        duration_ms: u64::try_from(row.duration_ms?).ok()?,
        video,
        audio,
    })
}

/// The object's file: in place on local storage, else downloaded to `dest`.
async fn fetch(app: &App, row: &MediaRow, dest: &Path) -> Result<PathBuf, RunError> {
    if let Some(path) = app.blobs.local_path(&row.object_key).await? {
        return Ok(path);
    }
    let size = app.blobs.size(&row.object_key).await?;
    let mut stream = app.blobs.stream_range(&row.object_key, 0..size).await?;
    let mut file = tokio::fs::File::create(dest)
        .await
        .context("creating a scratch file")?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("downloading {}", row.object_key))?;
        file.write_all(&chunk)
            .await
            .context("writing a scratch file")?;
    }
    file.flush().await.context("writing a scratch file")?;
    Ok(dest.to_path_buf())
}

/// `clip.mov` + `video` + `mp4` → `clip-video.mp4`.
fn derived_name(source: &str, op: &str, ext: &str) -> String {
    let stem = Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("media");
    let stem: String = stem.chars().take(200).collect();
    format!("{stem}-{op}.{ext}")
}

async fn store_result(
    app: &App,
    job: &Job,
    payload: &Payload,
    source: &MediaRow,
    output: &Path,
) -> Result<String, RunError> {
    // What the worker made is checked like an upload before it joins the library.
    let probed = probe::probe(output).await.map_err(|e| match e {
        probe::ProbeError::Rejected { kind, message } => failed(
            "invalid-output",
            format!("the operation produced an unusable file ({kind}): {message}"),
        ),
        probe::ProbeError::Failed(e) => RunError::Internal(e),
    })?;
    let id = job.id.clone();
    let key = object_key(&source.workspace_id, &id);
    let file = tokio::fs::File::open(output)
        .await
        .context("opening the output")?;
    let mut writer = app.blobs.writer(&key).await?;
    let copied = match ingest::copy_stream(
        &mut writer,
        tokio_util::io::ReaderStream::new(file),
        u64::MAX,
    )
    .await
    {
        Ok(c) if c.ended == Ended::Complete => c,
        Ok(c) => {
            let _ = writer.abort().await;
            return Err(RunError::Internal(anyhow::anyhow!(
                "reading the output failed: {:?}",
                c.ended
            )));
        }
        Err(e) => {
            let _ = writer.abort().await;
            return Err(RunError::Internal(e));
        }
    };
    writer.finish().await?;
    let ext = output_extension(&payload.operation);
    let description = Description {
        filename: derived_name(&source.filename, payload.operation.name(), ext),
        alt_text: source.alt_text.clone(),
        folder: source.folder.clone(),
        tags: serde_json::from_str(&source.tags).unwrap_or_default(),
    };
    let row = ingest::media_row(
        &source.workspace_id,
        &id,
        &copied,
        probed,
        &description,
        payload.created_by.as_deref(),
    );
    let entry = Entry {
        workspace_id: &source.workspace_id,
        actor_id: payload.created_by.as_deref(),
        action: "media.derived",
        subject_type: "media",
        subject_id: Some(&id),
        details: serde_json::json!({
            "source": source.id,
            "operation": payload.operation.name(),
            "preset": payload.preset,
            "filename": row.filename,
        }),
    };
    if let Err(e) = store::insert(&app.db, &row, entry).await {
        ingest::discard(&app.blobs, &key).await;
        return Err(RunError::Internal(e));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn derived_names_keep_the_stem() {
        assert_eq!(
            super::derived_name("clip.mov", "video", "mp4"),
            "clip-video.mp4"
        );
        assert_eq!(
            super::derived_name("a.b.png", "image", "webp"),
            "a.b-image.webp"
        );
    }
}
