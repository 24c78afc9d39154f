//! OpenAI: text through Chat Completions (default) or the Responses API (`api=responses`),
//! streamed or not; images through `gpt-image-1` and DALL·E (generation, edits,
//! variations); speech through the TTS models. Generated files are stored by the host.
//!
//! App settings: `api_key` (required), `base_url` (default `https://api.openai.com`; tests
//! point it at the simulator).

use aiwire::openai::{Api, Client, IMAGE_OPTIONS};
use aiwire::request::{self, option};
use aiwire::{
    Capability, Completion, CompletionRequest, CompletionSink, ImageRequest, ProviderInfo,
    SpeechRequest,
};
use plugboard_sdk::prelude::*;

struct OpenAi;

const DEFAULT_BASE_URL: &str = "https://api.openai.com";
const DEFAULT_CHAT_MODEL: &str = "gpt-4o-mini";
const DEFAULT_IMAGE_MODEL: &str = "gpt-image-1";
const DEFAULT_SPEECH_MODEL: &str = "gpt-4o-mini-tts";
/// WAV, not OpenAI's default MP3: every player and the host's audio tools read it.
const DEFAULT_SPEECH_FORMAT: &str = "wav";
const DEFAULT_VOICE: &str = "alloy";

const CHAT: &[Capability] = &[Capability::Chat, Capability::ChatStreaming];

/// Models offered, their capabilities and context windows (tokens).
const MODELS: &[(&str, &[Capability], Option<u32>)] = &[
    ("gpt-4o-mini", CHAT, Some(128_000)),
    ("gpt-4o", CHAT, Some(128_000)),
    ("gpt-4.1", CHAT, Some(1_047_576)),
    ("gpt-4.1-mini", CHAT, Some(1_047_576)),
    ("o4-mini", CHAT, Some(200_000)),
    (
        "gpt-image-1",
        &[Capability::ImageGeneration, Capability::ImageEdit],
        None,
    ),
    ("dall-e-3", &[Capability::ImageGeneration], None),
    (
        "dall-e-2",
        &[
            Capability::ImageGeneration,
            Capability::ImageEdit,
            Capability::ImageVariation,
        ],
        None,
    ),
    ("gpt-4o-mini-tts", &[Capability::Speech], None),
    ("tts-1", &[Capability::Speech], None),
    ("tts-1-hd", &[Capability::Speech], None),
];

const VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
];
const SPEECH_FORMATS: &[&str] = &["mp3", "opus", "aac", "flac", "wav", "pcm"];
const SPEECH_MAX_CHARS: usize = 4096;

