//! Google Gemini through the Generative Language API (v1beta): `generateContent` and
//! `streamGenerateContent?alt=sse`. Roles map to `user` / `model`; system messages become
//! `systemInstruction`. A safety block (`finishReason: SAFETY`, or a blocked prompt) is an
//! `invalid-content` error naming the category, after any text already streamed.
//!
//! App settings: `api_key` (required), `base_url` (default
//! `https://generativelanguage.googleapis.com`).

use aiwire::errors::{self, parse_error, parse_error_value};
use aiwire::request;
use aiwire::sse::{self, Reader};
use aiwire::{
    Capability, Completion, CompletionRequest, CompletionSink, ModelInfo, ProviderInfo, Role,
    Usage, deliver,
};
use plugboard_sdk::prelude::*;
use serde_json::{Value, json};

struct Gemini;

const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
const DEFAULT_MODEL: &str = "gemini-2.5-flash";
const STREAM_TIMEOUT_MS: u32 = 600_000;

/// Models, input and output token limits.
const MODELS: &[(&str, u32, u32)] = &[
    ("gemini-2.5-flash", 1_048_576, 65_536),
    ("gemini-2.5-pro", 1_048_576, 65_536),
    ("gemini-2.5-flash-lite", 1_048_576, 65_536),
];

const OPTIONS: &[&str] = &["top_p", "top_k", "stop", "seed", "response_mime_type"];

fn post(model: &str, method: &str) -> Result<http::RequestBuilder, PluginError> {
    let base = secrets::app("base_url")?.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let key = secrets::app_required("api_key")?;
    Ok(http::post(&format!(
        "{}/v1beta/models/{model}:{method}",
        base.trim_end_matches('/')
    ))
    .header("x-goog-api-key", &key))
}

fn fail(status: u16, headers: &[(String, String)], body: &[u8]) -> PluginError {
    let error = parse_error(body);
    // Google answers a bad key with 400, not 401: it still is a rejected key.
    if error.message.contains("API key not valid") || body_has_reason(body, "API_KEY_INVALID") {
        return errors::status_error("Gemini", 401, headers, &error);
    }
    errors::status_error("Gemini", status, headers, &error)
}

fn body_has_reason(body: &[u8], reason: &str) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["details"].as_array().cloned())
        .into_iter()
        .flatten()
        .any(|d| d["reason"] == reason)
}

fn body(req: &CompletionRequest) -> Result<(String, Value), PluginError> {
    request::known_options(&req.options, OPTIONS)?;
    request::check_conversation(req, 2.0)?;
    let model = req
        .model
        .clone()
        .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let contents: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            json!({"role": role, "parts": [{"text": m.content}]})
        })
        .collect();
    if let Some(i) = req.messages.iter().position(|m| m.content.is_empty()) {
        return Err(invalid(
            &format!("messages[{i}]"),
            "empty-message",
            "Gemini refuses messages without text",
        ));
    }
    let mut config = json!({});
    if let Some(max) = req.max_tokens {
        if let Some((_, _, limit)) = MODELS.iter().find(|(id, ..)| *id == model)
            && max > *limit
        {
            return Err(invalid(
                "max-tokens",
                "out-of-range",
                format!("{model} writes at most {limit} tokens"),
            ));
        }
        config["maxOutputTokens"] = json!(max);
    }
    if let Some(t) = req.temperature {
        config["temperature"] = json!(t);
    }
    if let Some(p) = request::number_option::<f64>(&req.options, "top_p")? {
        config["topP"] = json!(p);
    }
    if let Some(k) = request::number_option::<u32>(&req.options, "top_k")? {
        config["topK"] = json!(k);
    }
    if let Some(seed) = request::number_option::<i64>(&req.options, "seed")? {
        config["seed"] = json!(seed);
    }
    if let Some(stop) = request::option(&req.options, "stop") {
        config["stopSequences"] = json!([stop]);
    }
    if let Some(mime) = request::option(&req.options, "response_mime_type") {
        config["responseMimeType"] = json!(mime);
    }
    let mut body = json!({"contents": contents});
    if let Some(system) = request::system_prompt(req) {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    if config.as_object().is_some_and(|c| !c.is_empty()) {
        body["generationConfig"] = config;
    }
    Ok((model, body))
}

