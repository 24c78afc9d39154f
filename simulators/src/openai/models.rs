//! `GET /v1/models` and `GET /v1/models/{id}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::OpenAi;
use super::error::ApiError;

fn owner(sim: &OpenAi) -> &'static str {
    match sim.config.errors {
        super::ErrorStyle::Xai => "xai",
        super::ErrorStyle::OpenAi if sim.config.api_keys.is_empty() => "library",
        super::ErrorStyle::OpenAi => "openai",
    }
}

fn model(sim: &OpenAi, id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_715_367_049, "owned_by": owner(sim)})
}

fn all(sim: &OpenAi) -> impl Iterator<Item = &String> {
    sim.config
        .chat_models
        .iter()
        .chain(&sim.config.image_models)
        .chain(&sim.config.speech_models)
}

pub(crate) async fn list(State(sim): State<Arc<OpenAi>>, headers: HeaderMap) -> Response {
    if let Err(e) = sim.authorize(&headers) {
        return sim.fail(e);
    }
    if !sim.config.list_models {
        return sim.fail(ApiError::not_found());
    }
    let data: Vec<Value> = all(&sim).map(|id| model(&sim, id)).collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

pub(crate) async fn show(
    State(sim): State<Arc<OpenAi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = sim.authorize(&headers) {
        return sim.fail(e);
    }
    if !sim.config.list_models {
        return sim.fail(ApiError::not_found());
    }
    match all(&sim).find(|m| **m == id) {
        Some(found) => axum::Json(model(&sim, found)).into_response(),
        None => sim.fail(ApiError::model_not_found(&id)),
    }
}
