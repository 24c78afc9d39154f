//! The OpenAI protocol: Chat Completions and Responses (plain and streamed), image
//! generation, edits and variations, speech, and the model list. xAI and local servers
//! speak the same protocol, so one [`Client`] serves the `openai`, `xai` and `compatible`
//! plugins.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use plugboard_sdk::http::{self, MediaBody, Part, PartBody, RequestBuilder};
use plugboard_sdk::{MediaRef, PluginError, invalid};
use serde_json::{Map, Value, json};

use crate::errors::{self, parse_error, parse_error_value};
use crate::request::{self, option};
use crate::sse::{self, Reader};
use crate::{
    Completion, CompletionRequest, CompletionSink, ImageRequest, Role, SpeechRequest, Usage,
    deliver, media,
};

/// Which OpenAI text API a request goes to: the `api` option, `chat` (the default) or
/// `responses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Chat,
    Responses,
}

impl Api {
    /// Checks a completion request for a plugin that offers both APIs (its options are
    /// [`CHAT_OPTIONS`] plus `api`, its conversation the usual one) and picks the API.
    pub fn of(req: &CompletionRequest) -> Result<Api, PluginError> {
        let mut known: Vec<&str> = CHAT_OPTIONS.iter().map(|(n, _)| *n).collect();
        known.push("api");
        request::known_options(&req.options, &known)?;
        request::check_conversation(req, 2.0)?;
        match option(&req.options, "api") {
            None | Some("chat") => Ok(Api::Chat),
            Some("responses") => Ok(Api::Responses),
            Some(other) => Err(invalid(
                "options.api",
                "invalid-option",
                format!("api must be 'chat' or 'responses', not '{other}'"),
            )),
        }
    }
}

/// How long a streamed answer may take; the host caps it at the plugin's HTTP limit.
const STREAM_TIMEOUT_MS: u32 = 600_000;

/// Options copied into a chat or Responses body when given, with how to encode them.
pub const CHAT_OPTIONS: &[(&str, Kind)] = &[
    ("top_p", Kind::Number),
    ("seed", Kind::Integer),
    ("stop", Kind::Text),
    ("reasoning_effort", Kind::Text),
    ("user", Kind::Text),
];

/// Options copied into an image request when given.
pub const IMAGE_OPTIONS: &[(&str, Kind)] = &[
    ("quality", Kind::Text),
    ("background", Kind::Text),
    ("output_format", Kind::Text),
    ("output_compression", Kind::Integer),
    ("style", Kind::Text),
    ("moderation", Kind::Text),
];

/// How an option's text is encoded in JSON.
#[derive(Clone, Copy)]
pub enum Kind {
    Number,
    Integer,
    Text,
}

