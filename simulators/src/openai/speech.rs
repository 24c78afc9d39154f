//! `POST /v1/audio/speech`: synthesized audio (WAV or raw PCM, see the module notes).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::OpenAi;
use super::error::ApiError;
use super::params;
use crate::ai::files;

const KNOWN: &[&str] = &[
    "model",
    "input",
    "voice",
    "response_format",
    "speed",
    "instructions",
    "stream_format",
];

const VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
];

const FORMATS: &[&str] = &["mp3", "opus", "aac", "flac", "wav", "pcm"];

pub(crate) async fn create(
    State(sim): State<Arc<OpenAi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match speak(&sim, &headers, &body) {
        Ok((mime, audio)) => ([("content-type", mime)], audio).into_response(),
        Err(e) => sim.fail(e),
    }
}

fn speak(
    sim: &OpenAi,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<(&'static str, Vec<u8>), ApiError> {
    sim.authorize(headers)?;
    let body = params::parse(bytes)?;
    params::reject_unknown(&body, KNOWN)?;
    let model = params::required_string(&body, "model")?;
    if !sim.config.speech_models.iter().any(|m| m == model) {
        return Err(ApiError::model_not_found(model));
    }
    let input = params::required_string(&body, "input")?;
    let length = input.chars().count();
    if length > 4096 {
        return Err(ApiError::invalid(format!(
            "Invalid 'input': string too long. Expected a string with maximum length 4096, but got a string with length {length} instead."
        ))
        .param("input")
        .code("string_above_max_length"));
    }
    let voice = params::required_string(&body, "voice")?;
    params::one_of("voice", voice, VOICES)?;
    params::decimal(&body, "speed", 0.25, 4.0)?;
    if params::string(&body, "instructions")?.is_some() && model.starts_with("tts-1") {
        return Err(ApiError::invalid(format!(
            "Instructions are not supported for model {model}."
        ))
        .param("instructions"));
    }
    let format = params::string(&body, "response_format")?.unwrap_or("mp3");
    params::one_of("response_format", format, FORMATS)?;
    match format {
        "wav" => Ok(("audio/wav", files::wav(input))),
        "pcm" => Ok(("audio/pcm", files::pcm(input))),
        other => Err(ApiError::invalid(format!(
            "The simulator synthesizes only 'wav' and 'pcm', not '{other}'."
        ))
        .param("response_format")
        .code("unsupported_format_in_simulator")),
    }
}
