//! Resumable uploads for large files: the tus 1.0.0 protocol (core, creation, termination,
//! expiration) under `/workspaces/{workspace_id}/uploads`. The session logic is in
//! [`crate::media::resumable`]; this module speaks the headers.

use super::caller::{Member, Role};
use super::problem::Problem;
use crate::app::App;
use crate::media::resumable;
use crate::media::{MediaError, describe};
use crate::store::media::UploadRow;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::future::Either;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};
use tower_http::cors::{Cors, CorsLayer};
use utoipa_axum::{router::OpenApiRouter, routes};

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,termination,expiration";
/// Media id of the finished upload, on the response to the PATCH that completes it (and on
/// HEAD afterwards).
pub const MEDIA_ID_HEADER: &str = "plugboard-media-id";
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";

static TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
static TUS_VERSION_H: HeaderName = HeaderName::from_static("tus-version");
static TUS_EXTENSION_H: HeaderName = HeaderName::from_static("tus-extension");
static TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
static UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
static UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
static UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
static UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
static UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");

/// tower-http's CORS answers every OPTIONS request itself, which would hide tus's
/// capability discovery (`OPTIONS …/uploads`). Wrapped in this layer it sees only real
/// preflights (OPTIONS with `Access-Control-Request-Method`); other requests pass through
/// it as before, and a plain OPTIONS goes straight to the routes.
#[derive(Clone)]
pub struct PreflightCors(pub CorsLayer);

impl<S: Clone> Layer<S> for PreflightCors {
    type Service = PreflightCorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PreflightCorsService {
            cors: self.0.layer(inner.clone()),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct PreflightCorsService<S> {
    cors: Cors<S>,
    inner: S,
}

impl<S, B, R> Service<Request<B>> for PreflightCorsService<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone,
    R: Default,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Either<<Cors<S> as Service<Request<B>>>::Future, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.cors.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.inner.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let plain_options = req.method() == Method::OPTIONS
            && !req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if plain_options {
            Either::Right(self.inner.call(req))
        } else {
            Either::Left(self.cors.call(req))
        }
    }
}

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(options, create))
        .routes(routes!(head, append, terminate))
        // PATCH bodies are bounded by the session's Upload-Length, not by this limit.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(tus_headers))
}

/// Every tus response names the protocol version; a refused version also lists the
/// versions this server speaks.
async fn tus_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(TUS_RESUMABLE.clone(), HeaderValue::from_static(TUS_VERSION));
    if resp.status() == StatusCode::PRECONDITION_FAILED {
        resp.headers_mut()
            .insert(TUS_VERSION_H.clone(), HeaderValue::from_static(TUS_VERSION));
    }
    resp
}

fn check_version(headers: &HeaderMap) -> Result<(), Problem> {
    match headers.get(&TUS_RESUMABLE).and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        Some(other) => Err(Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "tus-version-unsupported",
            format!("tus version {other} is not supported; this server speaks {TUS_VERSION}"),
        )),
        None => Err(Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "tus-version-unsupported",
            format!("send `Tus-Resumable: {TUS_VERSION}`"),
        )),
    }
}

fn number_header(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, Problem> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| {
                Problem::bad_request(
                    "invalid-header",
                    format!("`{name}` must be a non-negative integer"),
                )
            }),
    }
}

/// An HTTP date (RFC 9110 IMF-fixdate), as `Upload-Expires` wants.
fn http_date(t: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .expect("a formatted date is a valid header value")
}

fn location(upload: &UploadRow) -> String {
    format!(
        "/api/v1/workspaces/{}/uploads/{}",
        upload.workspace_id, upload.id
    )
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
fn parse_metadata(raw: &str) -> Result<Vec<(String, String)>, Problem> {
    let bad = |detail: String| Problem::bad_request("invalid-upload-metadata", detail);
    let mut out = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (pair, ""),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| bad(format!("the value of `{key}` is not base64")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| bad(format!("the value of `{key}` is not UTF-8")))?;
        out.push((key.to_string(), text));
    }
    Ok(out)
}

#[utoipa::path(
    options,
    path = "/workspaces/{workspace_id}/uploads",
    tag = "uploads",
    summary = "tus capabilities",
    description = "Advertises the tus version, extensions and the largest accepted upload. Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Capabilities in `Tus-Version`, `Tus-Extension`, `Tus-Max-Size`"),
        (status = 401, body = Problem),
        (status = 404, description = "Not a member of the workspace", body = Problem),
    )
)]
pub async fn options(State(app): State<Arc<App>>, _member: Member) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert(TUS_VERSION_H.clone(), HeaderValue::from_static(TUS_VERSION));
    h.insert(
        TUS_EXTENSION_H.clone(),
        HeaderValue::from_static(TUS_EXTENSIONS),
    );
    h.insert(
        TUS_MAX_SIZE.clone(),
        HeaderValue::from(app.config.max_upload_bytes),
    );
    resp
}

