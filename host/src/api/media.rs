//! The media library of a workspace: direct uploads (multipart, streamed to object
//! storage), listing with filters, descriptions, deletion and signed public URLs.
//! Resumable uploads are in [`super::uploads`].

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::media::ingest::{self, Ended};
use crate::media::{MediaError, describe, object_key};
use crate::store::activity::Entry;
use crate::store::media::{self as store, ListFilter, MediaRow};
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, upload))
        // Uploads are size-capped while streaming (PLUGBOARD_MAX_UPLOAD_BYTES), not here.
        .layer(DefaultBodyLimit::disable())
        .routes(routes!(get_media, update, delete))
        .routes(routes!(public_url))
}

/// Longest lifetime of a public URL (6 hours).
pub const MAX_URL_TTL_SECS: u32 = 6 * 3600;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;
/// Largest text field of an upload form.
const MAX_FORM_TEXT: usize = 16 << 10;

impl From<MediaError> for Problem {
    fn from(e: MediaError) -> Problem {
        match e {
            MediaError::Unknown(_) => Problem::not_found(e.to_string()),
            MediaError::Rejected { kind, message } => Problem::unprocessable(kind, message),
            MediaError::Invalid { field, message } => {
                Problem::unprocessable("invalid-field", format!("`{field}` {message}")).with_errors(
                    vec![serde_json::json!({ "field": field, "message": message })],
                )
            }
            MediaError::TooLarge { .. } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "file-too-large",
                e.to_string(),
            ),
            MediaError::PastEnd { .. } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "past-upload-length",
                e.to_string(),
            ),
            MediaError::Interrupted(_) => Problem::bad_request("upload-interrupted", e.to_string()),
            MediaError::Expired(_) => {
                Problem::new(StatusCode::GONE, "upload-expired", e.to_string())
            }
            MediaError::Conflict(message) => Problem::conflict("upload-conflict", message),
            MediaError::Internal(err) => Problem::internal(&err),
        }
    }
}

