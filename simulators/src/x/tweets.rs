//! Posts: `POST /2/tweets` (text, media, reply chains, reply settings) under the per-user
//! 15-minute rate limit, `GET /2/users/{id}/tweets` and `DELETE /2/tweets/{id}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::{Signed, authenticate};
use super::error::ApiError;
use super::media::MediaKind;
use super::state::{Sim, USER_ID};
use super::text::weighted_length;

/// Length of the `POST /2/tweets` rate-limit window.
pub const WINDOW_SECS: u64 = 15 * 60;
const MAX_MEDIA: usize = 4;

/// A post as the simulator stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedTweet {
    pub id: String,
    pub text: String,
    pub media_ids: Vec<String>,
    /// Alt text of each attached media object, in order.
    pub alt_texts: Vec<Option<String>>,
    pub in_reply_to: Option<String>,
    pub reply_settings: Option<String>,
    pub created_at: DateTime<Utc>,
    pub deleted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTweet {
    text: Option<String>,
    media: Option<MediaField>,
    reply: Option<ReplyField>,
    quote_tweet_id: Option<String>,
    reply_settings: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaField {
    media_ids: Vec<String>,
    #[serde(default)]
    tagged_user_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyField {
    in_reply_to_tweet_id: String,
}

/// The `x-rate-limit-*` headers of a window.
pub(crate) fn rate_headers(response: &mut Response, limit: u32, remaining: u32, reset: u64) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-rate-limit-limit", limit as u64),
        ("x-rate-limit-remaining", remaining as u64),
        ("x-rate-limit-reset", reset),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

pub(crate) async fn create(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Signed {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    let mut state = sim.lock();
    if let Err(e) = authenticate(
        &sim,
        &mut state,
        &request,
        &["tweet.read", "tweet.write", "users.read"],
    ) {
        return e.into_response();
    }
    let now = Utc::now().timestamp() as u64;
    let start = now - now % WINDOW_SECS;
    let count = match state.tweet_window {
        Some((s, c)) if s == start => c + 1,
        _ => 1,
    };
    state.tweet_window = Some((start, count));
    let limit = sim.config.tweet_rate_limit;
    let reset = start + WINDOW_SECS;
    let mut response = if count > limit {
        ApiError::too_many_requests().into_response()
    } else {
        match create_tweet(&sim, &mut state, &body) {
            Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
            Err(e) => e.into_response(),
        }
    };
    rate_headers(&mut response, limit, limit.saturating_sub(count), reset);
    response
}

fn create_tweet(
    sim: &Sim,
    state: &mut super::state::State,
    body: &[u8],
) -> Result<Value, ApiError> {
    let input: CreateTweet = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))?;
    let text = input.text.unwrap_or_default();
    let media = input.media.map(|m| (m.media_ids, m.tagged_user_ids));
    let media_ids = media.as_ref().map(|m| m.0.clone()).unwrap_or_default();
    if media.as_ref().is_some_and(|m| !m.1.is_empty()) {
        return Err(ApiError::invalid("tagged_user_ids are not simulated"));
    }
    if text.is_empty() && media_ids.is_empty() {
        return Err(ApiError::invalid(
            "One or more parameters to your request was invalid: text or media is required",
        ));
    }
    let length = weighted_length(&text);
    if length > sim.config.max_weighted_length {
        return Err(ApiError::forbidden(&format!(
            "Your Tweet text is too long: it weighs {length}, the limit is {}.",
            sim.config.max_weighted_length
        )));
    }
    if media_ids.len() > MAX_MEDIA {
        return Err(ApiError::invalid(format!(
            "$.media.media_ids: array size must be at most {MAX_MEDIA}"
        )));
    }
    let mut alt_texts = Vec::new();
    let mut kinds = Vec::new();
    for id in &media_ids {
        let item = state
            .media
            .get(id)
            .filter(|m| m.ready(sim))
            .ok_or_else(|| ApiError::invalid("Your media IDs are invalid."))?;
        kinds.push(item.kind);
        alt_texts.push(item.alt_text.clone());
    }
    if kinds.len() > 1 && kinds.iter().any(|k| *k != MediaKind::Image) {
        return Err(ApiError::invalid(
            "Your media IDs are invalid: a GIF or video must be the only media of a post.",
        ));
    }
    if let Some(settings) = &input.reply_settings
        && !matches!(
            settings.as_str(),
            "following" | "mentionedUsers" | "subscribers" | "verified"
        )
    {
        return Err(ApiError::invalid(format!(
            "$.reply_settings: `{settings}` is not one of following, mentionedUsers, subscribers, verified"
        )));
    }
    let live = |id: &str, tweets: &[RecordedTweet]| tweets.iter().any(|t| t.id == id && !t.deleted);
    let in_reply_to = input.reply.map(|r| r.in_reply_to_tweet_id);
    if let Some(parent) = &in_reply_to
        && !live(parent, &state.tweets)
    {
        return Err(ApiError::invalid(
            "The Tweet you are replying to has been deleted or is not visible to you.",
        ));
    }
    if let Some(quoted) = &input.quote_tweet_id
        && !live(quoted, &state.tweets)
    {
        return Err(ApiError::invalid("The quoted Tweet does not exist."));
    }
    if !text.is_empty() && state.tweets.iter().any(|t| !t.deleted && t.text == text) {
        return Err(ApiError::forbidden(
            "You are not allowed to create a Tweet with duplicate content.",
        ));
    }
    let id = state.id();
    state.tweets.push(RecordedTweet {
        id: id.clone(),
        text: text.clone(),
        media_ids,
        alt_texts,
        in_reply_to,
        reply_settings: input.reply_settings,
        created_at: Utc::now(),
        deleted: false,
    });
    Ok(json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}}))
}