#[utoipa::path(
    post,
    path = "/workspaces/{workspace_id}/uploads",
    tag = "uploads",
    summary = "Start a resumable upload (tus creation)",
    description = "Headers: `Tus-Resumable: 1.0.0`, `Upload-Length`, `Upload-Metadata` with base64 `filename` (required), `filetype`, and optionally `alt_text`, `folder`, `tags` (comma separated). Answers the session URL in `Location`; the session expires after 24 hours (`Upload-Expires`). Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` is the upload URL"),
        (status = 400, description = "Missing or malformed `Upload-Length` or `Upload-Metadata`", body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "Not a member of the workspace", body = Problem),
        (status = 412, description = "Missing or unsupported `Tus-Resumable`", body = Problem),
        (status = 413, description = "Larger than `Tus-Max-Size`", body = Problem),
        (status = 422, description = "Empty file or an invalid field", body = Problem),
    )
)]
pub async fn create(
    State(app): State<Arc<App>>,
    member: Member,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    member.require(Role::Editor)?;
    check_version(&headers)?;
    if headers.contains_key(&UPLOAD_DEFER_LENGTH) {
        return Err(Problem::bad_request(
            "invalid-header",
            "deferred lengths are not supported; send `Upload-Length`",
        ));
    }
    let length = number_header(&headers, &UPLOAD_LENGTH)?
        .ok_or_else(|| Problem::bad_request("invalid-header", "send `Upload-Length`"))?;
    let raw = headers
        .get(&UPLOAD_METADATA)
        .map(|v| {
            v.to_str().map_err(|_| {
                Problem::bad_request("invalid-upload-metadata", "`Upload-Metadata` is not ASCII")
            })
        })
        .transpose()?
        .unwrap_or("");
    let metadata = parse_metadata(raw)?;
    let get = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let filename = get("filename").ok_or_else(|| {
        Problem::bad_request(
            "invalid-upload-metadata",
            "`Upload-Metadata` needs `filename`",
        )
    })?;
    let description = describe::Description {
        filename: describe::client_filename(Some(filename)),
        alt_text: describe::alt_text(get("alt_text").unwrap_or(""))?,
        folder: describe::folder(get("folder").unwrap_or(""))?,
        tags: describe::tags_csv(get("tags").unwrap_or(""))?,
    };
    let filetype = get("filetype").map(|t| t.chars().take(255).collect());
    let upload = resumable::create(
        &app,
        &member.workspace_id,
        &member.user.id,
        length,
        filetype,
        &description,
    )
    .await?;
    // Clean up abandoned sessions in the background: the client need not wait for it.
    let sweeper = app.clone();
    tokio::spawn(async move {
        // An expired session keeps answering 410 (a clear "start over") for an hour before
        // it is swept and becomes unknown.
        if let Err(e) =
            resumable::sweep_expired(&sweeper, Utc::now() - chrono::TimeDelta::hours(1)).await
        {
            tracing::warn!(error = %e, "sweeping expired uploads failed");
        }
    });
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&location(&upload)).map_err(|e| Problem::internal(&e.into()))?,
    );
    h.insert(UPLOAD_EXPIRES.clone(), http_date(upload.expires_at));
    h.insert(UPLOAD_OFFSET.clone(), HeaderValue::from(0u64));
    Ok(resp)
}

/// The live session or the answer for a missing (404) or expired (410) one.
async fn session(app: &App, member: &Member, id: &str) -> Result<UploadRow, Problem> {
    match resumable::find(app, &member.workspace_id, id).await {
        Err(MediaError::Unknown(_)) => Err(Problem::not_found(format!("upload `{id}` not found"))),
        other => Ok(other?),
    }
}

fn state_headers(resp: &mut Response, upload: &UploadRow, offset: u64) {
    let h = resp.headers_mut();
    h.insert(UPLOAD_OFFSET.clone(), HeaderValue::from(offset));
    h.insert(UPLOAD_EXPIRES.clone(), http_date(upload.expires_at));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn media_id_header(resp: &mut Response, media_id: &str) {
    if let Ok(v) = HeaderValue::from_str(media_id) {
        resp.headers_mut()
            .insert(HeaderName::from_static(MEDIA_ID_HEADER), v);
    }
}

#[utoipa::path(
    head,
    path = "/workspaces/{workspace_id}/uploads/{upload_id}",
    tag = "uploads",
    summary = "Where a resumable upload stands",
    description = "`Upload-Offset` (bytes stored: resume from here) and `Upload-Length`; once complete also `Plugboard-Media-Id`. Any member.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("upload_id" = String, Path, description = "Upload id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "State in the headers"),
        (status = 401, body = Problem),
        (status = 404, description = "No such upload in the workspace", body = Problem),
        (status = 410, description = "Expired", body = Problem),
        (status = 412, description = "Missing or unsupported `Tus-Resumable`", body = Problem),
    )
)]
pub async fn head(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (_, id) = path;
    check_version(&headers)?;
    let upload = session(&app, &member, &id).await?;
    let mut resp = StatusCode::OK.into_response();
    state_headers(&mut resp, &upload, upload.upload_offset.max(0) as u64);
    resp.headers_mut().insert(
        UPLOAD_LENGTH.clone(),
        HeaderValue::from(upload.upload_length.max(0) as u64),
    );
    if upload.completed_at.is_some() {
        media_id_header(&mut resp, &upload.media_id);
    }
    Ok(resp)
}

