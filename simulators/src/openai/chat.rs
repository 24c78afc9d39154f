//! `POST /v1/chat/completions`, plain and streamed.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::error::ApiError;
use super::params::{self, Body};
use super::{OpenAi, random_id, unix_now};
use crate::ai::answer::{self, Reply};
use crate::ai::sse::{self, Frame};
use crate::ai::{Call, answer::count_tokens};

const KNOWN: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "seed",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "store",
    "metadata",
    "reasoning_effort",
    "modalities",
    "service_tier",
    "prediction",
    "audio",
    "verbosity",
    "safety_identifier",
    "prompt_cache_key",
    "web_search_options",
];

const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// A checked chat request.
struct Chat {
    model: String,
    prompt: String,
    input_tokens: u32,
    max_tokens: Option<u32>,
    n: u32,
    stream: bool,
    include_usage: bool,
}

pub(crate) async fn create(
    State(sim): State<Arc<OpenAi>>,
    Extension(call): Extension<Call>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match read(&sim, &headers, &body) {
        Ok(chat) if chat.stream => stream(&sim, &call, &chat),
        Ok(chat) => axum::Json(complete(&chat)).into_response(),
        Err(e) => sim.fail(e),
    }
}

fn read(sim: &OpenAi, headers: &HeaderMap, bytes: &[u8]) -> Result<Chat, ApiError> {
    sim.authorize(headers)?;
    let body = params::parse(bytes)?;
    params::reject_unknown(&body, KNOWN)?;
    let model = params::string(&body, "model")?
        .ok_or_else(|| ApiError::invalid("you must provide a model parameter"))?;
    if !sim.config.chat_models.iter().any(|m| m == model) {
        return Err(ApiError::model_not_found(model));
    }
    let (prompt, input_tokens) = messages(&body)?;
    let legacy = params::integer(&body, "max_tokens", 1, None)?;
    let current = params::integer(&body, "max_completion_tokens", 1, None)?;
    if legacy.is_some() && current.is_some() {
        return Err(ApiError::invalid(
            "max_tokens and max_completion_tokens cannot both be set. Please use max_completion_tokens.",
        )
        .param("max_tokens"));
    }
    let max_tokens = current.or(legacy);
    params::decimal(&body, "temperature", 0.0, 2.0)?;
    params::decimal(&body, "top_p", 0.0, 1.0)?;
    let n = params::integer(&body, "n", 1, Some(128))?.unwrap_or(1);
    let stream = params::boolean(&body, "stream")?.unwrap_or(false);
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(_) if !stream => {
            return Err(ApiError::invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            )
            .param("stream_options"));
        }
        Some(Value::Object(options)) => params::boolean(options, "include_usage")?.unwrap_or(false),
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid type for 'stream_options': expected an object.",
            )
            .param("stream_options")
            .code("invalid_type"));
        }
    };
    let window = sim.config.context_window;
    if input_tokens.saturating_add(max_tokens.unwrap_or(0)) > window {
        return Err(ApiError::invalid(format!(
            "This model's maximum context length is {window} tokens. However, your messages resulted in {input_tokens} tokens. Please reduce the length of the messages."
        ))
        .param("messages")
        .code("context_length_exceeded"));
    }
    Ok(Chat {
        model: model.to_owned(),
        prompt,
        input_tokens,
        max_tokens,
        n,
        stream,
        include_usage,
    })
}

/// The last user message (what the reply echoes) and the input token count.
fn messages(body: &Body) -> Result<(String, u32), ApiError> {
    let Some(value) = body.get("messages") else {
        return Err(params::missing("messages"));
    };
    let Some(list) = value.as_array() else {
        return Err(
            ApiError::invalid("Invalid type for 'messages': expected an array.")
                .param("messages")
                .code("invalid_type"),
        );
    };
    if list.is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        )
        .param("messages")
        .code("empty_array"));
    }
    let mut prompt = String::new();
    let mut tokens = 0u32;
    for (i, message) in list.iter().enumerate() {
        let param = format!("messages[{i}]");
        let Some(message) = message.as_object() else {
            return Err(ApiError::invalid(format!(
                "Invalid type for '{param}': expected an object."
            ))
            .param(&param)
            .code("invalid_type"));
        };
        let role = params::string(message, "role")?
            .ok_or_else(|| params::missing(&format!("{param}.role")))?;
        params::one_of(&format!("{param}.role"), role, ROLES)?;
        let text = match message.get("content") {
            None | Some(Value::Null) if role == "assistant" => String::new(),
            None | Some(Value::Null) => return Err(params::missing(&format!("{param}.content"))),
            Some(content) => params::content_text(content, &format!("{param}.content"), &["text"])?,
        };
        tokens = tokens.saturating_add(count_tokens(&text) + 3);
        if role == "user" {
            prompt = text;
        }
    }
    Ok((prompt, tokens))
}

fn finish_reason(reply: &Reply) -> &'static str {
    if reply.truncated { "length" } else { "stop" }
}

fn usage(chat: &Chat, reply: &Reply) -> Value {
    let output = reply.output_tokens() * chat.n;
    json!({
        "prompt_tokens": chat.input_tokens,
        "completion_tokens": output,
        "total_tokens": chat.input_tokens + output,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    })
}

fn complete(chat: &Chat) -> Value {
    let reply = answer::reply(&chat.prompt, chat.max_tokens);
    let choices: Vec<Value> = (0..chat.n)
        .map(|index| {
            json!({
                "index": index,
                "message": {"role": "assistant", "content": reply.text(), "refusal": null, "annotations": []},
                "logprobs": null,
                "finish_reason": finish_reason(&reply),
            })
        })
        .collect();
    json!({
        "id": format!("chatcmpl-{}", random_id(29)),
        "object": "chat.completion",
        "created": unix_now(),
        "model": chat.model,
        "choices": choices,
        "usage": usage(chat, &reply),
        "service_tier": "default",
        "system_fingerprint": null,
    })
}

fn stream(sim: &OpenAi, call: &Call, chat: &Chat) -> Response {
    let reply = answer::reply(&chat.prompt, chat.max_tokens);
    let id = format!("chatcmpl-{}", random_id(29));
    let created = unix_now();
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
            "service_tier": "default",
            "system_fingerprint": null,
            "choices": choices,
        });
        if chat.include_usage {
            c["usage"] = usage.unwrap_or(Value::Null);
        }
        c
    };
    let mut frames = Vec::new();
    for index in 0..chat.n {
        frames.push(Frame::data(&chunk(
            json!([{"index": index, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null}]),
            None,
        )));
        for token in &reply.tokens {
            frames.push(
                Frame::data(&chunk(
                    json!([{"index": index, "delta": {"content": token}, "logprobs": null, "finish_reason": null}]),
                    None,
                ))
                .delta(),
            );
        }
        frames.push(Frame::data(&chunk(
            json!([{"index": index, "delta": {}, "logprobs": null, "finish_reason": finish_reason(&reply)}]),
            None,
        )));
    }
    if chat.include_usage {
        frames.push(Frame::data(&chunk(json!([]), Some(usage(chat, &reply)))));
    }
    frames.push(Frame::raw("[DONE]"));
    let error = ApiError::server_error(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
        .style(sim.config.errors);
    sse::respond(call, sse::cut(frames, call, Frame::data(&error.body())))
}
