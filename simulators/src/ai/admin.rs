//! `/__sim/`: a simulator's controls over HTTP, for driving it standalone.
//!
//! - `GET /__sim/requests`: the recordings.
//! - `POST /__sim/reset`: forget recordings, faults, revoked keys and the quota window.
//! - `GET | POST | DELETE /__sim/faults`: list, queue (an [`AiFault`] as JSON) or clear.
//! - `PUT /__sim/token_delay` `{"ms": N}`: pause before each streamed delta.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::core::Core;
use super::faults::AiFault;
use super::record::AiRequest;

/// The admin routes, with their state bound (nested with `nest_service`).
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/requests", get(requests))
        .route("/reset", post(reset))
        .route("/faults", get(faults).post(inject).delete(clear))
        .route("/token_delay", put(token_delay))
        .with_state(core)
}

async fn requests(State(core): State<Arc<Core>>) -> Json<Vec<AiRequest>> {
    Json(core.lock().requests.clone())
}

async fn reset(State(core): State<Arc<Core>>) -> StatusCode {
    core.reset();
    StatusCode::NO_CONTENT
}

async fn faults(State(core): State<Arc<Core>>) -> Json<Vec<AiFault>> {
    Json(core.lock().faults.iter().cloned().collect())
}

async fn inject(State(core): State<Arc<Core>>, Json(fault): Json<AiFault>) -> StatusCode {
    core.lock().inject(fault);
    StatusCode::NO_CONTENT
}

async fn clear(State(core): State<Arc<Core>>) -> StatusCode {
    core.lock().faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Delay {
    ms: u64,
}

async fn token_delay(State(core): State<Arc<Core>>, Json(delay): Json<Delay>) -> StatusCode {
    core.lock().token_delay = Duration::from_millis(delay.ms);
    StatusCode::NO_CONTENT
}
