//! Posts: drafts with base content, per-platform variants and targets; validation of every
//! target against its platform; optimistic concurrency with ETag / If-Match.

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::posts::content::{Content, ThreadItem, Variant};
use crate::store::posts::{self as store, Filter, NewTarget, Post, Update};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(validate))
}

/// A new post.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    /// Default `text`.
    pub kind: Option<String>,
    #[serde(default)]
    pub text: String,
    /// Media library ids.
    #[serde(default)]
    pub media: Vec<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub thread: Vec<ThreadItem>,
    /// Per-platform variants keyed by plugin id.
    #[serde(default)]
    pub variants: BTreeMap<String, Variant>,
    /// Fit media that does not fit a target's post kind while publishing (a studio
    /// rendition is made and published instead); a variant may override it per platform.
    #[serde(default)]
    pub auto_fit_media: bool,
    /// Connected account ids to publish to.
    #[serde(default)]
    pub targets: Vec<String>,
}

/// A change to a post: fields given replace the stored ones.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPatch {
    pub kind: Option<String>,
    pub text: Option<String>,
    pub media: Option<Vec<String>>,
    pub options: Option<BTreeMap<String, String>>,
    pub thread: Option<Vec<ThreadItem>>,
    pub variants: Option<BTreeMap<String, Variant>>,
    pub auto_fit_media: Option<bool>,
    pub targets: Option<Vec<String>>,
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header")
}

fn with_etag(status: StatusCode, post: Post) -> Response {
    let tag = etag(post.version);
    let mut resp = (status, axum::Json(post)).into_response();
    resp.headers_mut().insert(header::ETAG, tag);
    resp
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("post `{id}` not found"))
}

