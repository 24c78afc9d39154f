//! `models/{model}:generateContent`, `:streamGenerateContent` and the model list.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::Gemini;
use super::error::ApiError;
use crate::ai::answer::{self, count_tokens};
use crate::ai::sse::{self, Frame};
use crate::ai::{Call, presented_key};
use crate::openai::random_id;

const KNOWN: &[&str] = &[
    "contents",
    "systemInstruction",
    "generationConfig",
    "safetySettings",
    "tools",
    "toolConfig",
    "cachedContent",
];

const GENERATION_CONFIG: &[&str] = &[
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "thinkingConfig",
    "responseModalities",
];

struct Ask {
    model: String,
    prompt: String,
    input_tokens: u32,
    max_tokens: Option<u32>,
}

fn unknown_name(name: &str, at: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid JSON payload received. Unknown name \"{name}\"{at}: Cannot find field."
    ))
}

fn authorize(
    sim: &Gemini,
    headers: &HeaderMap,
    query: &Map<String, Value>,
) -> Result<(), ApiError> {
    let key = presented_key(headers)
        .or_else(|| query.get("key").and_then(Value::as_str).map(str::to_owned));
    let Some(key) = key else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        ));
    };
    if !sim.config.api_keys.contains(&key) || sim.core.is_revoked(&key) {
        return Err(ApiError {
            details: vec![json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            })],
            ..ApiError::invalid("API key not valid. Please pass a valid API key.")
        });
    }
    Ok(())
}

pub(crate) async fn action(
    State(sim): State<Arc<Gemini>>,
    Extension(call): Extension<Call>,
    Path(action): Path<String>,
    Query(query): Query<Map<String, Value>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        authorize(&sim, &headers, &query)?;
        let (model, method) = action
            .split_once(':')
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Method not found."))?;
        let streaming = match method {
            "generateContent" => false,
            "streamGenerateContent" => true,
            _ => return Err(ApiError::new(StatusCode::NOT_FOUND, "Method not found.")),
        };
        let ask = read(&sim, model, &body)?;
        Ok((ask, streaming))
    })();
    let (ask, streaming) = match result {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let sse_wanted = query.get("alt").and_then(Value::as_str) == Some("sse");
    let chunks = chunks(&sim, &ask);
    if streaming && sse_wanted {
        let mut frames: Vec<Frame> = chunks
            .iter()
            .map(|(chunk, delta)| {
                let frame = Frame::data(chunk);
                if *delta { frame.delta() } else { frame }
            })
            .collect();
        if frames.is_empty() {
            frames.push(Frame::data(&json!({})));
        }
        let error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The model is overloaded. Please try again later.",
        );
        sse::respond(&call, sse::cut(frames, &call, Frame::data(&error.body())))
    } else if streaming {
        // Without `alt=sse` the stream is one JSON array of the same responses.
        let list: Vec<Value> = chunks.into_iter().map(|(c, _)| c).collect();
        axum::Json(Value::Array(list)).into_response()
    } else {
        axum::Json(whole(&ask, &chunks)).into_response()
    }
}

fn read(sim: &Gemini, model: &str, bytes: &[u8]) -> Result<Ask, ApiError> {
    let Some((_, input_limit, output_limit)) = sim.config.models.iter().find(|(m, ..)| m == model)
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "models/{model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
            ),
        ));
    };
    let body: Map<String, Value> = match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(ApiError::invalid(
                "Invalid JSON payload received. Unexpected token.",
            ));
        }
    };
    if let Some(k) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(unknown_name(k, ""));
    }
    let mut input_tokens = 0;
    if let Some(system) = body.get("systemInstruction") {
        input_tokens += count_tokens(&parts_text(system, "system_instruction")?);
    }
    let contents = match body.get("contents") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            return Err(ApiError::invalid(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ));
        }
    };
    let mut prompt = String::new();
    for (i, content) in contents.iter().enumerate() {
        let role = content
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(ApiError::invalid("Please use a valid role: user, model."));
        }
        let text = parts_text(content, &format!("contents[{i}]"))?;
        input_tokens += count_tokens(&text) + 3;
        if role == "user" {
            prompt = text;
        }
    }
    let mut max_tokens = None;
    if let Some(config) = body.get("generationConfig") {
        let Some(config) = config.as_object() else {
            return Err(ApiError::invalid("Invalid value at 'generation_config'"));
        };
        if let Some(k) = config
            .keys()
            .find(|k| !GENERATION_CONFIG.contains(&k.as_str()))
        {
            return Err(unknown_name(k, " at 'generation_config'"));
        }
        if let Some(t) = config.get("temperature") {
            match t.as_f64() {
                Some(t) if (0.0..=2.0).contains(&t) => {}
                _ => {
                    return Err(ApiError::invalid(
                        "* GenerateContentRequest.generation_config.temperature: temperature must be between 0 and 2\n",
                    ));
                }
            }
        }
        if let Some(m) = config.get("maxOutputTokens") {
            match m.as_u64() {
                Some(m) if m >= 1 && m <= u64::from(*output_limit) => {
                    max_tokens = Some(u32::try_from(m).unwrap_or(u32::MAX));
                }
                _ => {
                    return Err(ApiError::invalid(format!(
                        "* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be between 1 and {output_limit}\n"
                    )));
                }
            }
        }
    }
    if input_tokens > *input_limit {
        return Err(ApiError::invalid(format!(
            "The input token count ({input_tokens}) exceeds the maximum number of tokens allowed ({input_limit})."
        )));
    }
    Ok(Ask {
        model: model.to_owned(),
        prompt,
        input_tokens,
        max_tokens,
    })
}

