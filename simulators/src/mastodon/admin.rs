//! `/__sim/`: the handle's controls over HTTP, for driving a standalone simulator.
//!
//! - `GET /__sim/requests`, `GET /__sim/statuses`: the recordings.
//! - `POST /__sim/reset`: forget everything (recordings, faults, apps, tokens,
//!   media, statuses, rate-limit counters, processing-time switch).
//! - `GET | POST | DELETE /__sim/faults`: list, queue (a [`Fault`] as JSON)
//!   or clear faults.
//! - `POST /__sim/tokens` `{"username": "...", "scopes": "..."}` →
//!   `{"access_token": "...", "account_id": "..."}`; `DELETE /__sim/tokens`
//!   revokes every token.
//! - `PUT /__sim/media_processing` `{"ms": N}`: processing time of later uploads.
//! - `POST /__sim/statuses/:id/replies` `{"username": "...", "text": "..."}` →
//!   `{"id": "..."}`: another user's public reply (404 without such a status).
//! - `PUT /__sim/statuses/:id/engagement` `{"favourites": N, "reblogs": N}`.
//! - `PUT /__sim/accounts/:username/followers` `{"count": N}` → `{"account_id": "..."}`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::Fault;
use super::record::RecordedRequest;
use super::state::Engagement;
use super::state::Sim;
use super::statuses::RecordedStatus;

pub(crate) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/requests", get(requests))
        .route("/statuses", get(statuses))
        .route("/reset", post(reset))
        .route("/faults", get(faults).post(inject).delete(clear))
        .route("/tokens", post(seed_token).delete(revoke_all_tokens))
        .route("/media_processing", put(media_processing))
        .route("/statuses/{id}/replies", post(add_reply))
        .route("/statuses/{id}/engagement", put(set_engagement))
        .route("/accounts/{username}/followers", put(set_followers))
}

async fn requests(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedRequest>> {
    Json(sim.lock().requests.clone())
}

async fn statuses(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedStatus>> {
    Json(sim.lock().statuses.clone())
}

async fn reset(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

async fn faults(State(sim): State<Arc<Sim>>) -> Json<Vec<Fault>> {
    Json(sim.lock().faults.iter().cloned().collect())
}

async fn inject(State(sim): State<Arc<Sim>>, Json(fault): Json<Fault>) -> StatusCode {
    sim.lock().inject(fault);
    StatusCode::NO_CONTENT
}

async fn clear(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.lock().faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SeedToken {
    username: String,
    scopes: String,
}

async fn seed_token(State(sim): State<Arc<Sim>>, Json(seed): Json<SeedToken>) -> Json<Value> {
    let (access_token, account_id) = sim.lock().seed_token(&seed.username, &seed.scopes);
    Json(json!({ "access_token": access_token, "account_id": account_id }))
}

async fn revoke_all_tokens(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.lock().revoke_all_tokens();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct MediaProcessing {
    ms: u64,
}

async fn media_processing(
    State(sim): State<Arc<Sim>>,
    Json(setting): Json<MediaProcessing>,
) -> StatusCode {
    sim.lock().media_processing = Duration::from_millis(setting.ms);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct NewReply {
    username: String,
    text: String,
}

async fn add_reply(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(reply): Json<NewReply>,
) -> (StatusCode, Json<Value>) {
    match sim.lock().add_reply(&id, &reply.username, &reply.text) {
        Some(reply_id) => (StatusCode::CREATED, Json(json!({ "id": reply_id }))),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "Record not found" })),
        ),
    }
}

async fn set_engagement(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(engagement): Json<Engagement>,
) -> StatusCode {
    if sim.lock().set_engagement(&id, engagement) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

#[derive(Deserialize)]
struct Followers {
    count: u64,
}

async fn set_followers(
    State(sim): State<Arc<Sim>>,
    Path(username): Path<String>,
    Json(followers): Json<Followers>,
) -> Json<Value> {
    let account_id = sim.lock().set_followers(&username, followers.count);
    Json(json!({ "account_id": account_id }))
}
