//! The media studio API: operations on library items and platform presets, each run as a
//! `media` job whose progress is readable by id and streamed as server-sent events, and
//! which can be cancelled.

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::media::studio::presets::{self, PlanError, Preset};
use crate::media::studio::{self, JobEvent, MediaJob};
use crate::store::media::{self as store, MediaRow};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use mediakit::spec::{Fit, Operation};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(transform))
        .routes(routes!(fit))
        .routes(routes!(fit_check))
        .routes(routes!(list_presets))
        .routes(routes!(get_job))
        .routes(routes!(cancel_job))
        .routes(routes!(job_events))
}

async fn source(app: &App, member: &Member, id: &str) -> Result<MediaRow, Problem> {
    store::get(&app.db, &member.workspace_id, id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("media `{id}` not found")))
}

fn invalid(field: &str, message: &str) -> Problem {
    Problem::unprocessable("invalid-field", format!("`{field}` {message}")).with_errors(vec![
        serde_json::json!({ "field": field, "message": message }),
    ])
}

/// Checks the operation against its source and further inputs before anything is queued.
async fn check(app: &App, member: &Member, src: &MediaRow, op: &Operation) -> Result<(), Problem> {
    op.validate().map_err(|e| invalid(&e.field, &e.message))?;
    if !op.accepts().contains(&src.kind.as_str()) {
        return Err(Problem::unprocessable(
            "unsupported-source",
            format!(
                "`{}` works on {} media; `{}` is {}",
                op.name(),
                op.accepts().join(" or "),
                src.id,
                src.kind
            ),
        ));
    }
    for id in op.other_inputs() {
        let row = store::get(&app.db, &member.workspace_id, &id)
            .await
            .map_err(|e| Problem::internal(&e))?
            .ok_or_else(|| {
                Problem::unprocessable(
                    "unknown-media",
                    format!("no media `{id}` in this workspace"),
                )
            })?;
        let usable = match op {
            Operation::Merge(_) => row.kind == "video",
            _ => row.has_audio || row.kind == "audio",
        };
        if !usable {
            return Err(Problem::unprocessable(
                "unsupported-source",
                format!(
                    "`{id}` ({}) cannot be used by `{}`",
                    row.mime_type,
                    op.name()
                ),
            ));
        }
    }
    if matches!(op, Operation::Audio(_)) && src.kind == "video" && !src.has_audio {
        return Err(Problem::unprocessable(
            "no-audio-stream",
            format!("video `{}` has no audio track", src.id),
        ));
    }
    Ok(())
}

async fn accepted(
    app: &App,
    src: &MediaRow,
    op: Operation,
    preset: Option<String>,
    member: &Member,
) -> Result<Response, Problem> {
    // Without a dedupe key nothing can stop the job from being queued.
    let job = studio::enqueue(app, src, op, preset, Some(&member.user.id), None)
        .await
        .and_then(|j| j.ok_or_else(|| anyhow::anyhow!("the media job was not queued")))
        .map_err(|e| Problem::internal(&e))?;
    let location = format!(
        "/api/v1/workspaces/{}/media/jobs/{}",
        member.workspace_id, job.id
    );
    let mut resp = (StatusCode::ACCEPTED, axum::Json(MediaJob::of(&job))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[utoipa::path(
    post,
    path = "/workspaces/{workspace_id}/media/{id}/transform",
    tag = "media-studio",
    summary = "Run a studio operation on a media file",
    description = "Queues the operation as a `media` job and answers at once with the job. The result is a new library item; the source is kept. Operations: `image` (resize/crop/pad with a focal point, JPEG/PNG/WebP, quality or a byte budget; EXIF orientation applied, metadata stripped), `video` (resize with crop or letterbox, trim, frame rate, bitrate or byte budget; H.264/AAC MP4), `merge` (joins clips; stream copy when they match), `thumbnail` (a frame as an image), `audio` (MP3/AAC/WAV, gain, loudness normalisation; on a video, extracts its audio), `replace_audio`. Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Source media id")),
    request_body = Operation,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued; follow the job", body = MediaJob),
        (status = 400, description = "Malformed JSON", body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "No such media in the workspace", body = Problem),
        (status = 415, body = Problem),
        (status = 422, description = "Invalid field, unknown input, or an operation the source cannot take", body = Problem),
    )
)]
pub async fn transform(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(op): Json<Operation>,
) -> Result<Response, Problem> {
    let (_, id) = path;
    member.require(Role::Editor)?;
    let src = source(&app, &member, &id).await?;
    check(&app, &member, &src, &op).await?;
    accepted(&app, &src, op, None, &member).await
}

/// Fit a media file to a platform preset.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FitRequest {
    /// A preset id from `GET …/media/presets`, e.g. `instagram/reel/video`.
    pub preset: String,
    /// `cover` (crop, the default) or `pad` (letterbox) when the aspect ratio must change.
    #[serde(default)]
    pub fit: Option<Fit>,
}

