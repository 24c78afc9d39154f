//! Posting, reading and deleting statuses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::accounts;
use super::auth::{optional, require, scope_or_parent};
use super::error::ApiError;
use super::media;
use super::params::Params;
use super::state::{IdempotentPost, MediaKind, Sim, State as Instance, timestamp};
use super::text::{countable_length, to_html};

/// How long an `Idempotency-Key` keeps answering with the status it created.
const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Scheduled statuses must lie at least this far ahead.
const MINIMUM_SCHEDULE_OFFSET: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

const VISIBILITIES: &[&str] = &["public", "unlisted", "private", "direct"];

/// A status as it was created, for tests to check what was published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedStatus {
    pub id: String,
    pub account_id: String,
    pub username: String,
    /// The text as sent (the source, not the rendered HTML).
    pub text: String,
    pub spoiler_text: String,
    /// Attached media, in the order given.
    pub media_ids: Vec<String>,
    pub visibility: String,
    pub sensitive: bool,
    pub language: Option<String>,
    pub in_reply_to_id: Option<String>,
    /// The `Idempotency-Key` header of the request that created it.
    pub idempotency_key: Option<String>,
    /// How many later requests with the same key got this status back
    /// instead of creating another.
    pub idempotent_replays: u32,
    /// Set for scheduled statuses, which are recorded but never published.
    pub scheduled_at: Option<String>,
    pub created_at: String,
    /// Name of the app whose token created it.
    pub application: Option<String>,
    pub deleted: bool,
}

impl RecordedStatus {
    pub(crate) fn published(&self) -> bool {
        !self.deleted && self.scheduled_at.is_none()
    }
}

/// `POST /api/v1/statuses`, in the order Mastodon checks things: token,
/// reply target, idempotency, media, then the status itself.
pub(crate) async fn create(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let mut guard = sim.lock();
    let state = &mut *guard;
    let caller = require(state, &headers, scope_or_parent("write:statuses"))?;
    let account_id = caller.user()?.to_owned();
    let in_reply_to_id = match params.present("in_reply_to_id") {
        Some(id) => Some(
            visible(state, id, Some(&account_id))
                .ok_or_else(ApiError::not_found)?
                .id
                .clone(),
        ),
        None => None,
    };
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.trim().is_empty())
        .map(str::to_owned);
    if let Some(key) = &idempotency_key
        && let Some(replay) = replay(state, &account_id, key)?
    {
        return Ok(Json(render_any(&sim, state, &replay)));
    }
    let media_ids = validate_media(
        state,
        &account_id,
        params.list("media_ids"),
        sim.config.max_media_attachments,
    )?;
    let mut spoiler_text = params.get("spoiler_text").unwrap_or_default().to_owned();
    let sensitive =
        params.get("sensitive").is_some_and(rails_true) || !spoiler_text.trim().is_empty();
    let mut text = params.get("status").unwrap_or_default().to_owned();
    if text.trim().is_empty() && !spoiler_text.trim().is_empty() {
        // Mastodon posts a lone content warning as the text itself.
        text = std::mem::take(&mut spoiler_text);
    }
    let visibility = params.present("visibility").unwrap_or("public").to_owned();
    let scheduled_at = scheduled_at(params.present("scheduled_at"))?;
    let errors = status_errors(
        &sim,
        &text,
        &spoiler_text,
        &visibility,
        !media_ids.is_empty(),
    );
    if !errors.is_empty() {
        // Scheduling re-raises a bare RecordInvalid, losing the messages.
        return Err(match scheduled_at {
            Some(_) => ApiError::unprocessable("Record invalid"),
            None => ApiError::validation(errors.join(", ")),
        });
    }
    if scheduled_at.is_some_and(|at| at <= Utc::now() + MINIMUM_SCHEDULE_OFFSET) {
        return Err(ApiError::validation(
            "Scheduled at The scheduled date must be in the future",
        ));
    }
    let id = state.next_id();
    for media_id in &media_ids {
        if let Some(media) = state.media.get_mut(media_id) {
            media.status_id = Some(id.clone());
        }
    }
    let username = state
        .account(&account_id)
        .map(|account| account.username.clone())
        .unwrap_or_default();
    let status = RecordedStatus {
        id: id.clone(),
        account_id: account_id.clone(),
        username,
        text,
        spoiler_text,
        media_ids,
        visibility,
        sensitive,
        language: params.present("language").map(str::to_owned),
        in_reply_to_id,
        idempotency_key: idempotency_key.clone(),
        idempotent_replays: 0,
        scheduled_at: scheduled_at.map(timestamp),
        created_at: timestamp(Utc::now()),
        application: state.app(&caller.client_id).map(|app| app.name.clone()),
        deleted: false,
    };
    state.statuses.push(status.clone());
    if let Some(key) = idempotency_key {
        state.idempotency.insert(
            (account_id, key),
            IdempotentPost {
                status_id: id,
                expires: Instant::now() + IDEMPOTENCY_WINDOW,
            },
        );
    }
    Ok(Json(render_any(&sim, state, &status)))
}

