//! Any server speaking the OpenAI Chat Completions protocol — Ollama, LM Studio, vLLM,
//! llama.cpp's server — at a configured address. Models come from the server's
//! `/v1/models` when it lists them.
//!
//! App settings: `base_url` (required; the address before `/v1`, e.g.
//! `http://localhost:11434`), `api_key` (optional; sent as a bearer token),
//! `default_model` (optional; otherwise the first model the server lists).

use aiwire::openai::{CHAT_OPTIONS, Client};
use aiwire::request;
use aiwire::{Capability, Completion, CompletionRequest, CompletionSink, ModelInfo, ProviderInfo};
use plugboard_sdk::prelude::*;

struct Compatible;

/// The model id that means "the configured `default_model`, else the server's first
/// model". Listed when the server cannot be asked (e.g. at install, before `base_url` is
/// set), because the host needs every provider to name at least one model.
const SERVER_DEFAULT: &str = "server-default";

fn client() -> Result<Client, PluginError> {
    Ok(Client {
        provider: "the OpenAI-compatible server",
        base: secrets::app_required("base_url")?,
        api_key: secrets::app("api_key")?.filter(|k| !k.is_empty()),
        // The field every one of these servers knows; not all know max_completion_tokens.
        max_tokens_field: "max_tokens",
    })
}

/// The model to use: the request's, the configured default, or the server's first.
fn model(req: &CompletionRequest, client: &Client) -> Result<String, PluginError> {
    if let Some(m) = req.model.as_ref().filter(|m| *m != SERVER_DEFAULT) {
        return Ok(m.clone());
    }
    if let Some(m) = secrets::app("default_model")?.filter(|m| !m.is_empty()) {
        return Ok(m);
    }
    client.models()?.into_iter().next().ok_or_else(|| {
        invalid(
            "model",
            "model-required",
            "the server lists no models; name one in the request or set default_model",
        )
    })
}

fn prepare(req: &CompletionRequest) -> Result<(Client, String), PluginError> {
    let known: Vec<&str> = CHAT_OPTIONS.iter().map(|(n, _)| *n).collect();
    request::known_options(&req.options, &known)?;
    request::check_conversation(req, 2.0)?;
    let client = client()?;
    let model = model(req, &client)?;
    Ok((client, model))
}

impl AiProvider for Compatible {
    fn describe() -> ProviderInfo {
        let configured = secrets::app("default_model")
            .ok()
            .flatten()
            .filter(|m| !m.is_empty());
        // Without a reachable, listing server the plugin still describes itself.
        let mut listed = client().and_then(|c| c.models()).unwrap_or_default();
        if let Some(m) = &configured
            && !listed.contains(m)
        {
            listed.insert(0, m.clone());
        }
        if listed.is_empty() {
            listed.push(SERVER_DEFAULT.to_owned());
        }
        let default_model = configured.unwrap_or_else(|| listed[0].clone());
        ProviderInfo {
            provider: "compatible".into(),
            display_name: "OpenAI-compatible server".into(),
            models: listed
                .into_iter()
                .map(|id| ModelInfo {
                    id,
                    capabilities: vec![Capability::Chat, Capability::ChatStreaming],
                    context_window: None,
                })
                .collect(),
            default_model,
        }
    }

    fn complete(req: CompletionRequest) -> Result<Completion, PluginError> {
        let (client, model) = prepare(&req)?;
        client.chat(&req, &model)
    }

    fn stream(req: CompletionRequest, sink: &CompletionSink) -> Result<Completion, PluginError> {
        let (client, model) = prepare(&req)?;
        client.chat_stream(&req, &model, sink)
    }
}

plugboard_sdk::export_ai_provider!(
    Compatible,
    manifest = r#"
name = "OpenAI-compatible server"
description = "Chat with a local or self-hosted model server that speaks the OpenAI protocol (Ollama, LM Studio, vLLM, llama.cpp)."
hosts = ["http://127.0.0.1:*", "http://localhost:*", "https://*"]
secrets = ["base_url", "api_key", "default_model"]
"#
);
