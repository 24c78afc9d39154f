//! What other people do with a status: replies (the thread context), favourites and boosts,
//! and an account's followers. The simulator models no other users' clients, so tests add
//! these through the handle or `/__sim/`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::Utc;
use serde_json::{Value, json};

use super::auth::{optional, scope_or_parent};
use super::error::ApiError;
use super::state::{Engagement, Sim, State as Instance, timestamp};
use super::statuses::{RecordedStatus, render, visible};

/// Mastodon's limits on the context of anonymous requests; signed-in ones get the whole
/// thread (up to 4,096 descendants).
const ANONYMOUS_ANCESTORS: usize = 40;
const ANONYMOUS_DESCENDANTS: usize = 60;
const SIGNED_IN_DESCENDANTS: usize = 4096;

/// `GET /api/v1/statuses/:id/context`: the statuses above (oldest first) and the replies
/// below (depth first, each branch oldest first), as the viewer may see them.
pub(crate) async fn context(
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
    let (ancestor_limit, descendant_limit) = match viewer {
        Some(_) => (usize::MAX, SIGNED_IN_DESCENDANTS),
        None => (ANONYMOUS_ANCESTORS, ANONYMOUS_DESCENDANTS),
    };
    let mut ancestors = Vec::new();
    let mut parent = status.in_reply_to_id.clone();
    while let Some(parent_id) = parent {
        let Some(above) = visible(&state, &parent_id, viewer) else {
            break;
        };
        ancestors.push(above);
        parent = above.in_reply_to_id.clone();
    }
    ancestors.truncate(ancestor_limit);
    ancestors.reverse();
    let mut descendants = Vec::new();
    let mut stack: Vec<&RecordedStatus> = children(&state, &status.id, viewer);
    stack.reverse();
    while let Some(next) = stack.pop() {
        if descendants.len() == descendant_limit {
            break;
        }
        descendants.push(next);
        let mut below = children(&state, &next.id, viewer);
        below.reverse();
        stack.extend(below);
    }
    let show = |list: Vec<&RecordedStatus>| -> Vec<Value> {
        list.into_iter()
            .map(|s| render(&sim, &state, s, false))
            .collect()
    };
    Ok(Json(json!({
        "ancestors": show(ancestors),
        "descendants": show(descendants),
    })))
}

/// Direct replies to `id` the viewer may see, oldest first.
fn children<'a>(state: &'a Instance, id: &str, viewer: Option<&str>) -> Vec<&'a RecordedStatus> {
    state
        .statuses
        .iter()
        .filter(|s| s.in_reply_to_id.as_deref() == Some(id))
        .filter_map(|s| visible(state, &s.id, viewer))
        .collect()
}

impl Instance {
    /// A public reply by `username` (created if new) to the published status `status_id`;
    /// None when there is no such status.
    pub fn add_reply(&mut self, status_id: &str, username: &str, text: &str) -> Option<String> {
        let parent = self
            .statuses
            .iter()
            .find(|s| s.id == status_id && s.published())?
            .id
            .clone();
        let account_id = self.ensure_account(username);
        let id = self.next_id();
        self.statuses.push(RecordedStatus {
            id: id.clone(),
            account_id,
            username: username.to_owned(),
            text: text.to_owned(),
            spoiler_text: String::new(),
            media_ids: Vec::new(),
            visibility: "public".to_owned(),
            sensitive: false,
            language: None,
            in_reply_to_id: Some(parent),
            idempotency_key: None,
            idempotent_replays: 0,
            scheduled_at: None,
            created_at: timestamp(Utc::now()),
            application: None,
            deleted: false,
        });
        Some(id)
    }

    /// Sets the favourites and boosts `status_id` shows; false when there is no such status.
    pub fn set_engagement(&mut self, status_id: &str, engagement: Engagement) -> bool {
        if !self.statuses.iter().any(|s| s.id == status_id) {
            return false;
        }
        self.engagement.insert(status_id.to_owned(), engagement);
        true
    }

    /// Sets the followers of `username` (created if new); returns the account id.
    pub fn set_followers(&mut self, username: &str, followers: u64) -> String {
        let id = self.ensure_account(username);
        self.followers.insert(id.clone(), followers);
        id
    }
}
