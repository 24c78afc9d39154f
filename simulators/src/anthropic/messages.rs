//! `POST /v1/messages`, plain and streamed.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::Anthropic;
use super::error::ApiError;
use crate::ai::Call;
use crate::ai::answer::{self, Reply, count_tokens};
use crate::ai::sse::{self, Frame};
use crate::openai::random_id;

const VERSIONS: &[&str] = &["2023-06-01", "2023-01-01"];

const KNOWN: &[&str] = &[
    "model",
    "max_tokens",
    "messages",
    "system",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "metadata",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
];

struct Ask {
    model: String,
    prompt: String,
    input_tokens: u32,
    max_tokens: u32,
    stream: bool,
}

pub(crate) async fn create(
    State(sim): State<Arc<Anthropic>>,
    Extension(call): Extension<Call>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match read(&sim, &headers, &body) {
        Ok(ask) if ask.stream => stream(&call, &ask),
        Ok(ask) => {
            let reply = answer::reply(&ask.prompt, Some(ask.max_tokens));
            let id = format!("msg_{}", random_id(24));
            let mut message = message(&ask, &id, Some(&reply));
            message["content"] = json!([{"type": "text", "text": reply.text()}]);
            axum::Json(message).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn read(sim: &Anthropic, headers: &HeaderMap, bytes: &[u8]) -> Result<Ask, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match header("x-api-key") {
        None => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "x-api-key header is required",
            ));
        }
        Some(key) if !sim.config.api_keys.iter().any(|k| k == key) || sim.core.is_revoked(key) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid x-api-key",
            ));
        }
        Some(_) => {}
    }
    match header("anthropic-version") {
        None => return Err(ApiError::invalid("anthropic-version: header is required")),
        Some(v) if !VERSIONS.contains(&v) => {
            return Err(ApiError::invalid(format!(
                "anthropic-version: invalid version '{v}'"
            )));
        }
        Some(_) => {}
    }
    if !header("content-type").is_some_and(|ct| ct.starts_with("application/json")) {
        return Err(ApiError::invalid(
            "content-type: application/json header is required",
        ));
    }
    let body: Map<String, Value> = match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(ApiError::invalid(
                "There was an error parsing the body as JSON.",
            ));
        }
    };
    if let Some(k) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "{k}: Extra inputs are not permitted"
        )));
    }
    let model = match body.get("model") {
        Some(Value::String(m)) => m.clone(),
        None => return Err(ApiError::invalid("model: Field required")),
        Some(_) => return Err(ApiError::invalid("model: Input should be a valid string")),
    };
    let Some((_, max_output)) = sim.config.models.iter().find(|(m, _)| *m == model) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found_error",
            format!("model: {model}"),
        ));
    };
    let max_tokens = match body.get("max_tokens") {
        None => return Err(ApiError::invalid("max_tokens: Field required")),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => u32::try_from(n).unwrap_or(u32::MAX),
            Some(_) => {
                return Err(ApiError::invalid(
                    "max_tokens: Input should be greater than or equal to 1",
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    "max_tokens: Input should be a valid integer",
                ));
            }
        },
    };
    if max_tokens > *max_output {
        return Err(ApiError::invalid(format!(
            "max_tokens: {max_tokens} > {max_output}, which is the maximum allowed number of output tokens for {model}"
        )));
    }
    if let Some(t) = body.get("temperature") {
        match t.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => {}
            _ => {
                return Err(ApiError::invalid(
                    "temperature: Input should be less than or equal to 1",
                ));
            }
        }
    }
    let mut input_tokens = match body.get("system") {
        None => 0,
        Some(system) => count_tokens(&text_of(system, "system")?),
    };
    let messages = match body.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid(
                "messages: at least one message is required",
            ));
        }
        None => return Err(ApiError::invalid("messages: Field required")),
        Some(_) => return Err(ApiError::invalid("messages: Input should be a valid list")),
    };
    let mut prompt = String::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match role {
            "user" | "assistant" => {}
            "system" => {
                return Err(ApiError::invalid(format!(
                    "messages.{i}.role: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role."
                )));
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant' (got \"{other}\")"
                )));
            }
        }
        let Some(content) = message.get("content") else {
            return Err(ApiError::invalid(format!(
                "messages.{i}.content: Field required"
            )));
        };
        let text = text_of(content, &format!("messages.{i}.content"))?;
        if text.is_empty() && i + 1 < messages.len() {
            return Err(ApiError::invalid(format!(
                "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
            )));
        }
        input_tokens += count_tokens(&text) + 3;
        if role == "user" {
            prompt = text;
        }
    }
    let window = sim.config.context_window;
    if input_tokens.saturating_add(max_tokens) > window {
        return Err(ApiError::invalid(format!(
            "input length and `max_tokens` exceed context limit: {input_tokens} + {max_tokens} > {window}, decrease input length or `max_tokens` and try again"
        )));
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("stream: Input should be a valid boolean")),
    };
    Ok(Ask {
        model,
        prompt,
        input_tokens,
        max_tokens,
        stream,
    })
}

/// A string, or a list of `{"type": "text", "text"}` blocks.
fn text_of(value: &Value, field: &str) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => {
            let mut out = Vec::new();
            for (i, block) in blocks.iter().enumerate() {
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(ApiError::invalid(format!(
                        "{field}.{i}.type: the simulator accepts text blocks only"
                    )));
                }
                match block.get("text").and_then(Value::as_str) {
                    Some(t) => out.push(t.to_owned()),
                    None => {
                        return Err(ApiError::invalid(format!(
                            "{field}.{i}.text: Field required"
                        )));
                    }
                }
            }
            Ok(out.join("\n"))
        }
        _ => Err(ApiError::invalid(format!(
            "{field}: Input should be a valid string or list"
        ))),
    }
}

fn stop_reason(reply: &Reply) -> &'static str {
    if reply.truncated {
        "max_tokens"
    } else {
        "end_turn"
    }
}

/// The message object; `reply: None` at the start of a stream.
fn message(ask: &Ask, id: &str, reply: Option<&Reply>) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": ask.model,
        "content": [],
        "stop_reason": reply.map(stop_reason),
        "stop_sequence": null,
        "usage": {
            "input_tokens": ask.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": reply.map_or(1, Reply::output_tokens),
            "service_tier": "standard",
        },
    })
}

fn stream(call: &Call, ask: &Ask) -> Response {
    let reply = answer::reply(&ask.prompt, Some(ask.max_tokens));
    let id = format!("msg_{}", random_id(24));
    let mut frames = vec![
        Frame::named(
            "message_start",
            &json!({"type": "message_start", "message": message(ask, &id, None)}),
        ),
        Frame::named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        Frame::named("ping", &json!({"type": "ping"})),
    ];
    for token in &reply.tokens {
        frames.push(
            Frame::named(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}}),
            )
            .delta(),
        );
    }
    frames.push(Frame::named(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    frames.push(Frame::named(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(&reply), "stop_sequence": null},
            "usage": {"output_tokens": reply.output_tokens()},
        }),
    ));
    frames.push(Frame::named(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    let error = Frame::named("error", &ApiError::body("overloaded_error", "Overloaded"));
    sse::respond(call, sse::cut(frames, call, error))
}
