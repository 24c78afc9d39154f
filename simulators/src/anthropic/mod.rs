//! The Anthropic Messages API, simulated: `POST /v1/messages`, plain and streamed.
//!
//! # Deliberate protocol choices
//!
//! - **Answers echo the prompt**: `You said: <last user text>`, one token per word; usage
//!   counts words (plus 3 per message, and the system prompt). `max_tokens` cuts the reply
//!   (`stop_reason: max_tokens`).
//! - **Headers are checked**: `x-api-key` (401 `authentication_error` if missing or
//!   unknown), `anthropic-version` (400 if missing, 400 unless `2023-06-01` or
//!   `2023-01-01`), `content-type: application/json`.
//! - **Body**: `model`, `max_tokens` (≥ 1, ≤ the model's output limit) and `messages` are
//!   required; roles are `user` and `assistant` only (a `system` role gets Anthropic's hint
//!   to use the top-level `system`); unknown fields are refused (`Extra inputs are not
//!   permitted`); `temperature` is 0–1.
//! - **Streams** follow the documented order: `message_start`, `content_block_start`, a
//!   `ping`, `content_block_delta` (`text_delta`) per token, `content_block_stop`,
//!   `message_delta` (stop reason, cumulative output tokens), `message_stop`. A mid-stream
//!   fault sends `event: error` with `overloaded_error` after a 200, as Anthropic does.
//! - **Rate limits** answer 429 `rate_limit_error` with `retry-after` (seconds) and the
//!   `anthropic-ratelimit-requests-*` headers; server faults use `api_error` (500) or
//!   `overloaded_error` (529).

mod error;
mod messages;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Router, middleware};

use crate::ai::{self, AiSim, Core};
use error::{AnthropicEnvelope, ApiError};

/// How an [`AnthropicSim`] presents itself.
#[derive(Debug, Clone, PartialEq)]
pub struct AnthropicConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    pub api_keys: Vec<String>,
    /// Models and their output token limits.
    pub models: Vec<(String, u32)>,
    /// Context window of every model, in simulator tokens (words).
    pub context_window: u32,
    /// Pause before each streamed delta.
    pub token_delay_ms: u64,
    /// Requests per minute before 429; `None`: unlimited.
    pub requests_per_minute: Option<u32>,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        AnthropicConfig {
            port: 0,
            api_keys: vec!["sk-ant-test".to_owned()],
            models: vec![
                ("claude-sonnet-4-5".to_owned(), 64_000),
                ("claude-opus-4-1".to_owned(), 32_000),
                ("claude-haiku-4-5".to_owned(), 64_000),
                ("claude-3-5-haiku-latest".to_owned(), 8_192),
            ],
            context_window: 200_000,
            token_delay_ms: 0,
            requests_per_minute: None,
        }
    }
}

/// A running Anthropic simulator.
pub struct AnthropicSim;

impl AnthropicSim {
    /// Binds `127.0.0.1:config.port` and starts serving.
    pub async fn start(config: AnthropicConfig) -> anyhow::Result<AiSim> {
        let core = Core::new(
            AnthropicEnvelope,
            Duration::from_millis(config.token_delay_ms),
            config.requests_per_minute,
        );
        let shared = Arc::clone(&core);
        AiSim::start(config.port, core, move |_| {
            router(Arc::new(Anthropic {
                config,
                core: shared,
            }))
        })
        .await
    }
}

pub(crate) struct Anthropic {
    pub config: AnthropicConfig,
    pub core: Arc<Core>,
}

fn router(sim: Arc<Anthropic>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages::create))
        .nest_service(
            ai::ADMIN_PREFIX.trim_end_matches('/'),
            ai::admin::router(Arc::clone(&sim.core)),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&sim.core),
            ai::intercept,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(sim)
}

async fn not_found(State(_): State<Arc<Anthropic>>, request: Request) -> Response {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found_error",
        format!("Not found: {}", request.uri().path()),
    )
    .into_response()
}