/// A server speaking the OpenAI protocol.
pub struct Client {
    /// Display name used in error messages (`OpenAI`, `xAI`, `the server`).
    pub provider: &'static str,
    /// Origin (and path) before `/v1`, without a trailing slash.
    pub base: String,
    pub api_key: Option<String>,
    /// `max_completion_tokens` (OpenAI) or the older `max_tokens` (local servers, xAI).
    pub max_tokens_field: &'static str,
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}/v1{path}", self.base.trim_end_matches('/'))
    }

    fn request(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.api_key {
            Some(key) => builder.bearer(key),
            None => builder,
        }
    }

    fn fail(&self, status: u16, headers: &[(String, String)], body: &[u8]) -> PluginError {
        errors::status_error(self.provider, status, headers, &parse_error(body))
    }

    /// Sends and returns the JSON of a 2xx answer; maps anything else.
    fn send_json(&self, builder: RequestBuilder) -> Result<Value, PluginError> {
        let resp = self.request(builder).send()?;
        if !resp.is_success() {
            return Err(self.fail(resp.status, &resp.headers, &resp.body));
        }
        resp.json()
    }

    /// Opens a streamed answer; maps a non-2xx status.
    fn open(&self, path: &str, body: &Value) -> Result<Reader, PluginError> {
        let resp = self
            .request(http::post(&self.url(path)))
            .header("Accept", "text/event-stream")
            .json(body)
            .timeout_ms(STREAM_TIMEOUT_MS)
            .open()?;
        if !(200..300).contains(&resp.status) {
            let body = sse::read_all(&resp.body)?;
            return Err(self.fail(resp.status, &resp.headers, &body));
        }
        Ok(Reader::new(resp.body))
    }

    /// The ids `GET /v1/models` lists.
    pub fn models(&self) -> Result<Vec<String>, PluginError> {
        let list = self.send_json(http::get(&self.url("/models")).timeout_ms(5_000))?;
        Ok(list["data"]
            .as_array()
            .map(|models| {
                models
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn chat_body(
        &self,
        req: &CompletionRequest,
        model: &str,
        stream: bool,
    ) -> Result<Value, PluginError> {
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| json!({"role": role(m.role), "content": m.content}))
            .collect();
        let mut body = json!({"model": model, "messages": messages});
        if let Some(max) = req.max_tokens {
            body[self.max_tokens_field] = json!(max);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        pass_options(&mut body, &req.options, CHAT_OPTIONS)?;
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        Ok(body)
    }

    /// A completion through `api`.
    pub fn complete(
        &self,
        req: &CompletionRequest,
        model: &str,
        api: Api,
    ) -> Result<Completion, PluginError> {
        match api {
            Api::Chat => self.chat(req, model),
            Api::Responses => self.responses(req, model),
        }
    }

    /// A streamed completion through `api`.
    pub fn stream(
        &self,
        req: &CompletionRequest,
        model: &str,
        api: Api,
        sink: &CompletionSink,
    ) -> Result<Completion, PluginError> {
        match api {
            Api::Chat => self.chat_stream(req, model, sink),
            Api::Responses => self.responses_stream(req, model, sink),
        }
    }

    /// `POST /v1/chat/completions`.
    pub fn chat(&self, req: &CompletionRequest, model: &str) -> Result<Completion, PluginError> {
        let body = self.chat_body(req, model, false)?;
        let answer = self.send_json(http::post(&self.url("/chat/completions")).json(&body))?;
        let choice = &answer["choices"][0];
        Ok(Completion {
            text: choice["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            model: answer["model"].as_str().unwrap_or(model).to_owned(),
            usage: chat_usage(&answer["usage"]),
            finish_reason: choice["finish_reason"].as_str().map(str::to_owned),
        })
    }

    /// `POST /v1/chat/completions` with `stream: true`: each content delta goes to `sink`
    /// as it arrives.
    pub fn chat_stream(
        &self,
        req: &CompletionRequest,
        model: &str,
        sink: &CompletionSink,
    ) -> Result<Completion, PluginError> {
        let body = self.chat_body(req, model, true)?;
        let mut reader = self.open("/chat/completions", &body)?;
        let mut done = Completion {
            text: String::new(),
            model: model.to_owned(),
            usage: None,
            finish_reason: None,
        };
        let mut finished = false;
        while let Some(event) = reader.next_event()? {
            if event.data == "[DONE]" {
                finished = true;
                break;
            }
            let chunk: Value = serde_json::from_str(&event.data).map_err(|e| {
                PluginError::Transient(format!(
                    "{} sent a stream chunk that is not JSON: {e}",
                    self.provider
                ))
            })?;
            if let Some(error) = parse_error_value(&chunk) {
                return Err(errors::stream_error(self.provider, &error));
            }
            if let Some(m) = chunk["model"].as_str() {
                done.model = m.to_owned();
            }
            if let Some(usage) = chat_usage(&chunk["usage"]) {
                done.usage = Some(usage);
            }
            let choice = &chunk["choices"][0];
            if let Some(text) = choice["delta"]["content"].as_str() {
                deliver(sink, text)?;
                done.text.push_str(text);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                done.finish_reason = Some(reason.to_owned());
            }
        }
        if !finished && done.finish_reason.is_none() {
            return Err(PluginError::Transient(format!(
                "{} ended the stream before the answer was complete",
                self.provider
            )));
        }
        Ok(done)
    }

    fn responses_body(
        &self,
        req: &CompletionRequest,
        model: &str,
        stream: bool,
    ) -> Result<Value, PluginError> {
        let input: Vec<Value> = req
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| json!({"role": role(m.role), "content": m.content}))
            .collect();
        let mut body = json!({"model": model, "input": input, "store": false});
        if let Some(system) = crate::request::system_prompt(req) {
            body["instructions"] = json!(system);
        }
        if let Some(max) = req.max_tokens {
            if max < 16 {
                return Err(invalid(
                    "max-tokens",
                    "out-of-range",
                    "the Responses API needs max-tokens of at least 16",
                ));
            }
            body["max_output_tokens"] = json!(max);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        pass_options(&mut body, &req.options, CHAT_OPTIONS)?;
        if let Some(effort) = body
            .as_object_mut()
            .and_then(|b| b.remove("reasoning_effort"))
        {
            body["reasoning"] = json!({"effort": effort});
        }
        if body.get("stop").is_some() {
            return Err(invalid(
                "options.stop",
                "unsupported-option",
                "the Responses API takes no stop sequences; use api=chat",
            ));
        }
        if stream {
            body["stream"] = json!(true);
        }
        Ok(body)
    }

    /// `POST /v1/responses`.
    pub fn responses(
        &self,
        req: &CompletionRequest,
        model: &str,
    ) -> Result<Completion, PluginError> {
        let body = self.responses_body(req, model, false)?;
        let answer = self.send_json(http::post(&self.url("/responses")).json(&body))?;
        self.response_completion(&answer, model)
    }

    fn response_completion(
        &self,
        response: &Value,
        model: &str,
    ) -> Result<Completion, PluginError> {
        match response["status"].as_str() {
            Some("failed") => {
                let error =
                    parse_error_value(&json!({"error": response["error"]})).unwrap_or_default();
                return Err(errors::stream_error(self.provider, &error));
            }
            Some("completed" | "incomplete") | None => {}
            Some(other) => {
                return Err(PluginError::Transient(format!(
                    "{} left the response {other}",
                    self.provider
                )));
            }
        }
        let text: String = response["output"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|item| item["type"] == "message")
            .flat_map(|item| item["content"].as_array().cloned().unwrap_or_default())
            .filter(|part| part["type"] == "output_text")
            .filter_map(|part| part["text"].as_str().map(str::to_owned))
            .collect();
        let usage = &response["usage"];
        let finish = match response["incomplete_details"]["reason"].as_str() {
            Some("max_output_tokens") => "length",
            Some(other) => other,
            None => "stop",
        };
        Ok(Completion {
            text,
            model: response["model"].as_str().unwrap_or(model).to_owned(),
            usage: usage.is_object().then(|| Usage {
                input_tokens: to_u32(&usage["input_tokens"]),
                output_tokens: to_u32(&usage["output_tokens"]),
            }),
            finish_reason: Some(finish.to_owned()),
        })
    }

    /// `POST /v1/responses` with `stream: true`, reading its typed events.
    pub fn responses_stream(
        &self,
        req: &CompletionRequest,
        model: &str,
        sink: &CompletionSink,
    ) -> Result<Completion, PluginError> {
        let body = self.responses_body(req, model, true)?;
        let mut reader = self.open("/responses", &body)?;
        let mut text = String::new();
        while let Some(event) = reader.next_event()? {
            let data: Value = serde_json::from_str(&event.data).map_err(|e| {
                PluginError::Transient(format!(
                    "{} sent an event that is not JSON: {e}",
                    self.provider
                ))
            })?;
            let kind = event
                .event
                .as_deref()
                .or_else(|| data["type"].as_str())
                .unwrap_or_default();
            match kind {
                "response.output_text.delta" => {
                    let delta = data["delta"].as_str().unwrap_or_default();
                    deliver(sink, delta)?;
                    text.push_str(delta);
                }
                "response.completed" | "response.incomplete" | "response.failed" => {
                    let mut done = self.response_completion(&data["response"], model)?;
                    if done.text.is_empty() {
                        done.text = text;
                    }
                    return Ok(done);
                }
                "error" => {
                    let error = errors::ProviderError {
                        message: data["message"].as_str().unwrap_or_default().to_owned(),
                        code: data["code"].as_str().map(str::to_owned),
                        ..Default::default()
                    };
                    return Err(errors::stream_error(self.provider, &error));
                }
                _ => {}
            }
        }
        Err(PluginError::Transient(format!(
            "{} ended the stream before the response completed",
            self.provider
        )))
    }

    /// `POST /v1/images/generations`; the images are stored as media.
    pub fn generate_images(
        &self,
        req: &ImageRequest,
        model: &str,
    ) -> Result<Vec<MediaRef>, PluginError> {
        let mut body = json!({"model": model, "prompt": req.prompt, "n": req.count.max(1)});
        if let Some(size) = &req.size {
            body["size"] = json!(size);
        }
        pass_options(&mut body, &req.options, IMAGE_OPTIONS)?;
        let format = image_format(model, &req.options);
        if !model.starts_with("gpt-image") {
            // The URL form would need a second download from another host.
            body["response_format"] = json!("b64_json");
        }
        let answer = self.send_json(http::post(&self.url("/images/generations")).json(&body))?;
        self.store_images(&answer, format)
    }

    /// `POST /v1/images/edits` (with a prompt) or `/variations` (without), the source
    /// image sent from storage as a multipart file.
    pub fn transform_image(
        &self,
        req: &ImageRequest,
        source: &MediaRef,
        model: &str,
        variation: bool,
    ) -> Result<Vec<MediaRef>, PluginError> {
        let extension = source.mime_type.rsplit('/').next().unwrap_or("png");
        let mut parts = vec![
            Part {
                name: "image".into(),
                filename: Some(format!("image.{extension}")),
                content_type: Some(source.mime_type.clone()),
                body: PartBody::Media(MediaBody {
                    handle: source.handle.clone(),
                    offset: 0,
                    length: None,
                }),
            },
            text_part("model", model),
            text_part("n", &req.count.max(1).to_string()),
        ];
        if !variation {
            parts.push(text_part("prompt", &req.prompt));
        }
        if let Some(size) = &req.size {
            parts.push(text_part("size", size));
        }
        for (name, _) in IMAGE_OPTIONS {
            if let Some(value) = option(&req.options, name) {
                parts.push(text_part(name, value));
            }
        }
        if !model.starts_with("gpt-image") {
            parts.push(text_part("response_format", "b64_json"));
        }
        let path = if variation {
            "/images/variations"
        } else {
            "/images/edits"
        };
        let answer = self.send_json(http::post(&self.url(path)).multipart(parts))?;
        self.store_images(&answer, image_format(model, &req.options))
    }

    fn store_images(&self, answer: &Value, mime: &str) -> Result<Vec<MediaRef>, PluginError> {
        let data = answer["data"].as_array().cloned().unwrap_or_default();
        if data.is_empty() {
            return Err(PluginError::Transient(format!(
                "{} returned no image",
                self.provider
            )));
        }
        data.iter()
            .map(|item| {
                let bytes = if let Some(b64) = item["b64_json"].as_str() {
                    STANDARD.decode(b64).map_err(|e| {
                        PluginError::Transient(format!(
                            "{} sent an image that is not base64: {e}",
                            self.provider
                        ))
                    })?
                } else if let Some(url) = item["url"].as_str() {
                    http::get(url).send()?.error_for_status()?.body
                } else {
                    return Err(PluginError::Transient(format!(
                        "{} returned an image without data",
                        self.provider
                    )));
                };
                media::store(mime, &bytes)
            })
            .collect()
    }

    /// `POST /v1/audio/speech`; the audio is stored as media.
    pub fn speech(
        &self,
        req: &SpeechRequest,
        model: &str,
        voice: &str,
        format: &str,
    ) -> Result<MediaRef, PluginError> {
        let body = json!({
            "model": model,
            "input": req.text,
            "voice": voice,
            "response_format": format,
        });
        let resp = self
            .request(http::post(&self.url("/audio/speech")).json(&body))
            .send()?;
        if !resp.is_success() {
            return Err(self.fail(resp.status, &resp.headers, &resp.body));
        }
        media::store(audio_mime(format), &resp.body)
    }
}

fn text_part(name: &str, value: &str) -> Part {
    Part {
        name: name.into(),
        filename: None,
        content_type: None,
        body: PartBody::Text(value.into()),
    }
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

fn to_u32(v: &Value) -> u32 {
    v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

fn chat_usage(usage: &Value) -> Option<Usage> {
    usage.is_object().then(|| Usage {
        input_tokens: to_u32(&usage["prompt_tokens"]),
        output_tokens: to_u32(&usage["completion_tokens"]),
    })
}

fn pass_options(
    body: &mut Value,
    options: &[(String, String)],
    passed: &[(&str, Kind)],
) -> Result<(), PluginError> {
    let map: &mut Map<String, Value> = body.as_object_mut().expect("the body is an object");
    for (name, kind) in passed {
        let Some(value) = option(options, name) else {
            continue;
        };
        let encoded = match kind {
            Kind::Text => json!(value),
            Kind::Number => value
                .parse::<f64>()
                .map(|n| json!(n))
                .map_err(|_| bad_number(name, value))?,
            Kind::Integer => value
                .parse::<i64>()
                .map(|n| json!(n))
                .map_err(|_| bad_number(name, value))?,
        };
        map.insert((*name).to_owned(), encoded);
    }
    Ok(())
}

fn bad_number(name: &str, value: &str) -> PluginError {
    invalid(
        &format!("options.{name}"),
        "invalid-option",
        format!("option '{name}' must be a number, not '{value}'"),
    )
}

/// The MIME type of generated images: gpt-image honours `output_format`, the rest is PNG.
fn image_format(model: &str, options: &[(String, String)]) -> &'static str {
    match option(options, "output_format") {
        Some("jpeg") if model.starts_with("gpt-image") => "image/jpeg",
        Some("webp") if model.starts_with("gpt-image") => "image/webp",
        _ => "image/png",
    }
}

/// The MIME type of a speech `response_format`.
pub fn audio_mime(format: &str) -> &'static str {
    match format {
        "mp3" => "audio/mpeg",
        "opus" => "audio/ogg",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "pcm" => "audio/pcm",
        _ => "audio/wav",
    }
}
