//! The Gemini API (Generative Language, v1beta), simulated: `generateContent`,
//! `streamGenerateContent?alt=sse` and the model list.
//!
//! # Deliberate protocol choices
//!
//! - **Answers echo the prompt**: `You said: <last user text>`, one token per word;
//!   `usageMetadata` counts words. `generationConfig.maxOutputTokens` cuts the reply
//!   (`finishReason: MAX_TOKENS`).
//! - **Keys**: `x-goog-api-key` or `?key=`. No key is 403 `PERMISSION_DENIED`; an unknown
//!   key is 400 `INVALID_ARGUMENT` "API key not valid" with `ErrorInfo` reason
//!   `API_KEY_INVALID`, as Google answers (not 401).
//! - **Body**: `contents` is required; roles are `user` and `model`; parts are `{text}` or
//!   `{inlineData: {mimeType, data}}`; unknown fields get Google's `Unknown name` error;
//!   `temperature` is 0–2.
//! - **Safety**: a prompt containing one of [`GeminiConfig::blocked_terms`] is answered up
//!   to the token before the term, then with a candidate whose `finishReason` is `SAFETY`
//!   (and `safetyRatings` marking the blocked category) and no further text.
//! - **Streams** ⚠: frames are `data: <GenerateContentResponse>` with one token each; the
//!   last carries `finishReason` and `usageMetadata`; there is no `[DONE]`. A mid-stream
//!   fault writes `data: {"error": {"code": 503, "status": "UNAVAILABLE", ...}}` and ends
//!   (Google documents no event for this; this is how its proxies surface late errors).
//! - **Rate limits** answer 429 `RESOURCE_EXHAUSTED` whose `details` carry a
//!   `google.rpc.RetryInfo` `retryDelay`; no `Retry-After` header, as Google does.
//! - **Not simulated**: image generation (not part of the reference for Gemini), files,
//!   tools, caching, `countTokens`.

mod error;
mod generate;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};

use crate::ai::{self, AiSim, Core};
use error::{ApiError, GeminiEnvelope};

/// How a [`GeminiSim`] presents itself.
#[derive(Debug, Clone, PartialEq)]
pub struct GeminiConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    pub api_keys: Vec<String>,
    /// Models with their input and output token limits.
    pub models: Vec<(String, u32, u32)>,
    /// Words that make the simulated safety filter block the answer.
    pub blocked_terms: Vec<String>,
    /// Pause before each streamed delta.
    pub token_delay_ms: u64,
    /// Requests per minute before 429; `None`: unlimited.
    pub requests_per_minute: Option<u32>,
}

impl Default for GeminiConfig {
    fn default() -> Self {
        GeminiConfig {
            port: 0,
            api_keys: vec!["AIza-test-gemini".to_owned()],
            models: vec![
                ("gemini-2.5-flash".to_owned(), 1_048_576, 65_536),
                ("gemini-2.5-pro".to_owned(), 1_048_576, 65_536),
                ("gemini-2.5-flash-lite".to_owned(), 1_048_576, 65_536),
            ],
            blocked_terms: vec!["forbidden".to_owned()],
            token_delay_ms: 0,
            requests_per_minute: None,
        }
    }
}

/// A running Gemini simulator.
pub struct GeminiSim;

impl GeminiSim {
    /// Binds `127.0.0.1:config.port` and starts serving.
    pub async fn start(config: GeminiConfig) -> anyhow::Result<AiSim> {
        let core = Core::new(
            GeminiEnvelope,
            Duration::from_millis(config.token_delay_ms),
            config.requests_per_minute,
        );
        let shared = Arc::clone(&core);
        AiSim::start(config.port, core, move |_| {
            router(Arc::new(Gemini {
                config,
                core: shared,
            }))
        })
        .await
    }
}

pub(crate) struct Gemini {
    pub config: GeminiConfig,
    pub core: Arc<Core>,
}

fn router(sim: Arc<Gemini>) -> Router {
    Router::new()
        // `{model}:generateContent` is one path segment.
        .route(
            "/v1beta/models/{action}",
            post(generate::action).get(generate::model),
        )
        .route("/v1beta/models", get(generate::models))
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

async fn not_found(State(_): State<Arc<Gemini>>, request: Request) -> Response {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        format!(
            "The requested URL {} was not found on this server.",
            request.uri().path()
        ),
    )
    .into_response()
}