/// A media file of the library.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MediaView {
    /// UUIDv7; also the handle plugins get.
    pub id: String,
    pub filename: String,
    /// Sniffed from the content, not taken from the client.
    pub mime_type: String,
    /// `image`, `video` or `audio`.
    pub kind: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub frame_rate: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub has_audio: bool,
    pub folder: Option<String>,
    pub tags: Vec<String>,
    pub alt_text: Option<String>,
    /// Summary of the probe: image format, or container and streams.
    #[schema(value_type = Object)]
    pub probe: serde_json::Value,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl MediaView {
    pub fn of(row: MediaRow) -> MediaView {
        MediaView {
            tags: serde_json::from_str(&row.tags).unwrap_or_default(),
            probe: serde_json::from_str(&row.probe).unwrap_or(serde_json::Value::Null),
            size: row.size.max(0) as u64,
            width: row.width.and_then(|w| u32::try_from(w).ok()),
            height: row.height.and_then(|h| u32::try_from(h).ok()),
            duration_ms: row.duration_ms.and_then(|d| u64::try_from(d).ok()),
            id: row.id,
            filename: row.filename,
            mime_type: row.mime_type,
            kind: row.kind,
            sha256: row.sha256,
            frame_rate: row.frame_rate,
            video_codec: row.video_codec,
            audio_codec: row.audio_codec,
            has_audio: row.has_audio,
            folder: row.folder,
            alt_text: row.alt_text,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

/// The upload form (multipart/form-data).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the form in the OpenAPI document; the handler reads it as a stream.
pub struct UploadForm {
    /// The file (required). Its type is sniffed from the content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Description for screen readers (at most 1500 characters).
    alt_text: Option<String>,
    /// Folder path, e.g. `campaigns/spring`.
    folder: Option<String>,
    /// Comma-separated tags.
    tags: Option<String>,
}

fn multipart_problem(e: axum::extract::multipart::MultipartError) -> Problem {
    Problem::bad_request("invalid-multipart", e.body_text())
}

/// A text field of the form, read with a size cap.
async fn form_text(mut field: Field<'_>) -> Result<String, Problem> {
    let name = field.name().unwrap_or("").to_string();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
        if bytes.len() + chunk.len() > MAX_FORM_TEXT {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "field-too-large",
                format!("form field `{name}` is longer than {MAX_FORM_TEXT} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| {
        Problem::bad_request(
            "invalid-multipart",
            format!("form field `{name}` is not UTF-8"),
        )
    })
}

/// The stored file of an upload form, before probing.
struct Stored {
    id: String,
    key: String,
    copied: ingest::Copied,
    filename: String,
}

#[derive(Default)]
struct Form {
    file: Option<Stored>,
    alt_text: Option<String>,
    folder: Option<String>,
    tags: Option<String>,
}

/// Reads the form, streaming `file` into object storage. Whatever fails, a file it stored
/// is left in `form.file` for the caller to delete.
async fn read_form(
    app: &App,
    member: &Member,
    multipart: &mut Multipart,
    form: &mut Form,
) -> Result<(), Problem> {
    let limit = app.config.max_upload_bytes;
    while let Some(field) = multipart.next_field().await.map_err(multipart_problem)? {
        match field.name().unwrap_or("") {
            "file" => {
                if form.file.is_some() {
                    return Err(Problem::bad_request(
                        "invalid-multipart",
                        "send exactly one `file` field",
                    ));
                }
                let filename = describe::client_filename(field.file_name());
                let id = uuid::Uuid::now_v7().to_string();
                let key = object_key(&member.workspace_id, &id);
                let mut writer = app.blobs.writer(&key).await?;
                let copied = match ingest::copy_stream(&mut writer, field, limit).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(Problem::internal(&e));
                    }
                };
                match &copied.ended {
                    Ended::Complete if copied.size > 0 => writer.finish().await?,
                    Ended::Complete => {
                        let _ = writer.abort().await;
                        return Err(MediaError::Rejected {
                            kind: "empty-file",
                            message: "the file is empty".into(),
                        }
                        .into());
                    }
                    Ended::OverLimit => {
                        let _ = writer.abort().await;
                        return Err(MediaError::TooLarge { limit }.into());
                    }
                    Ended::Interrupted(e) => {
                        let _ = writer.abort().await;
                        return Err(Problem::bad_request(
                            "upload-interrupted",
                            format!("the file could not be read to its end: {e}"),
                        ));
                    }
                }
                form.file = Some(Stored {
                    id,
                    key,
                    copied,
                    filename,
                });
            }
            "alt_text" => form.alt_text = Some(form_text(field).await?),
            "folder" => form.folder = Some(form_text(field).await?),
            "tags" => form.tags = Some(form_text(field).await?),
            other => {
                return Err(Problem::bad_request(
                    "invalid-multipart",
                    format!("unknown form field `{other}`; expected file, alt_text, folder, tags"),
                ));
            }
        }
    }
    Ok(())
}

/// Validates the description, probes the stored file and creates its row.
async fn create_media(
    app: &App,
    member: &Member,
    stored: &Stored,
    form: &Form,
) -> Result<MediaRow, Problem> {
    let description = describe::Description {
        filename: stored.filename.clone(),
        alt_text: describe::alt_text(form.alt_text.as_deref().unwrap_or(""))?,
        folder: describe::folder(form.folder.as_deref().unwrap_or(""))?,
        tags: describe::tags_csv(form.tags.as_deref().unwrap_or(""))?,
    };
    let probe = ingest::probe_stored(&app.blobs, &stored.key).await?;
    let row = ingest::media_row(
        &member.workspace_id,
        &stored.id,
        &stored.copied,
        probe,
        &description,
        Some(&member.user.id),
    );
    store::insert(&app.db, &row, ingest::uploaded(&row, "direct")).await?;
    Ok(row)
}

#[utoipa::path(
    post,
    path = "/workspaces/{workspace_id}/media",
    tag = "media",
    summary = "Upload a media file",
    description = "Streams `file` to object storage (never held in memory) while hashing it, then probes it: images are fully decoded under limits, video and audio read by ffprobe. The type is sniffed from the content. A file that is empty, of an unknown type, corrupt, truncated or too large to decode is refused with 422 and nothing is kept. Larger files: use resumable uploads (`/uploads`). Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored and probed", body = MediaView),
        (status = 400, description = "Malformed form, missing or repeated `file`, unknown field", body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "Not a member of the workspace", body = Problem),
        (status = 413, description = "Larger than the upload limit", body = Problem),
        (status = 415, description = "Not multipart/form-data", body = Problem),
        (status = 422, description = "Refused by probing (empty, unknown type, corrupt, truncated, too many pixels) or an invalid field", body = Problem),
    )
)]
pub async fn upload(
    State(app): State<Arc<App>>,
    member: Member,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, Problem> {
    member.require(Role::Editor)?;
    let multipart = multipart.map_err(|e| {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the file as multipart/form-data: {}", e.body_text()),
        )
    })?;
    // In a task of its own: a client that disconnects drops this handler, and a file that
    // is already stored must still be probed and kept or deleted, never left half-done.
    tokio::spawn(async move { store_upload(app, member, multipart).await })
        .await
        .map_err(|e| Problem::internal(&e.into()))?
}

