//! Comments (read, reply) and insights of Pages and their posts.

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

const POST_METRICS: &[&str] = &[
    "post_impressions",
    "post_impressions_unique",
    "post_clicks",
    "post_reactions_like_total",
];
const PAGE_METRICS: &[&str] = &[
    "page_impressions",
    "page_impressions_unique",
    "page_post_engagements",
    "page_follows",
];

/// The Page an object (post or comment) belongs to.
fn page_of(sim: &Sim, object: &str) -> Option<String> {
    let state = sim.lock();
    if let Some(p) = state.post(object) {
        return Some(p.page_id.clone());
    }
    let mut current = object.to_string();
    // A comment's page is that of the post it (or its parent) answers.
    for _ in 0..4 {
        let parent = state
            .comments
            .iter()
            .find(|c| c.id == current)?
            .object_id
            .clone();
        if let Some(p) = state.post(&parent) {
            return Some(p.page_id.clone());
        }
        current = parent;
    }
    None
}

/// `GET /{object}/comments`: oldest first, `limit` and an `after` cursor.
pub(crate) async fn list(
    State(sim): State<Arc<Sim>>,
    Path(object): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let page = page_of(&sim, &object).ok_or_else(|| GraphError::unknown_object(&object))?;
    sim.page_token(&token, &page)?;
    token.require("pages_read_engagement")?;
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let start: usize = match params.get("after") {
        Some(c) => URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| GraphError::invalid("after is not a valid cursor"))?,
        None => 0,
    };
    let state = sim.lock();
    let all: Vec<&RecordedComment> = state
        .comments
        .iter()
        .filter(|c| c.object_id == object)
        .collect();
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| {
            json!({
                "id": c.id,
                "message": c.message,
                "from": {"id": c.from_id, "name": c.from_name},
                "created_time": iso(c.created_time),
            })
        })
        .collect();
    let mut body = json!({ "data": data });
    if start + limit < all.len() {
        let after = URL_SAFE_NO_PAD.encode((start + limit).to_string());
        body["paging"] = json!({"cursors": {"after": after}, "next": format!("{}/v25.0/{object}/comments?after={after}", sim.graph.base_url)});
    }
    Ok(Json(body))
}

/// `POST /{object}/comments`: the Page comments (or replies) as itself.
pub(crate) async fn reply(
    State(sim): State<Arc<Sim>>,
    Path(object): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let page = page_of(&sim, &object).ok_or_else(|| GraphError::unknown_object(&object))?;
    sim.page_token(&token, &page)?;
    token.require("pages_manage_engagement")?;
    let message = params.required("message")?;
    if message.chars().count() > 8_000 {
        return Err(GraphError::invalid("The comment is too long"));
    }
    let mut state = sim.lock();
    let name = state
        .pages
        .iter()
        .find(|p| p.id == page)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let id = format!(
        "{}_{}",
        object.rsplit('_').next().unwrap_or(&object),
        new_id()
    );
    state.comments.push(RecordedComment {
        id: id.clone(),
        object_id: object,
        from_id: page,
        from_name: name,
        message: message.to_string(),
        created_time: Utc::now(),
    });
    Ok(Json(json!({ "id": id })))
}

/// `GET /{object}/insights?metric=a,b`: a post's lifetime metrics or a Page's daily ones.
pub(crate) async fn insights(
    State(sim): State<Arc<Sim>>,
    Path(object): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let is_page = sim.lock().pages.iter().any(|p| p.id == object);
    let page = if is_page {
        object.clone()
    } else {
        page_of(&sim, &object).ok_or_else(|| GraphError::unknown_object(&object))?
    };
    sim.page_token(&token, &page)?;
    token.require("read_insights")?;
    let known = if is_page { PAGE_METRICS } else { POST_METRICS };
    let metrics: Vec<&str> = params
        .required("metric")?
        .split(',')
        .map(str::trim)
        .collect();
    if let Some(bad) = metrics.iter().find(|m| !known.contains(m)) {
        return Err(GraphError::invalid(format!(
            "The value must be a valid insights metric: {bad}"
        )));
    }
    let period = if is_page { "day" } else { "lifetime" };
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
