/// How an [`OpenAiSim`](super::OpenAiSim) presents itself: OpenAI itself by default;
/// [`OpenAiConfig::xai`] and [`OpenAiConfig::local`] make it the xAI API or a local
/// OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    /// Accepted API keys; empty: no key needed (a local server).
    pub api_keys: Vec<String>,
    /// Where the API lives, e.g. `/v1`.
    pub path_prefix: String,
    /// Chat / Responses models.
    pub chat_models: Vec<String>,
    /// Image models (`gpt-image-1`, `dall-e-3`, `dall-e-2`; xAI: `grok-2-image`).
    pub image_models: Vec<String>,
    /// Text-to-speech models.
    pub speech_models: Vec<String>,
    /// `GET /models` answers the list (else 404, as some local servers do).
    pub list_models: bool,
    /// Context window of every chat model, in simulator tokens (words).
    pub context_window: u32,
    /// Pause before each streamed delta.
    pub token_delay_ms: u64,
    /// Requests per minute before 429; `None`: unlimited.
    pub requests_per_minute: Option<u32>,
    pub errors: ErrorStyle,
}

/// The error envelope the server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// xAI's observed `{"code": "...", "error": "..."}`.
    Xai,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            port: 0,
            api_keys: strings(&["sk-test-openai"]),
            path_prefix: "/v1".to_owned(),
            chat_models: strings(&["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"]),
            image_models: strings(&["gpt-image-1", "dall-e-3", "dall-e-2"]),
            speech_models: strings(&["gpt-4o-mini-tts", "tts-1", "tts-1-hd"]),
            list_models: true,
            context_window: 128_000,
            token_delay_ms: 0,
            requests_per_minute: None,
            errors: ErrorStyle::OpenAi,
        }
    }
}

impl OpenAiConfig {
    /// The xAI API: its key, Grok models, image generation, no speech.
    pub fn xai() -> Self {
        OpenAiConfig {
            api_keys: strings(&["xai-test-key"]),
            chat_models: strings(&["grok-4", "grok-3", "grok-3-mini"]),
            image_models: strings(&["grok-2-image"]),
            speech_models: Vec::new(),
            context_window: 256_000,
            errors: ErrorStyle::Xai,
            ..OpenAiConfig::default()
        }
    }

    /// A local server: no key, one model, chat only.
    pub fn local() -> Self {
        OpenAiConfig {
            api_keys: Vec::new(),
            chat_models: strings(&["llama3.2"]),
            image_models: Vec::new(),
            speech_models: Vec::new(),
            context_window: 8_192,
            ..OpenAiConfig::default()
        }
    }
}