/// The text of a `Content` (`{parts: [...]}`).
fn parts_text(content: &Value, at: &str) -> Result<String, ApiError> {
    let Some(parts) = content.get("parts").and_then(Value::as_array) else {
        return Err(ApiError::invalid(format!(
            "* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n"
        )));
    };
    if parts.is_empty() {
        return Err(ApiError::invalid(format!(
            "* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n"
        )));
    }
    let mut out = Vec::new();
    for part in parts {
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            out.push(text.to_owned());
        } else if part.get("inlineData").is_none() {
            return Err(ApiError::invalid(format!(
                "* GenerateContentRequest.{at}.parts: a part needs text or inlineData\n"
            )));
        }
    }
    Ok(out.join("\n"))
}

fn usage(ask: &Ask, output: u32) -> Value {
    json!({
        "promptTokenCount": ask.input_tokens,
        "candidatesTokenCount": output,
        "totalTokenCount": ask.input_tokens + output,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": ask.input_tokens}],
    })
}

/// The streamed responses, each with whether it carries a text delta. The last one holds
/// the finish reason and usage.
fn chunks(sim: &Gemini, ask: &Ask) -> Vec<(Value, bool)> {
    let reply = answer::reply(&ask.prompt, ask.max_tokens);
    let blocked_at = reply.tokens.iter().position(|t| {
        sim.config
            .blocked_terms
            .iter()
            .any(|term| t.to_lowercase().contains(&term.to_lowercase()))
    });
    let response_id = random_id(20);
    let tokens = &reply.tokens[..blocked_at.unwrap_or(reply.tokens.len())];
    let mut out: Vec<(Value, bool)> = tokens
        .iter()
        .map(|token| {
            (
                json!({
                    "candidates": [{"content": {"parts": [{"text": token}], "role": "model"}, "index": 0}],
                    "modelVersion": ask.model,
                    "responseId": response_id,
                }),
                true,
            )
        })
        .collect();
    let output = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
    let last = if blocked_at.is_some() {
        json!({
            "candidates": [{
                "finishReason": "SAFETY",
                "index": 0,
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true},
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
                ],
            }],
            "usageMetadata": usage(ask, output),
            "modelVersion": ask.model,
            "responseId": response_id,
        })
    } else {
        let finish = if reply.truncated {
            "MAX_TOKENS"
        } else {
            "STOP"
        };
        json!({
            "candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "finishReason": finish, "index": 0}],
            "usageMetadata": usage(ask, output),
            "modelVersion": ask.model,
            "responseId": response_id,
        })
    };
    out.push((last, false));
    out
}

/// The non-streamed answer: the chunks merged.
fn whole(ask: &Ask, chunks: &[(Value, bool)]) -> Value {
    let text: String = chunks
        .iter()
        .filter_map(|(c, _)| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    let Some((last, _)) = chunks.last() else {
        return json!({});
    };
    let mut answer = last.clone();
    let candidate = &mut answer["candidates"][0];
    if candidate["finishReason"] != "SAFETY" {
        candidate["content"] = json!({"parts": [{"text": text}], "role": "model"});
    }
    answer["modelVersion"] = json!(ask.model);
    answer
}

fn model_json(id: &str, input: u32, output: u32) -> Value {
    json!({
        "name": format!("models/{id}"),
        "version": "001",
        "displayName": id,
        "inputTokenLimit": input,
        "outputTokenLimit": output,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    })
}

pub(crate) async fn models(
    State(sim): State<Arc<Gemini>>,
    Query(query): Query<Map<String, Value>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorize(&sim, &headers, &query) {
        return e.into_response();
    }
    let models: Vec<Value> = sim
        .config
        .models
        .iter()
        .map(|(id, i, o)| model_json(id, *i, *o))
        .collect();
    axum::Json(json!({"models": models})).into_response()
}

pub(crate) async fn model(
    State(sim): State<Arc<Gemini>>,
    Path(id): Path<String>,
    Query(query): Query<Map<String, Value>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorize(&sim, &headers, &query) {
        return e.into_response();
    }
    match sim.config.models.iter().find(|(m, ..)| *m == id) {
        Some((id, i, o)) => axum::Json(model_json(id, *i, *o)).into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, format!("models/{id} is not found"))
            .into_response(),
    }
}