/// The status an earlier request with this key created, counted as replayed;
/// 404 if it has been deleted since (Mastodon's `find` fails then).
fn replay(
    state: &mut Instance,
    account_id: &str,
    key: &str,
) -> Result<Option<RecordedStatus>, ApiError> {
    let Some(post) = state
        .idempotency
        .get(&(account_id.to_owned(), key.to_owned()))
        .filter(|post| post.expires > Instant::now())
    else {
        return Ok(None);
    };
    let status_id = post.status_id.clone();
    let status = state
        .statuses
        .iter_mut()
        .find(|status| status.id == status_id && !status.deleted)
        .ok_or_else(ApiError::not_found)?;
    status.idempotent_replays += 1;
    Ok(Some(status.clone()))
}

/// Mastodon's `validate_media!`: the ids, deduplicated in order, must all be
/// the caller's unattached uploads, not mix video or audio with anything
/// else, and be done processing.
fn validate_media(
    state: &Instance,
    account_id: &str,
    requested: &[String],
    limit: usize,
) -> Result<Vec<String>, ApiError> {
    if requested.len() > limit {
        return Err(ApiError::unprocessable(format!(
            "Cannot attach more than {limit} files"
        )));
    }
    let mut ids: Vec<String> = Vec::new();
    for id in requested {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let usable = |id: &String| {
        state
            .media
            .get(id)
            .filter(|media| media.account_id == account_id && media.status_id.is_none())
    };
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| usable(id).is_none())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "Media {} not found or already attached to another post",
            missing.join(", ")
        )));
    }
    let media: Vec<_> = ids.iter().filter_map(usable).collect();
    let audio_or_video = |kind| matches!(kind, MediaKind::Video | MediaKind::Audio);
    if media.len() > 1 && media.iter().any(|m| audio_or_video(m.kind)) {
        return Err(ApiError::unprocessable(
            "Cannot attach a video to a post that already contains images",
        ));
    }
    if media.iter().any(|m| !m.processed()) {
        return Err(ApiError::unprocessable(
            "Cannot attach files that have not finished processing. Try again in a moment!",
        ));
    }
    Ok(ids)
}

/// The Status model's validation messages, in Rails' order.
fn status_errors(
    sim: &Sim,
    text: &str,
    spoiler_text: &str,
    visibility: &str,
    with_media: bool,
) -> Vec<String> {
    let mut errors = Vec::new();
    if !VISIBILITIES.contains(&visibility) {
        errors.push("Visibility is not included in the list".to_owned());
    }
    if text.trim().is_empty() && !with_media {
        errors.push("Text can't be blank".to_owned());
    }
    // The content warning counts too, but its URLs are not shortened.
    let length = spoiler_text.chars().count()
        + countable_length(text, sim.config.characters_reserved_per_url);
    if length > sim.config.max_characters {
        errors.push(format!(
            "Text character limit of {} exceeded",
            sim.config.max_characters
        ));
    }
    errors
}

/// `scheduled_at`, or `None` to post now: Mastodon posts a past date at once.
fn scheduled_at(value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let at = DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f").map(|at| at.and_utc())
        })
        .map_err(|_| ApiError::unprocessable("Record invalid"))?;
    Ok((at > Utc::now()).then_some(at))
}

/// Rails' boolean casting: only the false-ish spellings are false.
fn rails_true(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "f" | "false" | "off"
    )
}

/// A published status `viewer` may see: public and unlisted ones for anyone,
/// private and direct ones only for their author.
pub(crate) fn visible<'a>(
    state: &'a Instance,
    id: &str,
    viewer: Option<&str>,
) -> Option<&'a RecordedStatus> {
    state
        .statuses
        .iter()
        .find(|status| status.id == id && status.published())
        .filter(|status| {
            matches!(status.visibility.as_str(), "public" | "unlisted")
                || viewer == Some(status.account_id.as_str())
        })
}

/// `GET /api/v1/statuses/:id`.
pub(crate) async fn show(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let state = sim.lock();
    let viewer = optional(&state, &headers, scope_or_parent("read:statuses"))?;
    let viewer = viewer
        .as_ref()
        .and_then(|caller| caller.account_id.as_deref());
    let status = visible(&state, &id, viewer).ok_or_else(ApiError::not_found)?;
    Ok(Json(render(&sim, &state, status, false)))
}

/// `DELETE /api/v1/statuses/:id`: answers with the deleted status and its
/// source `text`, so clients can offer to redraft it.
pub(crate) async fn delete(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let mut guard = sim.lock();
    let state = &mut *guard;
    let caller = require(state, &headers, scope_or_parent("write:statuses"))?;
    let account_id = caller.user()?;
    let status = state
        .statuses
        .iter_mut()
        .find(|status| status.id == id && status.published() && status.account_id == account_id)
        .ok_or_else(ApiError::not_found)?;
    status.deleted = true;
    let status = status.clone();
    Ok(Json(render(&sim, state, &status, true)))
}