#[utoipa::path(
    patch,
    path = "/workspaces/{workspace_id}/uploads/{upload_id}",
    tag = "uploads",
    summary = "Append to a resumable upload",
    description = "Body: the bytes from `Upload-Offset` on, with `Content-Type: application/offset+octet-stream`. The offset must equal the stored one (409 otherwise: HEAD and resume). An interrupted body keeps what arrived. The PATCH that reaches `Upload-Length` assembles and probes the file and answers its media id in `Plugboard-Media-Id`; a file refused by probing ends the session with 422. Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("upload_id" = String, Path, description = "Upload id")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Stored; the new offset is in `Upload-Offset`"),
        (status = 400, description = "Missing or malformed `Upload-Offset`, or the body was interrupted", body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "No such upload in the workspace", body = Problem),
        (status = 409, description = "`Upload-Offset` does not match the stored offset", body = Problem),
        (status = 410, description = "Expired", body = Problem),
        (status = 412, description = "Missing or unsupported `Tus-Resumable`", body = Problem),
        (status = 413, description = "The body runs past `Upload-Length`", body = Problem),
        (status = 415, description = "Wrong `Content-Type`", body = Problem),
        (status = 422, description = "The completed file was refused by probing", body = Problem),
    )
)]
pub async fn append(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let (_, id) = path;
    member.require(Role::Editor)?;
    check_version(&headers)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(OFFSET_CONTENT_TYPE) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the bytes with `Content-Type: {OFFSET_CONTENT_TYPE}`"),
        ));
    }
    let offset = number_header(&headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| Problem::bad_request("invalid-header", "send `Upload-Offset`"))?;
    let upload = session(&app, &member, &id).await?;
    let stored = upload.upload_offset.max(0) as u64;
    let length = upload.upload_length.max(0) as u64;
    if offset != stored {
        return Err(Problem::conflict(
            "offset-mismatch",
            format!(
                "`Upload-Offset` is {offset} but the upload is at {stored}; HEAD it and resume from there"
            ),
        ));
    }
    if upload.completed_at.is_some() {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        state_headers(&mut resp, &upload, stored);
        media_id_header(&mut resp, &upload.media_id);
        return Ok(resp);
    }
    if let Some(n) = number_header(&headers, &header::CONTENT_LENGTH)?
        && offset + n > length
    {
        return Err(MediaError::PastEnd { length }.into());
    }
    // In a task of its own: a client that disconnects drops this handler, but what arrived
    // must still be committed (and a complete upload assembled) for it to resume.
    let work = tokio::spawn(async move {
        let new_offset = resumable::append(&app, &upload, body.into_data_stream()).await?;
        let media_id = match new_offset == length {
            true => Some(resumable::finish(&app, &upload).await?),
            false => None,
        };
        Ok::<_, MediaError>((upload, new_offset, media_id))
    });
    let (upload, new_offset, media_id) = work.await.map_err(|e| Problem::internal(&e.into()))??;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Some(media_id) = media_id {
        media_id_header(&mut resp, &media_id);
    }
    state_headers(&mut resp, &upload, new_offset);
    Ok(resp)
}

#[utoipa::path(
    delete,
    path = "/workspaces/{workspace_id}/uploads/{upload_id}",
    tag = "uploads",
    summary = "Abandon a resumable upload (tus termination)",
    description = "Deletes the session and every stored byte of it (a media file it already produced stays). Editor or higher.",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("upload_id" = String, Path, description = "Upload id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Terminated"),
        (status = 401, body = Problem),
        (status = 403, description = "Viewer", body = Problem),
        (status = 404, description = "No such upload in the workspace", body = Problem),
        (status = 412, description = "Missing or unsupported `Tus-Resumable`", body = Problem),
    )
)]
pub async fn terminate(
    State(app): State<Arc<App>>,
    member: Member,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let (_, id) = path;
    member.require(Role::Editor)?;
    check_version(&headers)?;
    if !resumable::terminate(&app, &member.workspace_id, &id).await? {
        return Err(Problem::not_found(format!("upload `{id}` not found")));
    }
    Ok(StatusCode::NO_CONTENT)
}
