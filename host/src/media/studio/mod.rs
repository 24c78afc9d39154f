//! The media studio: operations on library items (resize, crop, convert, trim, merge,
//! thumbnails, audio), each run as a durable `media` job in a worker process and producing
//! a new library item while the source stays. Progress is recorded on the job and streamed
//! to subscribers; platform presets come from the plugins' `describe()`.

pub mod handler;
pub mod presets;
pub mod supervisor;

use crate::app::App;
use crate::jobs::now_ms;
use crate::jobs::queue::{self, Job, NewJob, kinds};
use crate::on_db;
use crate::store::media::MediaRow;
use mediakit::Failure;
use mediakit::spec::Operation;
use serde::{Deserialize, Serialize};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

/// What a `media` job carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub operation: Operation,
    /// The source media id.
    pub source: String,
    /// The preset the operation was planned for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    pub created_by: Option<String>,
}

/// A studio job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MediaJob {
    pub id: String,
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    pub status: String,
    /// 0–100, from the media timestamps processed so far.
    pub progress: Option<f64>,
    /// The operation (`op`).
    pub operation: String,
    pub source_media_id: String,
    pub preset: Option<String>,
    /// The new library item, once done.
    pub result_media_id: Option<String>,
    pub error: Option<JobError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobError {
    /// Stable slug, e.g. `corrupt-media`, `timed-out`, `cannot-meet-size`.
    pub kind: String,
    pub message: String,
}

impl MediaJob {
    pub fn of(job: &Job) -> MediaJob {
        let payload: Option<Payload> = serde_json::from_value(job.payload.clone()).ok();
        let result = job.result.as_ref();
        let error = result
            .and_then(|r| r.get("error"))
            .and_then(|e| serde_json::from_value::<JobError>(e.clone()).ok())
            .or_else(|| {
                (job.status == "dead").then(|| JobError {
                    kind: "failed".into(),
                    message: job.last_error.clone().unwrap_or_default(),
                })
            });
        MediaJob {
            id: job.id.clone(),
            status: match job.status.as_str() {
                "dead" => "failed".into(),
                s => s.into(),
            },
            progress: job.progress,
            operation: payload
                .as_ref()
                .map(|p| p.operation.name().to_string())
                .unwrap_or_default(),
            source_media_id: payload
                .as_ref()
                .map(|p| p.source.clone())
                .unwrap_or_default(),
            preset: payload.and_then(|p| p.preset),
            result_media_id: result
                .and_then(|r| r.get("media_id"))
                .and_then(|v| v.as_str())
                .map(str::to_string),
            error,
        }
    }
}

/// A progress or state change of a studio job, for server-sent events.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobEvent {
    pub job_id: String,
    #[serde(skip)]
    pub workspace_id: String,
    /// `running`, `done`, `failed` or `cancelled`.
    pub status: String,
    pub progress: Option<f64>,
    pub result_media_id: Option<String>,
    pub error: Option<JobError>,
}

impl JobEvent {
    pub fn is_final(&self) -> bool {
        self.status != "running"
    }
}

static EVENTS: LazyLock<tokio::sync::broadcast::Sender<JobEvent>> =
    LazyLock::new(|| tokio::sync::broadcast::channel(1024).0);

pub fn subscribe() -> tokio::sync::broadcast::Receiver<JobEvent> {
    EVENTS.subscribe()
}

pub fn emit(event: JobEvent) {
    // No subscriber is fine: the job row has the state.
    let _ = EVENTS.send(event);
}

/// Progress of one running job: every change is streamed, the job row is written at most
/// once a second (and at 100%) so a fast encode does not hammer the database.
pub struct Progress {
    job_id: String,
    workspace_id: String,
    last_write: Mutex<Option<Instant>>,
}

impl Progress {
    pub fn new(job: &Job) -> Progress {
        Progress {
            job_id: job.id.clone(),
            workspace_id: job.workspace_id.clone().unwrap_or_default(),
            last_write: Mutex::new(None),
        }
    }

