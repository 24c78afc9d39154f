//! The OpenAI API, simulated: Chat Completions and Responses (plain and streamed), image
//! generation, edits and variations, text-to-speech and the model list. With another
//! [`OpenAiConfig`] it is the xAI API or a local OpenAI-compatible server.
//!
//! # Deliberate protocol choices
//!
//! - **Answers echo the prompt**: the reply is `You said: <last user text>`, one token per
//!   word; usage counts words (plus 3 per message for framing). `max_completion_tokens` /
//!   `max_output_tokens` cut the reply (finish reason `length`, Responses status
//!   `incomplete`).
//! - **Unknown body fields are refused** with 400 `Unrecognized request argument supplied`,
//!   as Chat Completions does; Responses answers `Unknown parameter` the same way.
//! - **Rate limits** (a fault or the per-minute quota) answer 429 `rate_limit_exceeded`
//!   with `x-ratelimit-*-requests` headers, the reset in Go duration form (`1m30s`) and no
//!   `Retry-After`, as OpenAI usually does.
//! - **Mid-stream errors**: Chat Completions writes `data: {"error": {...}}` and ends
//!   without `[DONE]`; Responses writes `event: error`.
//! - **Images**: real PNG (or JPEG/WebP for `output_format`) files of the requested size,
//!   coloured by the prompt. `gpt-image-1` answers `b64_json` only and refuses
//!   `response_format`; DALL·E answers `url` by default, served by the simulator under
//!   `/files/`. Edits take `image` (or `image[]` for `gpt-image-1`); variations are
//!   DALL·E 2 only and need a square PNG under 4 MB.
//! - **Speech** ⚠: the simulator cannot encode MP3, Opus, AAC or FLAC, so it synthesizes
//!   only `wav` and `pcm` (24 kHz 16-bit mono tones, one per word) and answers the other
//!   real formats 400 `unsupported_format_in_simulator`. The default format (`mp3`) is
//!   therefore refused; clients must ask for `wav` or `pcm`.
//! - **xAI** ⚠ ([`ErrorStyle::Xai`]): errors use the observed `{"code", "error"}` body.
//! - **Local servers** ([`OpenAiConfig::local`]): no key is needed and any key is accepted,
//!   as Ollama and llama.cpp do.
//!
//! # Faults and recordings
//!
//! Every client request (not `/__sim/`) is recorded before anything else, then meets the
//! first queued [`AiFault`](crate::ai::AiFault) matching its path; the streams record
//! deltas sent and whether the client went away. Controls: [`AiSim`] and `/__sim/`.

mod chat;
mod config;
mod error;
mod images;
mod models;
mod params;
mod responses;
mod speech;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, extract::State};
use rand::Rng;

pub use config::{ErrorStyle, OpenAiConfig};

use crate::ai::{self, AiSim, Core};
use error::{ApiError, OpenAiEnvelope};

/// A running OpenAI (or xAI, or local OpenAI-compatible) simulator.
pub struct OpenAiSim;

impl OpenAiSim {
    /// Binds `127.0.0.1:config.port` and starts serving.
    pub async fn start(config: OpenAiConfig) -> anyhow::Result<AiSim> {
        let core = Core::new(
            OpenAiEnvelope(config.errors),
            Duration::from_millis(config.token_delay_ms),
            config.requests_per_minute,
        );
        let port = config.port;
        let shared = Arc::clone(&core);
        AiSim::start(port, core, move |base_url| {
            router(Arc::new(OpenAi {
                config,
                base_url,
                core: shared,
                responses: Mutex::default(),
                files: Mutex::default(),
            }))
        })
        .await
    }
}

/// The simulator's state: settings, stored responses and generated files.
pub(crate) struct OpenAi {
    pub config: OpenAiConfig,
    pub base_url: String,
    pub core: Arc<Core>,
    /// Ids of stored responses, for `previous_response_id`.
    pub responses: Mutex<HashSet<String>>,
    /// Generated images served by URL: name → (MIME type, bytes).
    pub files: Mutex<HashMap<String, (&'static str, Vec<u8>)>>,
}

impl OpenAi {
    /// Checks `Authorization: Bearer <key>`.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.config.api_keys.is_empty() {
            return Ok(());
        }
        let Some(key) = ai::presented_key(headers) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            ));
        };
        if !self.config.api_keys.contains(&key) || self.core.is_revoked(&key) {
            let shown: String = key.chars().take(6).collect();
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                format!("Incorrect API key provided: {shown}****. You can find your API key at https://platform.openai.com/account/api-keys."),
            )
            .code("invalid_api_key"));
        }
        Ok(())
    }

    pub fn fail(&self, error: ApiError) -> Response {
        error.style(self.config.errors).into_response()
    }

    pub fn store_file(&self, mime: &'static str, bytes: Vec<u8>) -> String {
        let name = format!(
            "img-{}.{}",
            random_id(24),
            mime.trim_start_matches("image/")
        );
        self.files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone(), (mime, bytes));
        format!("{}/files/{name}", self.base_url)
    }
}

/// Random lowercase alphanumerics, for ids.
pub(crate) fn random_id(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

pub(crate) fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn router(sim: Arc<OpenAi>) -> Router {
    let prefix = sim.config.path_prefix.trim_end_matches('/').to_owned();
    let api = Router::new()
        .route("/chat/completions", post(chat::create))
        .route("/responses", post(responses::create))
        .route("/images/generations", post(images::generate))
        .route("/images/edits", post(images::edit))
        .route("/images/variations", post(images::variation))
        .route("/audio/speech", post(speech::create))
        .route("/models", get(models::list))
        .route("/models/{id}", get(models::show));
    let api = if prefix.is_empty() {
        api
    } else {
        Router::new().nest(&prefix, api)
    };
    Router::new()
        .merge(api)
        .route("/files/{name}", get(file))
        .nest_service(
            ai::ADMIN_PREFIX.trim_end_matches('/'),
            ai::admin::router(Arc::clone(&sim.core)),
        )
        .fallback(not_found)
        .layer(middleware::from_fn(request_id))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&sim.core),
            ai::intercept,
        ))
        // The intercept layer already read the body under its own limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(sim)
}

/// Every answer carries an `x-request-id`, as OpenAI's do.
async fn request_id(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&format!("req_{}", random_id(32))) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn file(
    State(sim): State<Arc<OpenAi>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let found = sim
        .files
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&name)
        .cloned();
    match found {
        Some((mime, bytes)) => ([("content-type", mime)], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn not_found(State(sim): State<Arc<OpenAi>>, request: Request) -> Response {
    sim.fail(ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!(
            "Invalid URL ({} {})",
            request.method(),
            request.uri().path()
        ),
    ))
}