fn client() -> Result<Client, PluginError> {
    Ok(Client {
        provider: "OpenAI",
        base: secrets::app("base_url")?.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
        api_key: Some(secrets::app_required("api_key")?),
        max_tokens_field: "max_completion_tokens",
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

/// (rules of the image model) sizes, max count, max prompt characters.
fn image_rules(model: &str) -> Option<(&'static [&'static str], u32, usize)> {
    match model {
        m if m.starts_with("gpt-image") => {
            Some((&["1024x1024", "1536x1024", "1024x1536", "auto"], 10, 32_000))
        }
        "dall-e-3" => Some((&["1024x1024", "1792x1024", "1024x1792"], 1, 4_000)),
        "dall-e-2" => Some((&["256x256", "512x512", "1024x1024"], 10, 1_000)),
        _ => None,
    }
}

fn check_image(req: &ImageRequest, model: &str, variation: bool) -> Result<(), PluginError> {
    let mut known: Vec<&str> = IMAGE_OPTIONS.iter().map(|(n, _)| *n).collect();
    known.push("mode");
    request::known_options(&req.options, &known)?;
    let Some((sizes, max_count, max_prompt)) = image_rules(model) else {
        return Err(invalid(
            "model",
            "unknown-model",
            format!("'{model}' is not an OpenAI image model (gpt-image-1, dall-e-3, dall-e-2)"),
        ));
    };
    if !variation && req.prompt.trim().is_empty() {
        return Err(invalid(
            "prompt",
            "prompt-empty",
            "the image needs a prompt",
        ));
    }
    let length = req.prompt.chars().count();
    if length > max_prompt {
        return Err(invalid(
            "prompt",
            "prompt-too-long",
            format!(
                "{model} takes prompts of up to {max_prompt} characters; this one has {length}"
            ),
        ));
    }
    if req.count == 0 || req.count > max_count {
        return Err(invalid(
            "count",
            "out-of-range",
            format!("{model} makes 1 to {max_count} images per request"),
        ));
    }
    if let Some(size) = &req.size
        && !sizes.contains(&size.as_str())
    {
        return Err(invalid(
            "size",
            "unsupported-size",
            format!("{model} makes images of {}", sizes.join(", ")),
        ));
    }
    let gpt_image = model.starts_with("gpt-image");
    for name in [
        "output_format",
        "output_compression",
        "background",
        "moderation",
    ] {
        if !gpt_image && option(&req.options, name).is_some() {
            return Err(invalid(
                &format!("options.{name}"),
                "unsupported-option",
                format!("{model} does not take '{name}'"),
            ));
        }
    }
    Ok(())
}

fn check_source(source: &MediaRef, model: &str, variation: bool) -> Result<(), PluginError> {
    let dall_e_2 = model == "dall-e-2";
    if variation && !dall_e_2 {
        return Err(invalid(
            "model",
            "unsupported-operation",
            "only dall-e-2 makes variations",
        ));
    }
    let edits = dall_e_2 || model.starts_with("gpt-image");
    if !variation && !edits {
        return Err(invalid(
            "model",
            "unsupported-operation",
            format!("{model} does not edit images; use gpt-image-1 or dall-e-2"),
        ));
    }
    if dall_e_2 {
        if source.mime_type != "image/png" {
            return Err(invalid(
                "source",
                "unsupported-format",
                "dall-e-2 takes PNG images only",
            ));
        }
        if source.size >= 4 << 20 {
            return Err(invalid(
                "source",
                "too-large",
                "dall-e-2 takes images under 4 MB",
            ));
        }
        if let (Some(w), Some(h)) = (source.width, source.height)
            && w != h
        {
            return Err(invalid(
                "source",
                "not-square",
                "dall-e-2 takes square images only",
            ));
        }
    } else {
        if !matches!(
            source.mime_type.as_str(),
            "image/png" | "image/jpeg" | "image/webp"
        ) {
            return Err(invalid(
                "source",
                "unsupported-format",
                "gpt-image-1 takes PNG, JPEG or WebP images",
            ));
        }
        if source.size >= 50 << 20 {
            return Err(invalid(
                "source",
                "too-large",
                "gpt-image-1 takes images under 50 MB",
            ));
        }
    }
    Ok(())
}

impl AiProvider for OpenAi {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            provider: "openai".into(),
            display_name: "OpenAI".into(),
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
        let model = req
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_IMAGE_MODEL.to_owned());
        let Some(source) = &req.source else {
            check_image(&req, &model, false)?;
            return client()?.generate_images(&req, &model);
        };
        let variation = match option(&req.options, "mode") {
            Some("variation") => true,
            Some("edit") => false,
            None => req.prompt.trim().is_empty(),
            Some(other) => {
                return Err(invalid(
                    "options.mode",
                    "invalid-option",
                    format!("mode must be 'edit' or 'variation', not '{other}'"),
                ));
            }
        };
        check_image(&req, &model, variation)?;
        check_source(source, &model, variation)?;
        client()?.transform_image(&req, source, &model, variation)
    }

    fn speech(req: SpeechRequest) -> Result<MediaRef, PluginError> {
        let model = req
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_SPEECH_MODEL.to_owned());
        if req.text.trim().is_empty() {
            return Err(invalid("text", "text-empty", "there is no text to speak"));
        }
        let length = req.text.chars().count();
        if length > SPEECH_MAX_CHARS {
            return Err(invalid(
                "text",
                "text-too-long",
                format!(
                    "OpenAI speaks up to {SPEECH_MAX_CHARS} characters at once; this text has {length}"
                ),
            ));
        }
        let voice = req.voice.as_deref().unwrap_or(DEFAULT_VOICE);
        if !VOICES.contains(&voice) {
            return Err(invalid(
                "voice",
                "unknown-voice",
                format!("OpenAI voices are {}", VOICES.join(", ")),
            ));
        }
        let format = req.format.as_deref().unwrap_or(DEFAULT_SPEECH_FORMAT);
        if !SPEECH_FORMATS.contains(&format) {
            return Err(invalid(
                "format",
                "unsupported-format",
                format!("OpenAI speech formats are {}", SPEECH_FORMATS.join(", ")),
            ));
        }
        client()?.speech(&req, &model, voice, format)
    }
}

plugboard_sdk::export_ai_provider!(
    OpenAi,
    manifest = r#"
name = "OpenAI"
description = "Chat (streamed), images and speech from OpenAI."
hosts = ["https://api.openai.com", "http://127.0.0.1:*"]
secrets = ["api_key", "base_url"]
"#
);