/// `GET /2/users/{id}/tweets`: the user's recent posts, newest first.
pub(crate) async fn timeline(
    State(sim): State<Arc<Sim>>,
    Path(user): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let request = Signed {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &[],
    };
    let mut state = sim.lock();
    authenticate(&sim, &mut state, &request, &["tweet.read", "users.read"])?;
    if user != USER_ID {
        return Err(ApiError::not_found(&format!(
            "Could not find user with id: [{user}]."
        )));
    }
    let max: usize = match q.get("max_results") {
        Some(m) => m
            .parse()
            .ok()
            .filter(|m| (5..=100).contains(m))
            .ok_or_else(|| ApiError::invalid("max_results must be between 5 and 100"))?,
        None => 10,
    };
    let since = match q.get("start_time") {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|_| ApiError::invalid("start_time must be an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let data: Vec<Value> = state
        .tweets
        .iter()
        .rev()
        .filter(|t| !t.deleted && since.is_none_or(|s| t.created_at >= s))
        .take(max)
        .map(|t| {
            json!({
                "id": t.id,
                "text": t.text,
                "created_at": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "edit_history_tweet_ids": [t.id],
            })
        })
        .collect();
    let mut meta = json!({"result_count": data.len()});
    if let (Some(first), Some(last)) = (data.first(), data.last()) {
        meta["newest_id"] = first["id"].clone();
        meta["oldest_id"] = last["id"].clone();
    }
    let mut body = json!({"meta": meta});
    if !data.is_empty() {
        body["data"] = data.into();
    }
    Ok(Json(body))
}

/// `DELETE /2/tweets/{id}`.
pub(crate) async fn delete(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let request = Signed {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &[],
    };
    let mut state = sim.lock();
    authenticate(
        &sim,
        &mut state,
        &request,
        &["tweet.read", "tweet.write", "users.read"],
    )?;
    let tweet = state
        .tweets
        .iter_mut()
        .find(|t| t.id == id && !t.deleted)
        .ok_or_else(|| ApiError::not_found(&format!("Could not find tweet with id: [{id}].")))?;
    tweet.deleted = true;
    Ok(Json(json!({"data": {"deleted": true}})))
}