#[utoipa::path(
    post,
    path = "/workspaces/{workspace_id}/media/{id}/fit",
    tag = "media-studio",
    summary = "Fit a media file to a platform preset",
    description = "Plans the operation from the preset's limits (from the plugin's `describe()`): format, size, aspect ratio, duration, frame rate and byte budget, and queues it like `transform`. Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Source media id")),
    request_body = FitRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued; follow the job", body = MediaJob),
        (status = 400, description = "Malformed JSON", body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "No such media in the workspace", body = Problem),
        (status = 415, body = Problem),
        (status = 422, description = "Unknown preset, or the media cannot be made to fit (e.g. too short)", body = Problem),
    )
)]
pub async fn fit(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(body): Json<FitRequest>,
) -> Result<Response, Problem> {
    let (_, id) = path;
    member.require(Role::Editor)?;
    let src = source(&app, &member, &id).await?;
    let fit = match body.fit.unwrap_or(Fit::Cover) {
        f @ (Fit::Cover | Fit::Pad) => f,
        _ => return Err(invalid("fit", "must be cover or pad")),
    };
    let (preset, op) = presets::plan_for(&app, &body.preset, &src, fit)
        .await
        .map_err(|e| match e {
            PlanError::UnknownPreset(id) => Problem::unprocessable(
                "unknown-preset",
                format!("no preset `{id}`; list them at …/media/presets"),
            ),
            PlanError::CannotFit(m) => Problem::unprocessable("cannot-fit", m),
        })?;
    check(&app, &member, &src, &op).await?;
    accepted(&app, &src, op, Some(preset.id), &member).await
}

#[utoipa::path(
    get,
    path = "/workspaces/{workspace_id}/media/presets",
    tag = "media-studio",
    summary = "Platform presets",
    description = "One per installed platform plugin × post kind × media type, with the limits from the plugin's `describe()`. Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<Preset>),
        (status = 401, body = Problem),
        (status = 404, description = "Not a member of the workspace", body = Problem),
    )
)]
pub async fn list_presets(State(app): State<Arc<App>>, _member: Member) -> axum::Json<Vec<Preset>> {
    axum::Json(presets::list(&app).await)
}

/// How a media file fits one preset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PresetFit {
    pub preset: String,
    pub fits: bool,
    /// Each reason it does not fit, in words for the user.
    pub problems: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/workspaces/{workspace_id}/media/{id}/presets",
    tag = "media-studio",
    summary = "Which presets a media file fits, and why not",
    description = "Checks the file against every preset of its media type. Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Media id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<PresetFit>),
        (status = 401, body = Problem),
        (status = 404, description = "No such media in the workspace", body = Problem),
    )
)]
pub async fn fit_check(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<axum::Json<Vec<PresetFit>>, Problem> {
    let (_, id) = path;
    let src = source(&app, &member, &id).await?;
    Ok(axum::Json(
        presets::list(&app)
            .await
            .into_iter()
            .filter(|p| p.media_type == src.kind)
            .map(|p| {
                let problems = presets::problems(&p, &src);
                PresetFit {
                    preset: p.id,
                    fits: problems.is_empty(),
                    problems,
                }
            })
            .collect(),
    ))
}

async fn job(app: &App, member: &Member, id: &str) -> Result<crate::jobs::Job, Problem> {
    studio::get(app, &member.workspace_id, id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("media job `{id}` not found")))
}

#[utoipa::path(
    get,
    path = "/workspaces/{workspace_id}/media/jobs/{job_id}",
    tag = "media-studio",
    summary = "A studio job",
    description = "Status, progress (percent of the media processed), the new media id once done, or the failure with a stable kind. Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("job_id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MediaJob),
        (status = 401, body = Problem),
        (status = 404, description = "No such job in the workspace", body = Problem),
    )
)]
pub async fn get_job(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<axum::Json<MediaJob>, Problem> {
    let (_, id) = path;
    Ok(axum::Json(MediaJob::of(&job(&app, &member, &id).await?)))
}

#[utoipa::path(
    post,
    path = "/workspaces/{workspace_id}/media/jobs/{job_id}/cancel",
    tag = "media-studio",
    summary = "Cancel a studio job",
    description = "A queued job never runs; a running one has its worker killed and adds nothing to the library. A finished job is answered as it is. Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("job_id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MediaJob),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "No such job in the workspace", body = Problem),
    )
)]
pub async fn cancel_job(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<axum::Json<MediaJob>, Problem> {
    let (_, id) = path;
    member.require(Role::Editor)?;
    let job = studio::cancel(&app, &member.workspace_id, &id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("media job `{id}` not found")))?;
    Ok(axum::Json(MediaJob::of(&job)))
}

fn sse(e: &MediaJob) -> SseEvent {
    SseEvent::default()
        .event(e.status.clone())
        .data(serde_json::to_string(e).unwrap_or_default())
}

#[utoipa::path(
    get,
    path = "/workspaces/{workspace_id}/media/jobs/{job_id}/events",
    tag = "media-studio",
    summary = "A studio job's progress as server-sent events",
    description = "First the job as it is (event named by its status), then `running` events with the progress, and one final `done`, `failed` or `cancelled` event, after which the stream ends. Each `data` is a MediaJob. Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("job_id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/event-stream", body = MediaJob),
        (status = 401, body = Problem),
        (status = 404, description = "No such job in the workspace", body = Problem),
    )
)]
pub async fn job_events(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Problem> {
    let (_, id) = path;
    // Subscribed before the first read, so no change falls between the two.
    let mut rx = studio::subscribe();
    let first = MediaJob::of(&job(&app, &member, &id).await?);
    let ws = member.workspace_id.clone();
    let s = async_stream::stream! {
        let mut current = first;
        yield Ok(sse(&current));
        // Changes recorded on other nodes (or by the queue itself) are caught by a re-read.
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        while matches!(current.status.as_str(), "queued" | "running") {
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(JobEvent { job_id, status, progress, result_media_id, error, .. }) if job_id == current.id => {
                        current.status = status;
                        current.progress = progress.or(current.progress);
                        current.result_media_id = result_media_id.or(current.result_media_id.take());
                        current.error = error.or(current.error.take());
                        yield Ok(sse(&current));
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    if let Ok(Some(j)) = studio::get(&app, &ws, &current.id).await {
                        let fresh = MediaJob::of(&j);
                        if fresh.status != current.status && fresh.status != "running" {
                            current = fresh;
                            yield Ok(sse(&current));
                        }
                    }
                }
            }
        }
    };
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}
