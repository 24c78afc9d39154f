//! `/__sim/`: the handle's controls over HTTP, for a standalone simulator.
//!
//! - `GET /__sim/requests`, `GET /__sim/posts`: the recordings.
//! - `POST /__sim/reset`: forget everything.
//! - `GET | POST | DELETE /__sim/faults`: list, queue (a [`Fault`] as JSON) or clear.
//! - `POST /__sim/tokens` `{"scopes": "threads_basic,threads_content_publish"}` →
//!   `{"access_token", "user_id"}`: a long-lived token without the browser.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::Fault;
use super::record::RecordedRequest;
use super::state::{Sim, ThreadsPost};

pub(crate) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/requests", get(requests))
        .route("/posts", get(posts))
        .route("/reset", post(reset))
        .route("/faults", get(faults).post(inject).delete(clear))
        .route("/tokens", post(seed_token))
}

async fn requests(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedRequest>> {
    Json(sim.lock().requests.clone())
}

async fn posts(State(sim): State<Arc<Sim>>) -> Json<Vec<ThreadsPost>> {
    Json(sim.lock().posts.clone())
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
    scopes: String,
}

async fn seed_token(State(sim): State<Arc<Sim>>, Json(seed): Json<SeedToken>) -> Json<Value> {
    let token = super::seed(&sim, &seed.scopes);
    Json(json!({ "access_token": token, "user_id": sim.config.user_id }))
}