async fn store_upload(
    app: Arc<App>,
    member: Member,
    mut multipart: Multipart,
) -> Result<Response, Problem> {
    let mut form = Form::default();
    let read = read_form(&app, &member, &mut multipart, &mut form).await;
    let created = match (read, &form.file) {
        (Err(e), _) => Err(e),
        (Ok(()), None) => Err(Problem::bad_request(
            "invalid-multipart",
            "the form has no `file` field",
        )),
        (Ok(()), Some(stored)) => create_media(&app, &member, stored, &form).await,
    };
    let row = match created {
        Ok(row) => row,
        Err(e) => {
            // Probing already deleted a rejected file; anything else stored goes now.
            if let Some(stored) = &form.file
                && app.blobs.exists(&stored.key).await.unwrap_or(true)
            {
                ingest::discard(&app.blobs, &stored.key).await;
            }
            return Err(e);
        }
    };
    let location = format!("/api/v1/workspaces/{}/media/{}", row.workspace_id, row.id);
    let mut resp = (StatusCode::CREATED, axum::Json(MediaView::of(row))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Filters and paging of the library listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Case-insensitive text in the filename or alt text.
    q: Option<String>,
    /// `image`, `video` or `audio`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// Exact folder.
    folder: Option<String>,
    /// Has this tag.
    tag: Option<String>,
    /// Created at or after (RFC 3339).
    created_after: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    created_before: Option<DateTime<Utc>>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// One page of the library, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MediaPage {
    pub items: Vec<MediaView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn encode_cursor(row: &MediaRow) -> String {
    let text = format!(
        "{}|{}",
        row.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        row.id
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (time, id) = text.split_once('|')?;
    let time = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
    Some((time, id.to_string()))
}

#[utoipa::path(
    get,
    path = "/workspaces/{workspace_id}/media",
    tag = "media",
    summary = "List the media library",
    description = "Newest first, filtered, paged by cursor. Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MediaPage),
        (status = 400, description = "Unknown parameter or wrong type", body = Problem),
        (status = 422, description = "Invalid `type`, `limit` or `cursor`", body = Problem),
        (status = 401, body = Problem),
        (status = 404, description = "Not a member of the workspace", body = Problem),
    )
)]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<axum::Json<MediaPage>, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    if let Some(kind) = &query.kind
        && !matches!(kind.as_str(), "image" | "video" | "audio")
    {
        return Err(MediaError::Invalid {
            field: "type",
            message: "must be one of image, video, audio".into(),
        }
        .into());
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(MediaError::Invalid {
            field: "limit",
            message: format!("must be between 1 and {MAX_PAGE}"),
        }
        .into());
    }
    let after = match &query.cursor {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| MediaError::Invalid {
            field: "cursor",
            message: "is not a cursor this server gave out".into(),
        })?),
        None => None,
    };
    let filter = ListFilter {
        q: query
            .q
            .filter(|q| !q.trim().is_empty())
            .map(|q| q.trim().to_string()),
        kind: query.kind,
        folder: query.folder.map(|f| f.trim().trim_matches('/').to_string()),
        tag: query.tag.map(|t| t.trim().to_string()),
        created_after: query.created_after,
        created_before: query.created_before,
        after,
    };
    let mut rows =
        store::list(&app.db, &member.workspace_id, &filter, i64::from(limit) + 1).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(encode_cursor)
    } else {
        None
    };
    Ok(axum::Json(MediaPage {
        items: rows.into_iter().map(MediaView::of).collect(),
        next_cursor,
    }))
}

async fn find(app: &App, member: &Member, id: &str) -> Result<MediaRow, Problem> {
    store::get(&app.db, &member.workspace_id, id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("media `{id}` not found")))
}

