//! Anthropic Claude through the Messages API: plain and streamed chat. The system prompt
//! goes in the top-level `system` field; `max_tokens` is required by the API, so the
//! plugin sends a default when the request names none.
//!
//! App settings: `api_key` (required), `base_url` (default `https://api.anthropic.com`).

use aiwire::errors::{self, ProviderError, parse_error, parse_error_value};
use aiwire::request;
use aiwire::sse::{self, Reader};
use aiwire::{
    Capability, Completion, CompletionRequest, CompletionSink, ModelInfo, ProviderInfo, Role,
    Usage, deliver,
};
use plugboard_sdk::prelude::*;
use serde_json::{Value, json};

struct Anthropic;

const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version every request pins; one place to move it.
const API_VERSION: &str = "2023-06-01";
const DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// Sent when the request names no limit, since the API requires one.
const DEFAULT_MAX_TOKENS: u32 = 4096;
const STREAM_TIMEOUT_MS: u32 = 600_000;

/// Models, their context windows and output limits.
const MODELS: &[(&str, u32, u32)] = &[
    ("claude-sonnet-4-5", 200_000, 64_000),
    ("claude-opus-4-1", 200_000, 32_000),
    ("claude-haiku-4-5", 200_000, 64_000),
    ("claude-3-5-haiku-latest", 200_000, 8_192),
];

const OPTIONS: &[&str] = &["top_p", "top_k", "stop"];

fn post(path: &str) -> Result<http::RequestBuilder, PluginError> {
    let base = secrets::app("base_url")?.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let key = secrets::app_required("api_key")?;
    Ok(
        http::post(&format!("{}/v1{path}", base.trim_end_matches('/')))
            .header("x-api-key", &key)
            .header("anthropic-version", API_VERSION),
    )
}

fn fail(status: u16, headers: &[(String, String)], body: &[u8]) -> PluginError {
    errors::status_error("Anthropic", status, headers, &parse_error(body))
}

fn body(req: &CompletionRequest, stream: bool) -> Result<(String, Value), PluginError> {
    request::known_options(&req.options, OPTIONS)?;
    request::check_conversation(req, 1.0)?;
    let model = req
        .model
        .clone()
        .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let max_tokens = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if let Some((_, _, limit)) = MODELS.iter().find(|(id, ..)| *id == model)
        && max_tokens > *limit
    {
        return Err(invalid(
            "max-tokens",
            "out-of-range",
            format!("{model} writes at most {limit} tokens"),
        ));
    }
    let messages: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "assistant"
            } else {
                "user"
            };
            json!({"role": role, "content": m.content})
        })
        .collect();
    if let Some(i) = messages
        .iter()
        .enumerate()
        .position(|(i, m)| m["content"] == "" && i + 1 < messages.len())
    {
        return Err(invalid(
            &format!("messages[{i}]"),
            "empty-message",
            "Anthropic needs every message but a final assistant one to have content",
        ));
    }
    let mut body = json!({"model": model, "max_tokens": max_tokens, "messages": messages});
    if let Some(system) = request::system_prompt(req) {
        body["system"] = json!(system);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(p) = request::number_option::<f64>(&req.options, "top_p")? {
        body["top_p"] = json!(p);
    }
    if let Some(k) = request::number_option::<u32>(&req.options, "top_k")? {
        body["top_k"] = json!(k);
    }
    if let Some(stop) = request::option(&req.options, "stop") {
        body["stop_sequences"] = json!([stop]);
    }
    if stream {
        body["stream"] = json!(true);
    }
    Ok((model, body))
}

fn usage(value: &Value) -> Option<Usage> {
    value.is_object().then(|| Usage {
        input_tokens: aiwire::token_count(&value["input_tokens"]),
        output_tokens: aiwire::token_count(&value["output_tokens"]),
    })
}

impl AiProvider for Anthropic {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            provider: "anthropic".into(),
            display_name: "Anthropic".into(),
            models: MODELS
                .iter()
                .map(|(id, window, _)| ModelInfo {
                    id: (*id).into(),
                    capabilities: vec![Capability::Chat, Capability::ChatStreaming],
                    context_window: Some(*window),
                })
                .collect(),
            default_model: DEFAULT_MODEL.into(),
        }
    }

    fn complete(req: CompletionRequest) -> Result<Completion, PluginError> {
        let (model, body) = body(&req, false)?;
        let resp = post("/messages")?.json(&body).send()?;
        if !resp.is_success() {
            return Err(fail(resp.status, &resp.headers, &resp.body));
        }
        let message: Value = resp.json()?;
        let text: String = message["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|block| block["type"] == "text")
            .filter_map(|block| block["text"].as_str())
            .collect();
        Ok(Completion {
            text,
            model: message["model"].as_str().unwrap_or(&model).to_owned(),
            usage: usage(&message["usage"]),
            finish_reason: message["stop_reason"].as_str().map(str::to_owned),
        })
    }

    fn stream(req: CompletionRequest, sink: &CompletionSink) -> Result<Completion, PluginError> {
        let (model, body) = body(&req, true)?;
        let resp = post("/messages")?
            .header("Accept", "text/event-stream")
            .json(&body)
            .timeout_ms(STREAM_TIMEOUT_MS)
            .open()?;
        if !(200..300).contains(&resp.status) {
            let bytes = sse::read_all(&resp.body)?;
            return Err(fail(resp.status, &resp.headers, &bytes));
        }
        let mut reader = Reader::new(resp.body);
        let mut done = Completion {
            text: String::new(),
            model,
            usage: None,
            finish_reason: None,
        };
        while let Some(event) = reader.next_event()? {
            let data: Value = serde_json::from_str(&event.data).map_err(|e| {
                PluginError::Transient(format!("Anthropic sent an event that is not JSON: {e}"))
            })?;
            let kind = event
                .event
                .as_deref()
                .or_else(|| data["type"].as_str())
                .unwrap_or_default();
            match kind {
                "message_start" => {
                    let message = &data["message"];
                    if let Some(m) = message["model"].as_str() {
                        done.model = m.to_owned();
                    }
                    done.usage = usage(&message["usage"]);
                }
                "content_block_delta" if data["delta"]["type"] == "text_delta" => {
                    let text = data["delta"]["text"].as_str().unwrap_or_default();
                    deliver(sink, text)?;
                    done.text.push_str(text);
                }
                "message_delta" => {
                    if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                        done.finish_reason = Some(reason.to_owned());
                    }
                    // Output tokens are cumulative; input tokens came with message_start.
                    if let (Some(u), Some(out)) =
                        (done.usage.as_mut(), data["usage"]["output_tokens"].as_u64())
                    {
                        u.output_tokens = u32::try_from(out).unwrap_or(u32::MAX);
                    }
                }
                "message_stop" => return Ok(done),
                "error" => {
                    let error: ProviderError = parse_error_value(&data).unwrap_or_default();
                    return Err(errors::stream_error("Anthropic", &error));
                }
                _ => {}
            }
        }
        Err(PluginError::Transient(
            "Anthropic ended the stream before message_stop".into(),
        ))
    }
}

plugboard_sdk::export_ai_provider!(
    Anthropic,
    manifest = r#"
name = "Anthropic"
description = "Chat with Claude through the Messages API, streamed."
hosts = ["https://api.anthropic.com", "http://127.0.0.1:*"]
secrets = ["api_key", "base_url"]
"#
);
