//! `POST /v1/responses`, plain and streamed with typed events.

use std::sync::{Arc, PoisonError};

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::error::ApiError;
use super::params::{self, Body};
use super::{OpenAi, random_id, unix_now};
use crate::ai::Call;
use crate::ai::answer::{self, Reply, count_tokens};
use crate::ai::sse::{self, Frame};

const KNOWN: &[&str] = &[
    "model",
    "input",
    "instructions",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "stream_options",
    "store",
    "previous_response_id",
    "metadata",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "truncation",
    "user",
    "include",
    "background",
    "service_tier",
    "prompt_cache_key",
    "safety_identifier",
    "max_tool_calls",
    "top_logprobs",
    "conversation",
    "prompt",
];

const ROLES: &[&str] = &["user", "assistant", "system", "developer"];

struct Ask {
    model: String,
    prompt: String,
    instructions: Option<String>,
    input_tokens: u32,
    max_output_tokens: Option<u32>,
    previous_response_id: Option<String>,
    store: bool,
    stream: bool,
}

pub(crate) async fn create(
    State(sim): State<Arc<OpenAi>>,
    Extension(call): Extension<Call>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ask = match read(&sim, &headers, &body) {
        Ok(ask) => ask,
        Err(e) => return sim.fail(e),
    };
    let id = format!("resp_{}", random_id(48));
    if ask.store {
        sim.responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone());
    }
    if ask.stream {
        stream(&call, &ask, &id)
    } else {
        let reply = answer::reply(&ask.prompt, ask.max_output_tokens);
        let message_id = format!("msg_{}", random_id(48));
        axum::Json(response(&ask, &id, &message_id, Some(&reply))).into_response()
    }
}

fn unknown_parameter(name: &str) -> ApiError {
    ApiError::invalid(format!("Unknown parameter: '{name}'."))
        .param(name)
        .code("unknown_parameter")
}

fn read(sim: &OpenAi, headers: &HeaderMap, bytes: &[u8]) -> Result<Ask, ApiError> {
    sim.authorize(headers)?;
    let body = params::parse(bytes)?;
    if let Some(k) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(unknown_parameter(k));
    }
    let model = params::required_string(&body, "model")?;
    if !sim.config.chat_models.iter().any(|m| m == model) {
        return Err(ApiError::model_not_found(model));
    }
    let instructions = params::string(&body, "instructions")?.map(str::to_owned);
    let (prompt, mut input_tokens) = input(&body)?;
    input_tokens += instructions.as_deref().map_or(0, count_tokens);
    let max_output_tokens = params::integer(&body, "max_output_tokens", 16, None)?;
    params::decimal(&body, "temperature", 0.0, 2.0)?;
    let stream = params::boolean(&body, "stream")?.unwrap_or(false);
    if body.get("stream_options").is_some_and(|v| !v.is_null()) && !stream {
        return Err(ApiError::invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        )
        .param("stream_options"));
    }
    let previous_response_id = params::string(&body, "previous_response_id")?.map(str::to_owned);
    if let Some(previous) = &previous_response_id
        && !sim
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(previous)
    {
        return Err(ApiError::invalid(format!(
            "Previous response with id '{previous}' not found."
        ))
        .param("previous_response_id"));
    }
    let window = sim.config.context_window;
    if input_tokens.saturating_add(max_output_tokens.unwrap_or(0)) > window {
        return Err(ApiError::invalid(format!(
            "Your input exceeds the context window of this model. Please adjust your input and try again. ({input_tokens} tokens, window {window})"
        ))
        .param("input")
        .code("context_length_exceeded"));
    }
    Ok(Ask {
        model: model.to_owned(),
        prompt,
        instructions,
        input_tokens,
        max_output_tokens,
        previous_response_id,
        store: params::boolean(&body, "store")?.unwrap_or(true),
        stream,
    })
}

