//! Bulk import of posts from CSV or JSON, with a per-row report.

use super::caller::{Member, Role};
use super::problem::Problem;
use super::schedule::workspace_zone;
use crate::app::App;
use crate::posts::import::{
    FormatError, ImportJson, Importer, MAX_BYTES, Mode, Report, RowReport, parse_csv, parse_json,
};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(import))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `all` (default): nothing is created unless every row passes. `partial`: the rows
    /// that pass are created, the others reported.
    pub mode: Option<String>,
}

/// The refusal of an all-or-nothing import: a problem (RFC 9457) extended with the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRefused {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub created: usize,
    pub failed: usize,
    pub rows: Vec<RowReport>,
}

impl IntoResponse for ImportRefused {
    fn into_response(self) -> Response {
        let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(self)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        format!("an import is at most {} MB", MAX_BYTES / (1024 * 1024)),
    )
}

fn format_problem(e: FormatError) -> Problem {
    let detail = e.to_string();
    match e {
        FormatError::MalformedCsv { .. } => Problem::bad_request("malformed-csv", detail),
        FormatError::MalformedJson(_) => Problem::bad_request("malformed-json", detail),
        FormatError::Invalid(_) => Problem::unprocessable("invalid-import", detail),
        FormatError::TooManyRows => Problem::unprocessable("too-many-rows", detail),
        FormatError::Empty => Problem::unprocessable("empty-import", detail),
    }
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/posts/import", tag = "scheduling", summary = "Import posts from CSV or JSON",
    description = "CSV (`text/csv`): a header row naming the columns `text`, `targets` (account ids separated by `|` or spaces), and optionally `media` (ids separated by `|`), `kind`, `scheduled_at_local` (e.g. `2027-03-01T09:30`; empty: a draft), `timezone` (IANA; default the workspace's) and `options` (`key=value;…`). JSON (`application/json`): `{\"posts\": [...]}` with the same fields as arrays and an object. At most 1000 posts and 5 MB. \
Every row is checked like scheduling (active accounts, media, time and zone, each target against its platform); a row equal in text, targets and time to an earlier row or a scheduled post is flagged `duplicate`. \
By default nothing is created unless every row passes (422 with the report); with `mode=partial` the passing rows are created and the answer is 200 with the report. 201 when every row was created.",
    params(("workspace_id" = String, Path), ImportQuery),
    request_body(content((String = "text/csv"), (ImportJson = "application/json"))),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "every row created", body = Report),
        (status = 200, description = "partial mode with refused rows: the others were created", body = Report),
        (status = 400, description = "malformed CSV or JSON, or a bad `mode`", body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, description = "larger than 5 MB", body = Problem),
        (status = 415, description = "neither text/csv nor application/json", body = Problem),
        (status = 422, description = "some rows were refused and nothing was created (the report is in `rows`); or unknown columns, too many or no rows", body = ImportRefused)))]
pub async fn import(
    State(app): State<Arc<App>>,
    member: Member,
    query: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    member.require(Role::Editor)?;
    let Query(q) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let mode = match q.mode.as_deref() {
        None | Some("all") => Mode::All,
        Some("partial") => Mode::Partial,
        Some(other) => {
            return Err(Problem::bad_request(
                "invalid-query",
                format!("`mode` is `all` or `partial`, not `{other}`"),
            ));
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let csv = match content_type.as_str() {
        "text/csv" => true,
        "application/json" => false,
        _ => {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the import as `Content-Type: text/csv` or `application/json`",
            ));
        }
    };
    // Read up to the limit even when the declared length is larger: a client still
    // sending when refused would see its connection reset instead of the 413.
    let bytes = axum::body::to_bytes(body, MAX_BYTES)
        .await
        .map_err(|_| too_large())?;
    let rows = if csv {
        parse_csv(&bytes)
    } else {
        parse_json(&bytes)
    }
    .map_err(format_problem)?;
    let default_zone = workspace_zone(&app, &member.workspace_id).await?;
    let report = Importer {
        app: &app,
        workspace_id: &member.workspace_id,
        user_id: &member.user.id,
        default_zone: &default_zone,
    }
    .run(rows, mode)
    .await?;
    Ok(if report.failed == 0 {
        (StatusCode::CREATED, axum::Json(report)).into_response()
    } else if mode == Mode::Partial {
        (StatusCode::OK, axum::Json(report)).into_response()
    } else {
        let refused = Problem::unprocessable(
            "import-refused",
            format!(
                "{} of {} rows were refused, so nothing was created; see `rows`",
                report.failed,
                report.rows.len()
            ),
        );
        ImportRefused {
            kind: refused.kind,
            title: refused.title,
            status: refused.status,
            detail: refused.detail,
            created: report.created,
            failed: report.failed,
            rows: report.rows,
        }
        .into_response()
    })
}