/// A blocked prompt or answer, as a creator-facing problem.
fn blocked(response: &Value) -> Option<PluginError> {
    let candidate = &response["candidates"][0];
    let prompt_block = response["promptFeedback"]["blockReason"].as_str();
    let finish = candidate["finishReason"].as_str();
    let (field, reason) = match (prompt_block, finish) {
        (Some(reason), _) => ("messages", reason),
        (
            None,
            Some(reason @ ("SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII")),
        ) => ("output", reason),
        _ => return None,
    };
    let ratings = if prompt_block.is_some() {
        &response["promptFeedback"]["safetyRatings"]
    } else {
        &candidate["safetyRatings"]
    };
    let categories: Vec<&str> = ratings
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["blocked"] == true)
        .filter_map(|r| r["category"].as_str())
        .collect();
    let which = if categories.is_empty() {
        String::new()
    } else {
        format!(" ({})", categories.join(", "))
    };
    Some(invalid(
        field,
        "blocked-by-safety",
        format!("Gemini's safety filter blocked the {field}: {reason}{which}"),
    ))
}

fn text_of(response: &Value) -> String {
    response["candidates"][0]["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .collect()
}

fn usage(response: &Value) -> Option<Usage> {
    let meta = &response["usageMetadata"];
    meta.is_object().then(|| Usage {
        input_tokens: aiwire::token_count(&meta["promptTokenCount"]),
        output_tokens: aiwire::token_count(&meta["candidatesTokenCount"]),
    })
}

impl AiProvider for Gemini {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            provider: "gemini".into(),
            display_name: "Google Gemini".into(),
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
        let (model, body) = body(&req)?;
        let resp = post(&model, "generateContent")?.json(&body).send()?;
        if !resp.is_success() {
            return Err(fail(resp.status, &resp.headers, &resp.body));
        }
        let answer: Value = resp.json()?;
        if let Some(error) = blocked(&answer) {
            return Err(error);
        }
        Ok(Completion {
            text: text_of(&answer),
            model: answer["modelVersion"].as_str().unwrap_or(&model).to_owned(),
            usage: usage(&answer),
            finish_reason: answer["candidates"][0]["finishReason"]
                .as_str()
                .map(str::to_lowercase),
        })
    }

    fn stream(req: CompletionRequest, sink: &CompletionSink) -> Result<Completion, PluginError> {
        let (model, body) = body(&req)?;
        let resp = post(&model, "streamGenerateContent")?
            .query(&[("alt", "sse")])
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
            let chunk: Value = serde_json::from_str(&event.data).map_err(|e| {
                PluginError::Transient(format!("Gemini sent a chunk that is not JSON: {e}"))
            })?;
            if let Some(error) = parse_error_value(&chunk) {
                return Err(errors::stream_error("Gemini", &error));
            }
            let text = text_of(&chunk);
            deliver(sink, &text)?;
            done.text.push_str(&text);
            if let Some(error) = blocked(&chunk) {
                return Err(error);
            }
            if let Some(m) = chunk["modelVersion"].as_str() {
                done.model = m.to_owned();
            }
            if let Some(u) = usage(&chunk) {
                done.usage = Some(u);
            }
            if let Some(reason) = chunk["candidates"][0]["finishReason"].as_str() {
                done.finish_reason = Some(reason.to_lowercase());
            }
        }
        if done.finish_reason.is_none() {
            return Err(PluginError::Transient(
                "Gemini ended the stream before the answer was complete".into(),
            ));
        }
        Ok(done)
    }
}

plugboard_sdk::export_ai_provider!(
    Gemini,
    manifest = r#"
name = "Google Gemini"
description = "Chat with Gemini models, streamed."
hosts = ["https://generativelanguage.googleapis.com", "http://127.0.0.1:*"]
secrets = ["api_key", "base_url"]
"#
);
