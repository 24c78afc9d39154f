//! `/__sim/`: the handle's controls over HTTP, for a standalone simulator.
//!
//! - `GET /__sim/requests`, `GET /__sim/records`: the recordings.
//! - `POST /__sim/reset`: forget everything.
//! - `GET | POST | DELETE /__sim/faults`: list, queue (a [`Fault`] as JSON) or clear.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::faults::Fault;
use super::state::{RecordedRequest, Sim, StoredRecord};

pub(crate) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/requests", get(requests))
        .route("/records", get(records))
        .route("/reset", post(reset))
        .route("/faults", get(faults).post(inject).delete(clear))
}

async fn requests(State(sim): State<Arc<Sim>>) -> Json<Vec<RecordedRequest>> {
    Json(sim.lock().requests.clone())
}

async fn records(State(sim): State<Arc<Sim>>) -> Json<Vec<StoredRecord>> {
    Json(sim.lock().records.clone())
}

async fn reset(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

async fn faults(State(sim): State<Arc<Sim>>) -> Json<Vec<Fault>> {
    Json(sim.lock().faults.clone())
}

async fn inject(State(sim): State<Arc<Sim>>, Json(fault): Json<Fault>) -> StatusCode {
    sim.lock().inject(fault);
    StatusCode::NO_CONTENT
}

async fn clear(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.lock().faults.clear();
    StatusCode::NO_CONTENT
}