#[utoipa::path(
    get,
    path = "/workspaces/{workspace_id}/media/{id}",
    tag = "media",
    summary = "A media file",
    description = "Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Media id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MediaView),
        (status = 401, body = Problem),
        (status = 404, description = "No such media in the workspace", body = Problem),
    )
)]
pub async fn get_media(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<axum::Json<MediaView>, Problem> {
    let (_, id) = path;
    Ok(axum::Json(MediaView::of(find(&app, &member, &id).await?)))
}

/// Changes to a media file's description; absent fields stay, an empty `alt_text` or
/// `folder` clears it, an empty `tags` list removes all tags.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMedia {
    pub filename: Option<String>,
    pub alt_text: Option<String>,
    pub folder: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[utoipa::path(
    patch,
    path = "/workspaces/{workspace_id}/media/{id}",
    tag = "media",
    summary = "Describe a media file",
    description = "Changes filename, alt text, folder or tags. Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Media id")),
    request_body = UpdateMedia,
    security(("bearer" = [])),
    responses(
        (status = 200, body = MediaView),
        (status = 400, description = "Malformed JSON", body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "No such media in the workspace", body = Problem),
        (status = 415, body = Problem),
        (status = 422, description = "Unknown field, wrong type or invalid value", body = Problem),
    )
)]
pub async fn update(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(body): Json<UpdateMedia>,
) -> Result<axum::Json<MediaView>, Problem> {
    let (_, id) = path;
    member.require(Role::Editor)?;
    let filename = body
        .filename
        .as_deref()
        .map(describe::filename)
        .transpose()?;
    let alt_text = body
        .alt_text
        .as_deref()
        .map(describe::alt_text)
        .transpose()?;
    let folder = body.folder.as_deref().map(describe::folder).transpose()?;
    let tags = body.tags.as_deref().map(describe::tags).transpose()?;
    let row = store::update(
        &app.db,
        &member.workspace_id,
        &id,
        |current| store::Description {
            filename: filename.unwrap_or_else(|| current.filename.clone()),
            alt_text: alt_text.unwrap_or_else(|| current.alt_text.clone()),
            folder: folder.unwrap_or_else(|| current.folder.clone()),
            tags: tags
                .map(|t| serde_json::Value::from(t).to_string())
                .unwrap_or_else(|| current.tags.clone()),
        },
        |row| Entry {
            workspace_id: &member.workspace_id,
            actor_id: Some(&member.user.id),
            action: "media.updated",
            subject_type: "media",
            subject_id: Some(&id),
            details: serde_json::json!({ "filename": row.filename }),
        },
    )
    .await?
    .ok_or_else(|| Problem::not_found(format!("media `{id}` not found")))?;
    Ok(axum::Json(MediaView::of(row)))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{workspace_id}/media/{id}",
    tag = "media",
    summary = "Delete a media file",
    description = "Deletes the row and the stored object. Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Media id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "No such media in the workspace", body = Problem),
    )
)]
pub async fn delete(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let (_, id) = path;
    member.require(Role::Editor)?;
    // The row goes first: a failed object delete leaves an unreferenced object, never a
    // row whose bytes are gone.
    let row = store::delete(&app.db, &member.workspace_id, &id, |row| Entry {
        workspace_id: &member.workspace_id,
        actor_id: Some(&member.user.id),
        action: "media.deleted",
        subject_type: "media",
        subject_id: Some(&id),
        details: serde_json::json!({ "filename": row.filename, "mime_type": row.mime_type, "size": row.size }),
    })
    .await?
    .ok_or_else(|| Problem::not_found(format!("media `{id}` not found")))?;
    if let Err(e) = app.blobs.delete(&row.object_key).await {
        tracing::error!(key = %row.object_key, error = %format!("{e:#}"), "media row deleted but its object was not");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicUrlRequest {
    /// Lifetime of the URL in seconds, 1–21600.
    pub ttl_secs: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicUrl {
    /// Signed URL anyone can fetch (range requests supported) until it expires.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/workspaces/{workspace_id}/media/{id}/public-url",
    tag = "media",
    summary = "A signed, short-lived public URL of a media file",
    description = "For platforms that pull media by URL, and for viewing. Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Media id")),
    request_body = PublicUrlRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PublicUrl),
        (status = 400, description = "Malformed JSON", body = Problem),
        (status = 401, body = Problem),
        (status = 404, description = "No such media in the workspace", body = Problem),
        (status = 415, body = Problem),
        (status = 422, description = "`ttl_secs` missing or out of range", body = Problem),
    )
)]
pub async fn public_url(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    Json(body): Json<PublicUrlRequest>,
) -> Result<axum::Json<PublicUrl>, Problem> {
    let (_, id) = path;
    if !(1..=MAX_URL_TTL_SECS).contains(&body.ttl_secs) {
        return Err(MediaError::Invalid {
            field: "ttl_secs",
            message: format!("must be between 1 and {MAX_URL_TTL_SECS} seconds"),
        }
        .into());
    }
    let row = find(&app, &member, &id).await?;
    let ttl = Duration::from_secs(u64::from(body.ttl_secs));
    let url = app.signer.sign(&row.object_key, ttl);
    Ok(axum::Json(PublicUrl {
        url,
        expires_at: Utc::now() + ttl,
    }))
}