/// `GET /api/v1/accounts/:id/statuses`: newest first, paginated by
/// `max_id`, `since_id` and `min_id` with Mastodon's `Link` header.
pub(crate) async fn account_statuses(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let state = sim.lock();
    let viewer = optional(&state, &headers, scope_or_parent("read:statuses"))?;
    let account = state.account(&id).ok_or_else(ApiError::not_found)?;
    let author = viewer
        .as_ref()
        .and_then(|caller| caller.account_id.as_deref())
        == Some(&account.id);
    let limit = params.present("limit").map_or(20, |limit| {
        limit
            .trim()
            .parse::<i64>()
            .unwrap_or(0)
            .unsigned_abs()
            .min(40)
    });
    let bound = |key: &str| params.present(key).map(|id| id.parse::<u64>().unwrap_or(0));
    let (max_id, since_id, min_id) = (bound("max_id"), bound("since_id"), bound("min_id"));
    let mut page: Vec<&RecordedStatus> = state
        .statuses
        .iter()
        .filter(|status| status.account_id == account.id && status.published())
        .filter(|status| author || matches!(status.visibility.as_str(), "public" | "unlisted"))
        .filter(|status| {
            let n = status.id.parse::<u64>().unwrap_or(0);
            max_id.is_none_or(|max| n < max)
                && since_id.is_none_or(|since| n > since)
                && min_id.is_none_or(|min| n > min)
        })
        .collect();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if min_id.is_some() {
        // The page just above `min_id`: the oldest matches, shown newest first.
        page.truncate(limit);
        page.reverse();
    } else {
        page.reverse();
        page.truncate(limit);
    }
    let body: Vec<Value> = page
        .iter()
        .map(|status| render(&sim, &state, status, false))
        .collect();
    let mut response = Json(body).into_response();
    if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
        let base = format!("{}/api/v1/accounts/{}/statuses", sim.base_url, account.id);
        let link = format!(
            "<{base}?limit={limit}&max_id={}>; rel=\"next\", <{base}?limit={limit}&min_id={}>; rel=\"prev\"",
            oldest.id, newest.id
        );
        if let Ok(link) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// A created status, or the ScheduledStatus entity for a scheduled one.
fn render_any(sim: &Sim, state: &Instance, status: &RecordedStatus) -> Value {
    let Some(scheduled_at) = &status.scheduled_at else {
        return render(sim, state, status, false);
    };
    json!({
        "id": status.id,
        "scheduled_at": scheduled_at,
        "params": {
            "text": status.text,
            "poll": null,
            "media_ids": (!status.media_ids.is_empty()).then_some(&status.media_ids),
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "idempotency": null,
            "scheduled_at": null,
            "in_reply_to_id": status.in_reply_to_id,
            "language": status.language,
            "with_rate_limit": false,
        },
        "media_attachments": attachments(sim, state, status),
    })
}

fn attachments(sim: &Sim, state: &Instance, status: &RecordedStatus) -> Vec<Value> {
    status
        .media_ids
        .iter()
        .filter_map(|id| state.media.get(id))
        .map(|media| media::render(&sim.base_url, media))
        .collect()
}

/// The Status entity; `with_source` adds the plain `text` as Mastodon does
/// when answering a deletion.
pub(crate) fn render(
    sim: &Sim,
    state: &Instance,
    status: &RecordedStatus,
    with_source: bool,
) -> Value {
    let base = &sim.base_url;
    let in_reply_to_account_id = status.in_reply_to_id.as_ref().and_then(|id| {
        state
            .statuses
            .iter()
            .find(|parent| parent.id == *id)
            .map(|parent| parent.account_id.clone())
    });
    let application = status.application.as_ref().map(|name| {
        let website = state
            .apps
            .iter()
            .find(|app| app.name == *name)
            .and_then(|app| app.website.clone());
        json!({ "name": name, "website": website })
    });
    let account = state
        .account(&status.account_id)
        .map(|account| accounts::render(sim, state, account));
    let replies_count = state
        .statuses
        .iter()
        .filter(|reply| reply.in_reply_to_id.as_deref() == Some(&status.id) && reply.published())
        .count();
    let engagement = state
        .engagement
        .get(&status.id)
        .copied()
        .unwrap_or_default();
    let mut body = json!({
        "id": status.id,
        "created_at": status.created_at,
        "in_reply_to_id": status.in_reply_to_id,
        "in_reply_to_account_id": in_reply_to_account_id,
        "sensitive": status.sensitive,
        "spoiler_text": status.spoiler_text,
        "visibility": status.visibility,
        "language": status.language,
        "uri": format!("{base}/users/{}/statuses/{}", status.username, status.id),
        "url": format!("{base}/@{}/{}", status.username, status.id),
        "replies_count": replies_count,
        "reblogs_count": engagement.reblogs,
        "favourites_count": engagement.favourites,
        "edited_at": null,
        "content": to_html(&status.text),
        "reblog": null,
        "application": application,
        "account": account,
        "media_attachments": attachments(sim, state, status),
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": null,
        "poll": null,
    });
    if with_source {
        body["text"] = json!(status.text);
    }
    body
}