/// `input`: a string, or a list of messages (`{role, content}`, optionally with
/// `type: "message"`). Returns the last user text and the token count.
fn input(body: &Body) -> Result<(String, u32), ApiError> {
    match body.get("input") {
        None | Some(Value::Null) => Err(params::missing("input")),
        Some(Value::String(s)) => Ok((s.clone(), count_tokens(s) + 3)),
        Some(Value::Array(items)) => {
            let mut prompt = String::new();
            let mut tokens = 0;
            for (i, item) in items.iter().enumerate() {
                let param = format!("input[{i}]");
                let Some(item) = item.as_object() else {
                    return Err(ApiError::invalid(format!("Invalid type for '{param}'."))
                        .param(&param)
                        .code("invalid_type"));
                };
                if let Some(kind) = params::string(item, "type")? {
                    params::one_of(&format!("{param}.type"), kind, &["message"])?;
                }
                let role = params::string(item, "role")?
                    .ok_or_else(|| params::missing(&format!("{param}.role")))?;
                params::one_of(&format!("{param}.role"), role, ROLES)?;
                let content = item
                    .get("content")
                    .ok_or_else(|| params::missing(&format!("{param}.content")))?;
                let text = params::content_text(
                    content,
                    &format!("{param}.content"),
                    &["input_text", "output_text"],
                )?;
                tokens += count_tokens(&text) + 3;
                if role == "user" {
                    prompt = text;
                }
            }
            Ok((prompt, tokens))
        }
        Some(_) => Err(ApiError::invalid(
            "Invalid type for 'input': expected a string or an array.",
        )
        .param("input")
        .code("invalid_type")),
    }
}

fn message(id: &str, text: &str, status: &str) -> Value {
    json!({
        "id": id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": if status == "in_progress" { json!([]) } else {
            json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}])
        },
    })
}

/// The response object; `reply: None` while still in progress.
fn response(ask: &Ask, id: &str, message_id: &str, reply: Option<&Reply>) -> Value {
    let (status, output, usage, incomplete) = match reply {
        None => ("in_progress", json!([]), Value::Null, Value::Null),
        Some(reply) => {
            let status = if reply.truncated {
                "incomplete"
            } else {
                "completed"
            };
            let incomplete = if reply.truncated {
                json!({"reason": "max_output_tokens"})
            } else {
                Value::Null
            };
            (
                status,
                json!([message(message_id, &reply.text(), status)]),
                json!({
                    "input_tokens": ask.input_tokens,
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": reply.output_tokens(),
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": ask.input_tokens + reply.output_tokens(),
                }),
                incomplete,
            )
        }
    };
    json!({
        "id": id,
        "object": "response",
        "created_at": unix_now(),
        "status": status,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": ask.instructions,
        "max_output_tokens": ask.max_output_tokens,
        "model": ask.model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": ask.previous_response_id,
        "store": ask.store,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    })
}

fn stream(call: &Call, ask: &Ask, id: &str) -> Response {
    let reply = answer::reply(&ask.prompt, ask.max_output_tokens);
    let message_id = format!("msg_{}", random_id(48));
    let text = reply.text();
    let mut seq = 0u32;
    let mut event = |kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        Frame::named(kind, &data)
    };
    let pending = response(ask, id, &message_id, None);
    let done = response(ask, id, &message_id, Some(&reply));
    let part = |t: &str| json!({"type": "output_text", "text": t, "annotations": []});
    let at = |extra: Value| {
        let mut v = json!({"item_id": message_id, "output_index": 0, "content_index": 0});
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    };
    let mut frames = vec![
        event("response.created", json!({"response": pending})),
        event("response.in_progress", json!({"response": pending})),
        event(
            "response.output_item.added",
            json!({"output_index": 0, "item": message(&message_id, "", "in_progress")}),
        ),
        event("response.content_part.added", at(json!({"part": part("")}))),
    ];
    for token in &reply.tokens {
        frames.push(
            event(
                "response.output_text.delta",
                at(json!({"delta": token, "logprobs": []})),
            )
            .delta(),
        );
    }
    let status = done["status"].as_str().unwrap_or("completed").to_owned();
    frames.push(event(
        "response.output_text.done",
        at(json!({"text": text, "logprobs": []})),
    ));
    frames.push(event(
        "response.content_part.done",
        at(json!({"part": part(&text)})),
    ));
    frames.push(event(
        "response.output_item.done",
        json!({"output_index": 0, "item": message(&message_id, &text, &status)}),
    ));
    let terminal = if status == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    frames.push(event(terminal, json!({"response": done})));
    // A mid-stream error follows the four opening events and the deltas sent before it.
    let sent = call
        .stream_error_after
        .unwrap_or(0)
        .min(reply.output_tokens());
    let error = Frame::named(
        "error",
        &json!({
            "type": "error",
            "code": "server_error",
            "message": "The server had an error while processing your request. Sorry about that!",
            "param": null,
            "sequence_number": 4 + sent,
        }),
    );
    sse::respond(call, sse::cut(frames, call, error))
}