    pub async fn report(&self, app: &App, percent: f64) {
        emit(JobEvent {
            job_id: self.job_id.clone(),
            workspace_id: self.workspace_id.clone(),
            status: "running".into(),
            progress: Some(percent),
            result_media_id: None,
            error: None,
        });
        let due = {
            let mut last = self.last_write.lock().expect("progress clock");
            let due = percent >= 100.0 || last.is_none_or(|t| t.elapsed().as_millis() >= 1000);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due && let Err(e) = queue::set_progress(&app.db, &self.job_id, percent).await {
            tracing::warn!(job = %self.job_id, error = %format!("{e:#}"), "recording media progress failed");
        }
    }
}

/// Whether the job was cancelled (by a request that may have reached another node).
pub async fn cancelled_in_db(app: &App, job_id: &str) -> bool {
    matches!(queue::get(&app.db, job_id).await, Ok(Some(j)) if j.status == "cancelled")
}

/// Queues `operation` on `source` for `created_by`; the job id also becomes the id of the
/// new library item, so a job retried after a crash never makes two. With `dedupe_key`,
/// None when a live job with that key exists already.
pub async fn enqueue(
    app: &App,
    source: &MediaRow,
    operation: Operation,
    preset: Option<String>,
    created_by: Option<&str>,
    dedupe_key: Option<String>,
) -> anyhow::Result<Option<Job>> {
    let payload = Payload {
        operation,
        source: source.id.clone(),
        preset,
        created_by: created_by.map(str::to_string),
    };
    let id = queue::enqueue(
        &app.db,
        NewJob {
            workspace_id: Some(source.workspace_id.clone()),
            subject_id: Some(source.id.clone()),
            // A worker that dies with the server is retried once; failures of the media
            // itself are final.
            max_attempts: 2,
            dedupe_key,
            ..NewJob::now(kinds::MEDIA, serde_json::to_value(&payload)?)
        },
    )
    .await?;
    let Some(id) = id else { return Ok(None) };
    app.jobs_waker.wake();
    Ok(Some(queue::get(&app.db, &id).await?.ok_or_else(|| {
        anyhow::anyhow!("the media job {id} vanished")
    })?))
}

/// The workspace's latest studio job queued under `dedupe_key`, whatever its state.
pub async fn by_key(
    app: &App,
    workspace_id: &str,
    dedupe_key: &str,
) -> anyhow::Result<Option<Job>> {
    let sql = app.db.sql(
        "SELECT id FROM jobs WHERE dedupe_key = ? AND workspace_id = ? AND kind = ? \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    );
    let id: Option<String> = on_db!(&app.db, |p| sqlx::query_scalar(sql)
        .bind(dedupe_key)
        .bind(workspace_id)
        .bind(kinds::MEDIA)
        .fetch_optional(p)
        .await?);
    match id {
        Some(id) => get(app, workspace_id, &id).await,
        None => Ok(None),
    }
}

/// A studio job of the workspace.
pub async fn get(app: &App, workspace_id: &str, id: &str) -> anyhow::Result<Option<Job>> {
    Ok(queue::get(&app.db, id)
        .await?
        .filter(|j| j.kind == kinds::MEDIA && j.workspace_id.as_deref() == Some(workspace_id)))
}

/// Cancels a queued or running job (a running worker is killed); None when the workspace
/// has no such job. A job already finished stays as it was.
pub async fn cancel(app: &App, workspace_id: &str, id: &str) -> anyhow::Result<Option<Job>> {
    let sql = app.db.sql(
        "UPDATE jobs SET status = 'cancelled', updated_at = ? \
         WHERE id = ? AND workspace_id = ? AND kind = ? AND status IN ('queued', 'running')",
    );
    let n: u64 = on_db!(&app.db, |p| sqlx::query(sql)
        .bind(now_ms())
        .bind(id)
        .bind(workspace_id)
        .bind(kinds::MEDIA)
        .execute(p)
        .await?
        .rows_affected());
    if n == 1 {
        supervisor::cancel(id);
        emit(JobEvent {
            job_id: id.to_string(),
            workspace_id: workspace_id.to_string(),
            status: "cancelled".into(),
            progress: None,
            result_media_id: None,
            error: None,
        });
    }
    get(app, workspace_id, id).await
}

/// Keeps a failure's kind and message on the job (the queue keeps only a message).
pub async fn record_failure(app: &App, job_id: &str, failure: &Failure) -> anyhow::Result<()> {
    let result =
        serde_json::json!({ "error": { "kind": failure.kind, "message": failure.message } })
            .to_string();
    let sql = app
        .db
        .sql("UPDATE jobs SET result = ?, updated_at = ? WHERE id = ?");
    on_db!(&app.db, |p| sqlx::query(sql)
        .bind(&result)
        .bind(now_ms())
        .bind(job_id)
        .execute(p)
        .await
        .map(|_| ()))?;
    Ok(())
}
