//! Comments on media (list, comment, reply) and insights of media and of the account.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::{Value, json};

use super::publish::iso;
use super::state::{RecordedComment, Sim};
use crate::graph::{GraphError, Params, new_id};

/// Longest comment or reply Instagram takes.
const MAX_COMMENT_CHARS: usize = 2_200;
const MEDIA_METRICS: &[&str] = &[
    "views",
    "reach",
    "likes",
    "comments",
    "shares",
    "saved",
    "total_interactions",
];
const ACCOUNT_METRICS: &[&str] = &[
    "views",
    "reach",
    "accounts_engaged",
    "total_interactions",
    "follower_count",
];

fn known_media(sim: &Sim, id: &str) -> Result<(), GraphError> {
    if sim.lock().media.iter().any(|m| m.id == id) {
        Ok(())
    } else {
        Err(GraphError::unknown_object(id))
    }
}

fn comment_json(c: &RecordedComment) -> Value {
    json!({
        "id": c.id,
        "text": c.text,
        "timestamp": iso(c.timestamp),
        "username": c.username,
        "from": {"id": c.from_id, "username": c.username},
        "media": {"id": c.media_id},
    })
}

/// Oldest first, `limit` and an `after` cursor.
fn page(
    all: Vec<&RecordedComment>,
    params: &Params,
    base: &str,
    edge: &str,
) -> Result<Value, GraphError> {
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25)
        .clamp(1, 50);
    let start: usize = match params.get("after") {
        Some(c) => URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| GraphError::invalid("after is not a valid cursor"))?,
        None => 0,
    };
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| comment_json(c))
        .collect();
    let mut body = json!({ "data": data });
    if start + limit < all.len() {
        let after = URL_SAFE_NO_PAD.encode((start + limit).to_string());
        body["paging"] = json!({"cursors": {"after": after}, "next": format!("{base}/v25.0/{edge}?after={after}")});
    }
    Ok(body)
}

/// `GET /{media}/comments`: top-level comments.
pub(crate) async fn list(
    State(sim): State<Arc<Sim>>,
    Path(media): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let user = sim.lock().user_id.clone();
    sim.owner(&token, &user)?;
    known_media(&sim, &media)?;
    sim.require_comments(&token)?;
    let state = sim.lock();
    let all = state
        .comments
        .iter()
        .filter(|c| c.media_id == media && c.parent_id.is_none())
        .collect();
    Ok(Json(page(
        all,
        &params,
        &sim.graph.base_url,
        &format!("{media}/comments"),
    )?))
}

/// `GET /{comment}/replies`.
pub(crate) async fn replies(
    State(sim): State<Arc<Sim>>,
    Path(comment): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let user = sim.lock().user_id.clone();
    sim.owner(&token, &user)?;
    sim.require_comments(&token)?;
    let state = sim.lock();
    if !state.comments.iter().any(|c| c.id == comment) {
        return Err(GraphError::unknown_object(&comment));
    }
    let all = state
        .comments
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(comment.as_str()))
        .collect();
    Ok(Json(page(
        all,
        &params,
        &sim.graph.base_url,
        &format!("{comment}/replies"),
    )?))
}

fn add(
    sim: &Sim,
    params: &Params,
    media_id: String,
    parent_id: Option<String>,
) -> Result<Json<Value>, GraphError> {
    let message = params.required("message")?;
    if message.chars().count() > MAX_COMMENT_CHARS {
        return Err(GraphError::invalid(format!(
            "The comment is too long: the limit is {MAX_COMMENT_CHARS} characters"
        )));
    }
    let mut state = sim.lock();
    let id = new_id();
    let from_id = state.user_id.clone();
    state.comments.push(RecordedComment {
        id: id.clone(),
        media_id,
        parent_id,
        from_id,
        username: sim.config.username.clone(),
        text: message.to_string(),
        timestamp: Utc::now(),
    });
    Ok(Json(json!({ "id": id })))
}

/// `POST /{media}/comments message=…`: the account comments on its own media.
pub(crate) async fn comment(
    State(sim): State<Arc<Sim>>,
    Path(media): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let user = sim.lock().user_id.clone();
    sim.owner(&token, &user)?;
    known_media(&sim, &media)?;
    sim.require_comments(&token)?;
    add(&sim, &params, media, None)
}

/// `POST /{comment}/replies message=…`: a reply to a top-level comment.
pub(crate) async fn reply(
    State(sim): State<Arc<Sim>>,
    Path(comment): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let user = sim.lock().user_id.clone();
    sim.owner(&token, &user)?;
    sim.require_comments(&token)?;
    let parent = sim
        .lock()
        .comments
        .iter()
        .find(|c| c.id == comment)
        .cloned()
        .ok_or_else(|| GraphError::unknown_object(&comment))?;
    if parent.parent_id.is_some() {
        return Err(GraphError::invalid(
            "Replies can only be made to top-level comments",
        ));
    }
    add(&sim, &params, parent.media_id, Some(comment))
}

/// `GET /{media}/insights?metric=…` (lifetime) or `GET /{ig-user}/insights?metric=…&period=day`.
pub(crate) async fn insights(
    State(sim): State<Arc<Sim>>,
    Path(object): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let user = sim.lock().user_id.clone();
    sim.owner(&token, &user)?;
    let account = object == user;
    if !account {
        known_media(&sim, &object)?;
    }
    sim.require_insights(&token)?;
    let known = if account {
        ACCOUNT_METRICS
    } else {
        MEDIA_METRICS
    };
    let metrics: Vec<&str> = params
        .required("metric")?
        .split(',')
        .map(str::trim)
        .collect();
    if let Some(bad) = metrics.iter().find(|m| !known.contains(m)) {
        return Err(GraphError::invalid(format!(
            "metric[{}] must be one of the following values: {}; got {bad}",
            metrics.iter().position(|m| m == bad).unwrap_or(0),
            known.join(", ")
        )));
    }
    if account && params.get("period") != Some("day") {
        return Err(GraphError::invalid(
            "period must be day for account insights",
        ));
    }
    let period = if account { "day" } else { "lifetime" };
    let state = sim.lock();
    let data: Vec<Value> = metrics
        .iter()
        .map(|m| {
            let value = state
                .insights
                .get(&(object.clone(), m.to_string()))
                .copied()
                .unwrap_or(0.0);
            json!({
                "name": m,
                "period": period,
                "values": [{"value": value, "end_time": iso(Utc::now())}],
                "title": m,
                "id": format!("{object}/insights/{m}/{period}"),
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}