/// Checks targets (active accounts of this workspace) and media (items of this workspace),
/// returning the targets with their platforms.
async fn resolve(
    app: &App,
    workspace_id: &str,
    content: &Content,
    accounts: &[String],
) -> Result<Vec<NewTarget>, Problem> {
    content
        .check_bounds()
        .map_err(|m| Problem::unprocessable("invalid-post", m))?;
    if accounts.len() > 100 {
        return Err(Problem::unprocessable(
            "invalid-post",
            "at most 100 targets",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut targets = Vec::new();
    for id in accounts {
        if !seen.insert(id) {
            return Err(Problem::unprocessable(
                "duplicate-target",
                format!("account `{id}` is a target twice"),
            ));
        }
        let acct = crate::posts::accounts::active(app, workspace_id, id)
            .await?
            .ok_or_else(|| {
                Problem::unprocessable(
                    "unknown-target",
                    format!("account `{id}` is not a connected account of this workspace"),
                )
            })?;
        targets.push(NewTarget {
            account_id: id.clone(),
            plugin: acct.plugin,
        });
    }
    let media = content.all_media();
    crate::media::media_items(app, workspace_id, &media)
        .await
        .map_err(|e| Problem::unprocessable("unknown-media", format!("{e:#}")))?;
    Ok(targets)
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/posts", tag = "posts", summary = "Create a draft",
    params(("workspace_id" = String, Path)), request_body = PostInput, security(("bearer" = [])),
    responses((status = 201, body = Post, headers(("ETag" = String))), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<PostInput>,
) -> Result<Response, Problem> {
    member.require(Role::Editor)?;
    let content = Content {
        kind: input.kind.unwrap_or_else(|| "text".into()),
        text: input.text,
        media: input.media,
        options: input.options,
        thread: input.thread,
        variants: input.variants,
        auto_fit_media: input.auto_fit_media,
    };
    let targets = resolve(&app, &member.workspace_id, &content, &input.targets).await?;
    let id = store::create(
        &app.db,
        &member.workspace_id,
        &member.user.id,
        &content,
        &targets,
    )
    .await?;
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "post.created",
        "post",
        Some(&id),
        serde_json::json!({ "targets": targets.len() }),
    )
    .await?;
    let post = store::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(with_etag(StatusCode::CREATED, post))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/posts/{post_id}", tag = "posts", summary = "A post with its targets",
    params(("workspace_id" = String, Path), ("post_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Post, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let post = store::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(with_etag(StatusCode::OK, post))
}

fn if_match(headers: &HeaderMap) -> Result<i64, Problem> {
    let value = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if-match-required",
                "send the post's ETag in `If-Match` so two editors cannot overwrite each other",
            )
        })?;
    value
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map_err(|_| {
            Problem::bad_request(
                "invalid-if-match",
                "`If-Match` must be the ETag of the post, e.g. \"3\"",
            )
        })
}

#[utoipa::path(patch, path = "/workspaces/{workspace_id}/posts/{post_id}", tag = "posts", summary = "Edit a draft (needs If-Match)",
    params(("workspace_id" = String, Path), ("post_id" = String, Path), ("If-Match" = String, Header)), request_body = PostPatch, security(("bearer" = [])),
    responses((status = 200, body = Post), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(patch): Json<PostPatch>,
) -> Result<Response, Problem> {
    member.require(Role::Editor)?;
    let expected = if_match(&headers)?;
    let current = store::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let mut content = current.content.clone();
    if let Some(v) = patch.kind {
        content.kind = v;
    }
    if let Some(v) = patch.text {
        content.text = v;
    }
    if let Some(v) = patch.media {
        content.media = v;
    }
    if let Some(v) = patch.options {
        content.options = v;
    }
    if let Some(v) = patch.thread {
        content.thread = v;
    }
    if let Some(v) = patch.variants {
        content.variants = v;
    }
    if let Some(v) = patch.auto_fit_media {
        content.auto_fit_media = v;
    }
    let accounts = patch.targets.clone().unwrap_or_else(|| {
        current
            .targets
            .iter()
            .map(|t| t.account_id.clone())
            .collect()
    });
    let targets = resolve(&app, &member.workspace_id, &content, &accounts).await?;
    if current.targets.iter().any(|t| t.status != "draft") && patch.targets.is_some() {
        return Err(Problem::conflict(
            "post-not-editable",
            "targets that left draft cannot be replaced",
        ));
    }
    let outcome = store::update(
        &app.db,
        &member.workspace_id,
        &id,
        expected,
        &content,
        patch.targets.as_ref().map(|_| targets.as_slice()),
    )
    .await?;
    match outcome {
        Update::NotFound => Err(not_found(&id)),
        Update::Stale(v) => Err(Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "version-conflict",
            format!(
                "the post changed since you loaded it (now version {v}, you sent {expected}); reload and apply your edit again"
            ),
        )),
        Update::Done(_) => {
            crate::store::activity::record(
                &app.db,
                &member.workspace_id,
                Some(&member.user.id),
                "post.updated",
                "post",
                Some(&id),
                serde_json::json!({}),
            )
            .await?;
            let post = store::get(&app.db, &member.workspace_id, &id)
                .await?
                .ok_or_else(|| not_found(&id))?;
            Ok(with_etag(StatusCode::OK, post))
        }
    }
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/posts/{post_id}", tag = "posts", summary = "Delete a post",
    params(("workspace_id" = String, Path), ("post_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    member.require(Role::Editor)?;
    if !store::delete(&app.db, &member.workspace_id, &id).await? {
        return Err(not_found(&id));
    }
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "post.deleted",
        "post",
        Some(&id),
        serde_json::json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only posts with a target in this status.
    pub status: Option<String>,
    /// Only posts targeting this account.
    pub account: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PostPage {
    pub posts: Vec<Post>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/posts", tag = "posts", summary = "List posts, newest first",
    params(("workspace_id" = String, Path), ListQuery), security(("bearer" = [])),
    responses((status = 200, body = PostPage), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<PostPage>, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Problem::bad_request(
            "invalid-query",
            "`limit` must be 1 to 100",
        ));
    }
    let posts = store::list(
        &app.db,
        &member.workspace_id,
        &Filter {
            status: q.status,
            account_id: q.account,
            from: q.from,
            to: q.to,
            before: q.cursor,
            limit: limit + 1,
        },
    )
    .await?;
    let mut posts = posts;
    let next_cursor = if posts.len() as i64 > limit {
        posts.truncate(limit as usize);
        posts.last().map(|p| p.id.clone())
    } else {
        None
    };
    Ok(axum::Json(PostPage { posts, next_cursor }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProblemView {
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TargetReport {
    pub target_id: String,
    pub account_id: String,
    pub plugin: String,
    pub problems: Vec<ProblemView>,
    /// Warnings that do not stop publishing, e.g. `will-be-fitted`: media that does not
    /// fit but will be fitted automatically (`auto_fit_media`).
    pub notes: Vec<ProblemView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ValidationReport {
    pub valid: bool,
    pub targets: Vec<TargetReport>,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/posts/{post_id}/validate", tag = "posts", summary = "Check every target against its platform",
    description = "Media against the platform's declared limits (type, size, dimensions, aspect ratio, duration, count), then the plugin's own checks (weighted text length, options). No request reaches the platform.",
    params(("workspace_id" = String, Path), ("post_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ValidationReport), (status = 404, body = Problem)))]
pub async fn validate(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, id)): Path<(String, String)>,
) -> Result<axum::Json<ValidationReport>, Problem> {
    let post = store::get(&app.db, &member.workspace_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let mut targets = Vec::new();
    for t in &post.targets {
        let (problems, notes) =
            crate::posts::check::report(&app, &member.workspace_id, &post, t).await?;
        let view =
            |p: plugboard_bindings::platform::plugboard::plugin::types::Problem| ProblemView {
                field: p.field,
                code: p.code,
                message: p.message,
            };
        targets.push(TargetReport {
            target_id: t.id.clone(),
            account_id: t.account_id.clone(),
            plugin: t.plugin.clone(),
            problems: problems.into_iter().map(view).collect(),
            notes: notes.into_iter().map(view).collect(),
        });
    }
    Ok(axum::Json(ValidationReport {
        valid: targets.iter().all(|t| t.problems.is_empty()),
        targets,
    }))
}
