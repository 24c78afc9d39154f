//! xAI Grok over its OpenAI-compatible API: chat through `/v1/chat/completions` (or
//! `/v1/responses` with `api=responses`), streamed or not, and image generation through
//! `/v1/images/generations`. The wire code is shared with the `openai` plugin.
//!
//! App settings: `api_key` (required), `base_url` (default `https://api.x.ai`).

use aiwire::openai::{Api, Client};
use aiwire::request;
use aiwire::{
    Capability, Completion, CompletionRequest, CompletionSink, ImageRequest, ProviderInfo,
};
use plugboard_sdk::prelude::*;

struct Xai;

const DEFAULT_BASE_URL: &str = "https://api.x.ai";
const DEFAULT_CHAT_MODEL: &str = "grok-4";
const DEFAULT_IMAGE_MODEL: &str = "grok-2-image";
/// Images per request.
const MAX_IMAGES: u32 = 10;
/// Characters of an image prompt.
const MAX_IMAGE_PROMPT: usize = 8_000;

const CHAT: &[Capability] = &[Capability::Chat, Capability::ChatStreaming];

const MODELS: &[(&str, &[Capability], Option<u32>)] = &[
    ("grok-4", CHAT, Some(256_000)),
    ("grok-3", CHAT, Some(131_072)),
    ("grok-3-mini", CHAT, Some(131_072)),
    ("grok-2-image", &[Capability::ImageGeneration], None),
];

fn client() -> Result<Client, PluginError> {
    Ok(Client {
        provider: "xAI",
        base: secrets::app("base_url")?.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
        api_key: Some(secrets::app_required("api_key")?),
        max_tokens_field: "max_tokens",
    })
}

/// The model and the API the request goes to, after checking the request.
fn prepare(req: &CompletionRequest) -> Result<(String, Api), PluginError> {
    let api = Api::of(req)?;
    let model = req
        .model
        .clone()
        .unwrap_or_else(|| DEFAULT_CHAT_MODEL.to_owned());
    Ok((model, api))
}

impl AiProvider for Xai {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            provider: "xai".into(),
            display_name: "xAI Grok".into(),
            models: aiwire::model_infos(MODELS),
            default_model: DEFAULT_CHAT_MODEL.into(),
        }
    }

    fn complete(req: CompletionRequest) -> Result<Completion, PluginError> {
        let (model, api) = prepare(&req)?;
        client()?.complete(&req, &model, api)
    }

    fn stream(req: CompletionRequest, sink: &CompletionSink) -> Result<Completion, PluginError> {
        let (model, api) = prepare(&req)?;
        client()?.stream(&req, &model, api, sink)
    }

    fn generate_image(req: ImageRequest) -> Result<Vec<MediaRef>, PluginError> {
        if req.source.is_some() {
            return Err(unsupported("editing images"));
        }
        request::known_options(&req.options, &[])?;
        if req.size.is_some() {
            return Err(invalid(
                "size",
                "unsupported-size",
                "xAI picks the image size itself; leave size empty",
            ));
        }
        if req.prompt.trim().is_empty() {
            return Err(invalid(
                "prompt",
                "prompt-empty",
                "the image needs a prompt",
            ));
        }
        let length = req.prompt.chars().count();
        if length > MAX_IMAGE_PROMPT {
            return Err(invalid(
                "prompt",
                "prompt-too-long",
                format!(
                    "xAI takes image prompts of up to {MAX_IMAGE_PROMPT} characters; this one has {length}"
                ),
            ));
        }
        if req.count == 0 || req.count > MAX_IMAGES {
            return Err(invalid(
                "count",
                "out-of-range",
                format!("xAI makes 1 to {MAX_IMAGES} images per request"),
            ));
        }
        let model = req
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_IMAGE_MODEL.to_owned());
        client()?.generate_images(&req, &model)
    }
}

plugboard_sdk::export_ai_provider!(
    Xai,
    manifest = r#"
name = "xAI Grok"
description = "Chat with Grok (streamed) and generate images."
hosts = ["https://api.x.ai", "http://127.0.0.1:*"]
secrets = ["api_key", "base_url"]
"#
);
