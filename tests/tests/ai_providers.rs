//! The AI provider plugins against their simulators, through the real runtime: completion,
//! streaming (deltas arrive one by one, before the call returns), mid-stream errors, the
//! client going away, error mapping (429, bad key, overload), image generation, edits and
//! variations stored as media, and speech.

use plugboard::app::App;
use plugboard::runtime::caps::media::{CallMedia, MediaItem};
use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard::runtime::state::CallContext;
use plugboard_bindings::DeltaSink;
use plugboard_bindings::ai::exports::plugboard::plugin::provider::{
    Completion, CompletionRequest, ImageRequest, Message, Role, SpeechRequest,
};
use plugboard_bindings::platform::plugboard::plugin::types::{MediaRef, PluginError};
use plugboard_e2e::{plugin, test_app};
use plugboard_simulators::{
    AiFault, AiFaultAction, AiRequest, AiSim, AnthropicConfig, AnthropicSim, GeminiConfig,
    GeminiSim, OpenAiConfig, OpenAiSim,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn install(app: &App, name: &str) {
    let bytes = plugin(name);
    let grants = Grants::requested(&Manifest::from_component(&bytes).unwrap());
    app.runtime
        .registry
        .install(&bytes, Some(grants), InstallMode::Install)
        .await
        .unwrap();
}

fn settings(pairs: &[(&str, &str)]) -> CallContext {
    CallContext {
        app_secrets: pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    }
}

fn message(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.into(),
    }
}

fn ask(text: &str) -> CompletionRequest {
    CompletionRequest {
        model: None,
        messages: vec![
            message(Role::System, "Be brief."),
            message(Role::User, text),
        ],
        max_tokens: None,
        temperature: None,
        options: vec![],
    }
}

fn with_options(mut req: CompletionRequest, options: &[(&str, &str)]) -> CompletionRequest {
    req.options = options
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    req
}

/// Deltas as the host's sink receives them, with arrival times; optionally a client that
/// leaves after some deltas.
#[derive(Clone, Default)]
struct Recorder {
    deltas: Arc<Mutex<Vec<(Instant, String)>>>,
    leave_after: Option<usize>,
}

impl Recorder {
    fn leaving_after(n: usize) -> Self {
        Recorder {
            leave_after: Some(n),
            ..Recorder::default()
        }
    }
    fn texts(&self) -> Vec<String> {
        self.deltas
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.clone())
            .collect()
    }
    fn times(&self) -> Vec<Instant> {
        self.deltas
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| *t)
            .collect()
    }
}

impl DeltaSink for Recorder {
    fn deliver(&mut self, text: String) -> bool {
        let mut deltas = self.deltas.lock().unwrap();
        if self.leave_after.is_some_and(|n| deltas.len() >= n) {
            return false;
        }
        deltas.push((Instant::now(), text));
        true
    }
}

async fn complete(
    app: &App,
    plugin: &str,
    ctx: CallContext,
    req: CompletionRequest,
) -> Result<Completion, PluginError> {
    app.runtime
        .ai(plugin, "complete", ctx)
        .await
        .unwrap()
        .complete(req)
        .await
        .unwrap()
}

/// Streams and returns the result with the time the call returned.
async fn stream(
    app: &App,
    plugin: &str,
    mut ctx: CallContext,
    req: CompletionRequest,
    sink: &Recorder,
) -> (Result<Completion, PluginError>, Instant) {
    ctx.sink = Some(Box::new(sink.clone()));
    let out = app
        .runtime
        .ai(plugin, "stream", ctx)
        .await
        .unwrap()
        .stream(req)
        .await
        .unwrap();
    (out, Instant::now())
}

/// Deltas arrived one by one, paced by the simulator, all before the call returned.
fn assert_streamed(sink: &Recorder, expected: &str, returned: Instant, delay: Duration) {
    let texts = sink.texts();
    let words = expected.split_whitespace().count();
    assert_eq!(texts.len(), words, "one delta per token: {texts:?}");
    assert_eq!(texts.concat(), expected);
    let times = sink.times();
    assert!(times.iter().all(|t| *t <= returned));
    let spread = *times.last().unwrap() - times[0];
    assert!(
        spread >= delay * (words as u32 - 2),
        "deltas arrived together ({spread:?}), not as produced"
    );
}

fn last(sim: &AiSim) -> AiRequest {
    sim.requests()
        .pop()
        .expect("a request reached the simulator")
}

/// Waits until the simulator has recorded how the last stream ended.
async fn stream_end(sim: &AiSim) -> plugboard_simulators::StreamRecord {
    for _ in 0..100 {
        if let Some(s) = last(sim).stream
            && (s.completed || s.client_disconnected)
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the stream never ended: {:?}", last(sim).stream);
}

async fn read_blob(app: &App, key: &str) -> Vec<u8> {
    let path = app
        .blobs
        .local_path(key)
        .await
        .unwrap()
        .expect("a local blob");
    std::fs::read(path).unwrap()
}

// ---------------------------------------------------------------------------------------
// OpenAI

struct OpenAiSetup {
    app: Arc<App>,
    sim: AiSim,
    _dir: tempfile::TempDir,
}

async fn openai() -> OpenAiSetup {
    let (app, dir) = test_app().await;
    install(&app, "openai").await;
    let sim = OpenAiSim::start(OpenAiConfig::default()).await.unwrap();
    OpenAiSetup {
        app,
        sim,
        _dir: dir,
    }
}

impl OpenAiSetup {
    fn ctx(&self) -> CallContext {
        self.ctx_with_key("sk-test-openai")
    }
    fn ctx_with_key(&self, key: &str) -> CallContext {
        settings(&[("api_key", key), ("base_url", &self.sim.base_url())])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_completes_through_chat_and_responses() {
    let s = openai().await;
    let mut req = ask("hello there");
    req.max_tokens = Some(50);
    let done = complete(&s.app, "openai", s.ctx(), req).await.unwrap();
    assert_eq!(done.text, "You said: hello there");
    assert_eq!(done.model, "gpt-4o-mini");
    assert_eq!(done.finish_reason.as_deref(), Some("stop"));
    let usage = done.usage.unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (2 + 3 + 2 + 3, 4)
    );
    let sent = last(&s.sim);
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("<redacted>"));
    let body = sent.body.unwrap();
    assert_eq!(body["max_completion_tokens"], 50);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["content"], "hello there");

    let mut req = with_options(ask("one two three four"), &[("api", "responses")]);
    req.max_tokens = Some(16);
    req.model = Some("gpt-4.1".into());
    let done = complete(&s.app, "openai", s.ctx(), req).await.unwrap();
    assert_eq!(done.text, "You said: one two three four");
    assert_eq!(done.model, "gpt-4.1");
    let sent = last(&s.sim);
    assert_eq!(sent.path, "/v1/responses");
    let body = sent.body.unwrap();
    assert_eq!(body["instructions"], "Be brief.");
    assert_eq!(body["input"].as_array().unwrap().len(), 1);
    assert_eq!(body["max_output_tokens"], 16);

    // The token cap cuts the answer, reported as `length` by both APIs.
    for api in ["chat", "responses"] {
        let mut req = with_options(ask(&"word ".repeat(40)), &[("api", api)]);
        req.max_tokens = Some(16);
        let done = complete(&s.app, "openai", s.ctx(), req).await.unwrap();
        assert_eq!(done.finish_reason.as_deref(), Some("length"), "{api}");
        assert_eq!(done.text.split_whitespace().count(), 16, "{api}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_streams_deltas_as_they_arrive() {
    let s = openai().await;
    let delay = Duration::from_millis(40);
    s.sim.set_token_delay(delay);
    for api in ["chat", "responses"] {
        let sink = Recorder::default();
        let req = with_options(ask("stream me these words"), &[("api", api)]);
        let (done, returned) = stream(&s.app, "openai", s.ctx(), req, &sink).await;
        let done = done.unwrap();
        assert_eq!(done.text, "You said: stream me these words", "{api}");
        assert!(done.usage.is_some(), "{api}: usage comes with the stream");
        assert_streamed(&sink, &done.text, returned, delay);
        let record = stream_end(&s.sim).await;
        assert!(
            record.completed && !record.client_disconnected,
            "{record:?}"
        );
        assert_eq!(record.deltas_sent, 6);
    }
    let chat = &s.sim.requests()[0];
    assert_eq!(
        chat.body.as_ref().unwrap()["stream_options"]["include_usage"],
        true
    );
    assert_eq!(chat.header("accept"), Some("text/event-stream"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_mid_stream_errors_come_after_the_deltas_sent() {
    let s = openai().await;
    for (api, path) in [("chat", "/v1/chat"), ("responses", "/v1/responses")] {
        s.sim.inject(AiFault::new(
            path,
            AiFaultAction::StreamError { after_deltas: 2 },
        ));
        let sink = Recorder::default();
        let req = with_options(ask("a longer answer please"), &[("api", api)]);
        let (done, _) = stream(&s.app, "openai", s.ctx(), req, &sink).await;
        match done {
            Err(PluginError::Transient(m)) => assert!(m.contains("mid-stream"), "{m}"),
            other => panic!("{api}: {other:?}"),
        }
        assert_eq!(sink.texts(), ["You", " said:"], "{api}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_stops_reading_when_the_client_leaves() {
    let s = openai().await;
    s.sim.set_token_delay(Duration::from_millis(30));
    let sink = Recorder::leaving_after(2);
    let req = ask(&"many words to say here ".repeat(10));
    let (done, _) = stream(&s.app, "openai", s.ctx(), req, &sink).await;
    assert!(matches!(done, Err(PluginError::Transient(_))), "{done:?}");
    assert_eq!(sink.texts().len(), 2);
    let record = stream_end(&s.sim).await;
    assert!(record.client_disconnected, "{record:?}");
    assert!(!record.completed);
    assert!(record.deltas_sent < 20, "{record:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_errors_map_onto_plugin_errors() {
    let s = openai().await;
    // 429 with OpenAI's reset header (Go duration), no Retry-After.
    s.sim.inject(AiFault::new(
        "/v1/chat",
        AiFaultAction::RateLimited {
            retry_after_secs: 90,
        },
    ));
    match complete(&s.app, "openai", s.ctx(), ask("hi")).await {
        Err(PluginError::RateLimited(r)) => assert_eq!(r.retry_after_secs, 90),
        other => panic!("{other:?}"),
    }
    // The same while opening a stream.
    s.sim.inject(AiFault::new(
        "/v1/chat",
        AiFaultAction::RateLimited {
            retry_after_secs: 5,
        },
    ));
    let (done, _) = stream(&s.app, "openai", s.ctx(), ask("hi"), &Recorder::default()).await;
    assert!(
        matches!(&done, Err(PluginError::RateLimited(r)) if r.retry_after_secs == 5),
        "{done:?}"
    );
    s.sim.inject(AiFault::new(
        "/v1/chat",
        AiFaultAction::ServerError { status: 503 },
    ));
    let done = complete(&s.app, "openai", s.ctx(), ask("hi")).await;
    assert!(matches!(done, Err(PluginError::Transient(_))), "{done:?}");

    // A wrong key is permanent: there is nothing to refresh.
    match complete(&s.app, "openai", s.ctx_with_key("sk-wrong"), ask("hi")).await {
        Err(PluginError::Permanent(m)) => assert!(m.contains("API key"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A key revoked while in use.
    s.sim
        .inject(AiFault::new("/v1/chat", AiFaultAction::RevokeKey));
    let done = complete(&s.app, "openai", s.ctx(), ask("hi")).await;
    assert!(matches!(done, Err(PluginError::Permanent(_))), "{done:?}");
    s.sim.reset();

    // The provider's refusal reaches the creator in its words.
    let mut req = ask("hi");
    req.model = Some("gpt-nonexistent".into());
    match complete(&s.app, "openai", s.ctx(), req).await {
        Err(PluginError::Permanent(m)) => assert!(m.contains("does not exist"), "{m}"),
        other => panic!("{other:?}"),
    }
    // What the API would refuse is refused without a request.
    let mut req = ask("hi");
    req.temperature = Some(3.0);
    let done = complete(&s.app, "openai", s.ctx(), req).await;
    assert!(
        matches!(done, Err(PluginError::InvalidContent(_))),
        "{done:?}"
    );
    let done = complete(
        &s.app,
        "openai",
        s.ctx(),
        with_options(ask("hi"), &[("nope", "1")]),
    )
    .await;
    assert!(
        matches!(done, Err(PluginError::InvalidContent(_))),
        "{done:?}"
    );
    assert_eq!(
        s.sim.requests().len(),
        1,
        "only the unknown model reached OpenAI"
    );
}

async fn generate(
    app: &App,
    plugin: &str,
    ctx: CallContext,
    req: ImageRequest,
) -> (Result<Vec<MediaRef>, PluginError>, Vec<MediaItem>) {
    app.runtime
        .ai(plugin, "generate-image", ctx)
        .await
        .unwrap()
        .generate_image(req)
        .await
        .unwrap()
}

fn image_request(model: &str, prompt: &str, size: &str, count: u32) -> ImageRequest {
    ImageRequest {
        model: Some(model.into()),
        prompt: prompt.into(),
        size: Some(size.into()),
        count,
        source: None,
        options: vec![],
    }
}

async fn assert_png(app: &App, item: &MediaItem, size: (u32, u32)) {
    assert_eq!(item.mime_type, "image/png");
    let bytes = read_blob(app, &item.key).await;
    assert_eq!(bytes.len() as u64, item.size);
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_images_are_stored_as_media() {
    let s = openai().await;
    let (refs, created) = generate(
        &s.app,
        "openai",
        s.ctx(),
        image_request("gpt-image-1", "a lighthouse at dusk", "1536x1024", 2),
    )
    .await;
    let refs = refs.unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(created.len(), 2);
    for item in &created {
        assert_png(&s.app, item, (1536, 1024)).await;
    }
    assert_eq!(
        refs.iter().map(|r| &r.handle).collect::<Vec<_>>(),
        created.iter().map(|c| &c.handle).collect::<Vec<_>>()
    );
    assert!(last(&s.sim).body.unwrap().get("response_format").is_none());

    // DALL·E answers URLs unless asked for base64, which the plugin does.
    let (refs, _) = generate(
        &s.app,
        "openai",
        s.ctx(),
        image_request("dall-e-2", "a small fox", "256x256", 1),
    )
    .await;
    assert_eq!(refs.unwrap().len(), 1);
    assert_eq!(last(&s.sim).body.unwrap()["response_format"], "b64_json");

    // An edit sends the stored source as a file, from storage.
    let source = plugboard_e2e_png(512, 512);
    let size = source.len() as u64;
    s.app.blobs.put("test/source.png", source).await.unwrap();
    let item = MediaItem {
        handle: "source-1".into(),
        key: "test/source.png".into(),
        mime_type: "image/png".into(),
        size,
        width: Some(512),
        height: Some(512),
        duration_ms: None,
        alt_text: None,
    };
    let media_ctx = || CallContext {
        media: CallMedia::new([item.clone()]),
        ..s.ctx()
    };
    let mut edit = image_request("gpt-image-1", "add a moon", "1024x1024", 1);
    edit.source = Some(item.to_ref());
    let (refs, created) = generate(&s.app, "openai", media_ctx(), edit).await;
    assert_eq!(refs.unwrap().len(), 1);
    assert_png(&s.app, &created[0], (1024, 1024)).await;
    let sent = last(&s.sim);
    assert_eq!(sent.path, "/v1/images/edits");
    let image = sent.parts.iter().find(|p| p.name == "image").unwrap();
    assert_eq!(image.size as u64, size);
    assert_eq!(image.content_type.as_deref(), Some("image/png"));
    let prompt = sent.parts.iter().find(|p| p.name == "prompt").unwrap();
    assert_eq!(prompt.value.as_deref(), Some("add a moon"));

    // A variation (DALL·E 2 only, no prompt).
    let mut variation = image_request("dall-e-2", "", "256x256", 2);
    variation.source = Some(item.to_ref());
    let (refs, created) = generate(&s.app, "openai", media_ctx(), variation).await;
    assert_eq!(refs.unwrap().len(), 2);
    assert_png(&s.app, &created[1], (256, 256)).await;
    assert_eq!(last(&s.sim).path, "/v1/images/variations");

    // Refused before any request: a size the model does not make, a variation by gpt-image-1.
    let before = s.sim.requests().len();
    let (bad, _) = generate(
        &s.app,
        "openai",
        s.ctx(),
        image_request("dall-e-3", "x", "256x256", 1),
    )
    .await;
    assert!(
        matches!(bad, Err(PluginError::InvalidContent(_))),
        "{bad:?}"
    );
    let mut bad = image_request("gpt-image-1", "", "1024x1024", 1);
    bad.source = Some(item.to_ref());
    let (bad, _) = generate(&s.app, "openai", media_ctx(), bad).await;
    assert!(
        matches!(bad, Err(PluginError::InvalidContent(_))),
        "{bad:?}"
    );
    assert_eq!(s.sim.requests().len(), before);
}

fn plugboard_e2e_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn speak(
    app: &App,
    plugin: &str,
    ctx: CallContext,
    req: SpeechRequest,
) -> Result<MediaRef, PluginError> {
    app.runtime
        .ai(plugin, "speech", ctx)
        .await
        .unwrap()
        .speech(req)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_speech_is_stored_as_audio() {
    let s = openai().await;
    let audio = speak(
        &s.app,
        "openai",
        s.ctx(),
        SpeechRequest {
            model: None,
            text: "good morning everyone".into(),
            voice: Some("nova".into()),
            format: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(audio.mime_type, "audio/wav");
    let bytes = read_blob(&s.app, &format!("plugins/openai/created/{}", audio.handle)).await;
    assert_eq!(bytes.len() as u64, audio.size);
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let body = last(&s.sim).body.unwrap();
    assert_eq!(body["voice"], "nova");
    assert_eq!(body["response_format"], "wav");
    assert_eq!(body["model"], "gpt-4o-mini-tts");

    let bad = speak(
        &s.app,
        "openai",
        s.ctx(),
        SpeechRequest {
            model: None,
            text: "x".repeat(5000),
            voice: None,
            format: None,
        },
    )
    .await;
    assert!(
        matches!(bad, Err(PluginError::InvalidContent(_))),
        "{bad:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Anthropic

async fn with_sim(plugin: &str) -> (Arc<App>, tempfile::TempDir) {
    let (app, dir) = test_app().await;
    install(&app, plugin).await;
    (app, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_completes_and_streams_messages() {
    let (app, _dir) = with_sim("anthropic").await;
    let sim = AnthropicSim::start(AnthropicConfig::default())
        .await
        .unwrap();
    let ctx = || settings(&[("api_key", "sk-ant-test"), ("base_url", &sim.base_url())]);

    let done = complete(&app, "anthropic", ctx(), ask("hello claude"))
        .await
        .unwrap();
    assert_eq!(done.text, "You said: hello claude");
    assert_eq!(done.finish_reason.as_deref(), Some("end_turn"));
    assert_eq!(done.model, "claude-sonnet-4-5");
    let usage = done.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (2 + 2 + 3, 4));
    let sent = last(&sim);
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("x-api-key"), Some("<redacted>"));
    let body = sent.body.unwrap();
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(
        body["max_tokens"], 4096,
        "max_tokens is required, so always sent"
    );
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);

    let delay = Duration::from_millis(40);
    sim.set_token_delay(delay);
    let sink = Recorder::default();
    let mut req = ask("stream these few words");
    req.max_tokens = Some(5);
    let (done, returned) = stream(&app, "anthropic", ctx(), req, &sink).await;
    let done = done.unwrap();
    assert_eq!(done.text, "You said: stream these few");
    assert_eq!(done.finish_reason.as_deref(), Some("max_tokens"));
    assert_eq!(done.usage.unwrap().output_tokens, 5);
    assert_streamed(&sink, &done.text, returned, delay);
    sim.set_token_delay(Duration::ZERO);

    // An overloaded_error event after a 200, once two deltas went out.
    sim.inject(AiFault::new(
        "/v1/messages",
        AiFaultAction::StreamError { after_deltas: 2 },
    ));
    let sink = Recorder::default();
    let (done, _) = stream(&app, "anthropic", ctx(), ask("one two three"), &sink).await;
    match done {
        Err(PluginError::Transient(m)) => assert!(m.contains("Overloaded"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sink.texts(), ["You", " said:"]);

    sim.inject(AiFault::new(
        "/v1/messages",
        AiFaultAction::RateLimited {
            retry_after_secs: 17,
        },
    ));
    match complete(&app, "anthropic", ctx(), ask("hi")).await {
        Err(PluginError::RateLimited(r)) => assert_eq!(r.retry_after_secs, 17),
        other => panic!("{other:?}"),
    }
    sim.inject(AiFault::new(
        "/v1/messages",
        AiFaultAction::ServerError { status: 529 },
    ));
    let done = complete(&app, "anthropic", ctx(), ask("hi")).await;
    assert!(matches!(done, Err(PluginError::Transient(_))), "{done:?}");
    let bad = settings(&[("api_key", "sk-ant-wrong"), ("base_url", &sim.base_url())]);
    match complete(&app, "anthropic", bad, ask("hi")).await {
        Err(PluginError::Permanent(m)) => assert!(m.contains("API key"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Anthropic's temperature range is 0–1: refused before any request.
    let before = sim.requests().len();
    let mut req = ask("hi");
    req.temperature = Some(1.5);
    let done = complete(&app, "anthropic", ctx(), req).await;
    assert!(
        matches!(done, Err(PluginError::InvalidContent(_))),
        "{done:?}"
    );
    assert_eq!(sim.requests().len(), before);
}

// ---------------------------------------------------------------------------------------
// Gemini

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_generates_streams_and_reports_safety_blocks() {
    let (app, _dir) = with_sim("gemini").await;
    let sim = GeminiSim::start(GeminiConfig::default()).await.unwrap();
    let ctx = || {
        settings(&[
            ("api_key", "AIza-test-gemini"),
            ("base_url", &sim.base_url()),
        ])
    };

    let mut req = ask("hello gemini");
    req.messages.push(message(Role::Assistant, "Hi."));
    req.messages.push(message(Role::User, "say it back"));
    let done = complete(&app, "gemini", ctx(), req).await.unwrap();
    assert_eq!(done.text, "You said: say it back");
    assert_eq!(done.finish_reason.as_deref(), Some("stop"));
    assert_eq!(done.usage.unwrap().output_tokens, 5);
    let sent = last(&sim);
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(sent.header("x-goog-api-key"), Some("<redacted>"));
    let body = sent.body.unwrap();
    assert_eq!(body["systemInstruction"]["parts"][0]["text"], "Be brief.");
    let roles: Vec<&str> = body["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);

    let delay = Duration::from_millis(40);
    sim.set_token_delay(delay);
    let sink = Recorder::default();
    let (done, returned) = stream(
        &app,
        "gemini",
        ctx(),
        ask("streaming from gemini now"),
        &sink,
    )
    .await;
    let done = done.unwrap();
    assert_eq!(done.text, "You said: streaming from gemini now");
    assert!(done.usage.is_some());
    assert_streamed(&sink, &done.text, returned, delay);
    let sent = last(&sim);
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    sim.set_token_delay(Duration::ZERO);

    // Safety: the text before the blocked word arrives, then a clear error.
    let sink = Recorder::default();
    let (done, _) = stream(&app, "gemini", ctx(), ask("this is forbidden talk"), &sink).await;
    match done {
        Err(PluginError::InvalidContent(p)) => {
            assert_eq!(p[0].code, "blocked-by-safety");
            assert!(
                p[0].message.contains("HARM_CATEGORY_DANGEROUS_CONTENT"),
                "{p:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sink.texts().concat(), "You said: this is");
    let done = complete(&app, "gemini", ctx(), ask("forbidden")).await;
    assert!(
        matches!(done, Err(PluginError::InvalidContent(_))),
        "{done:?}"
    );

    sim.inject(AiFault::new(
        "/v1beta",
        AiFaultAction::StreamError { after_deltas: 1 },
    ));
    let sink = Recorder::default();
    let (done, _) = stream(&app, "gemini", ctx(), ask("a b c"), &sink).await;
    assert!(matches!(done, Err(PluginError::Transient(_))), "{done:?}");
    assert_eq!(sink.texts(), ["You"]);

    // 429 states its delay in RetryInfo only.
    sim.inject(AiFault::new(
        "/v1beta",
        AiFaultAction::RateLimited {
            retry_after_secs: 42,
        },
    ));
    match complete(&app, "gemini", ctx(), ask("hi")).await {
        Err(PluginError::RateLimited(r)) => assert_eq!(r.retry_after_secs, 42),
        other => panic!("{other:?}"),
    }
    // Google answers a bad key with 400; the plugin still calls it a rejected key.
    let bad = settings(&[("api_key", "AIza-wrong"), ("base_url", &sim.base_url())]);
    match complete(&app, "gemini", bad, ask("hi")).await {
        Err(PluginError::Permanent(m)) => assert!(m.contains("API key"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// xAI and OpenAI-compatible servers, against the OpenAI simulator in their guise

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xai_chats_streams_and_generates_images() {
    let (app, _dir) = with_sim("xai").await;
    let sim = OpenAiSim::start(OpenAiConfig::xai()).await.unwrap();
    let ctx = || settings(&[("api_key", "xai-test-key"), ("base_url", &sim.base_url())]);

    let mut req = ask("hello grok");
    req.max_tokens = Some(100);
    let done = complete(&app, "xai", ctx(), req).await.unwrap();
    assert_eq!(done.text, "You said: hello grok");
    assert_eq!(done.model, "grok-4");
    assert_eq!(last(&sim).body.unwrap()["max_tokens"], 100);

    let sink = Recorder::default();
    let (done, _) = stream(&app, "xai", ctx(), ask("stream grok"), &sink).await;
    assert_eq!(sink.texts().concat(), done.unwrap().text);

    let (refs, created) = generate(
        &app,
        "xai",
        ctx(),
        ImageRequest {
            model: None,
            prompt: "a rocket".into(),
            size: None,
            count: 1,
            source: None,
            options: vec![],
        },
    )
    .await;
    assert_eq!(refs.unwrap().len(), 1);
    assert_png(&app, &created[0], (1024, 768)).await;
    assert_eq!(last(&sim).body.unwrap()["model"], "grok-2-image");

    // xAI's own error body shape still yields the message.
    let mut req = ask("hi");
    req.model = Some("grok-0".into());
    match complete(&app, "xai", ctx(), req).await {
        Err(PluginError::Permanent(m)) => assert!(m.contains("grok-0"), "{m}"),
        other => panic!("{other:?}"),
    }
    let bad = settings(&[("api_key", "nope"), ("base_url", &sim.base_url())]);
    let done = complete(&app, "xai", bad, ask("hi")).await;
    assert!(matches!(done, Err(PluginError::Permanent(m)) if m.contains("API key")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compatible_servers_work_at_any_address_with_or_without_a_key() {
    let (app, _dir) = with_sim("compatible").await;
    let sim = OpenAiSim::start(OpenAiConfig {
        path_prefix: "/ollama/v1".into(),
        ..OpenAiConfig::local()
    })
    .await
    .unwrap();
    let base = format!("{}/ollama", sim.base_url());
    let ctx = || settings(&[("base_url", &base)]);

    // The model comes from the server's list.
    let info = app
        .runtime
        .ai("compatible", "describe", ctx())
        .await
        .unwrap()
        .describe()
        .await
        .unwrap();
    assert_eq!(info.default_model, "llama3.2");
    assert_eq!(info.models.len(), 1);

    let done = complete(&app, "compatible", ctx(), ask("hello local"))
        .await
        .unwrap();
    assert_eq!(done.text, "You said: hello local");
    assert_eq!(done.model, "llama3.2");
    let sent = last(&sim);
    assert_eq!(sent.path, "/ollama/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        None,
        "no key configured, none sent"
    );

    let sink = Recorder::default();
    let (done, _) = stream(&app, "compatible", ctx(), ask("stream local"), &sink).await;
    assert_eq!(sink.texts().concat(), done.unwrap().text);

    // A server that needs a key gets it as a bearer token.
    let keyed = OpenAiSim::start(OpenAiConfig {
        api_keys: vec!["local-secret".into()],
        ..OpenAiConfig::local()
    })
    .await
    .unwrap();
    let with_key = settings(&[("base_url", &keyed.base_url()), ("api_key", "local-secret")]);
    let mut req = ask("with key");
    req.model = Some("llama3.2".into());
    complete(&app, "compatible", with_key, req).await.unwrap();
    assert_eq!(last(&keyed).header("authorization"), Some("<redacted>"));

    // Unconfigured, it still names a model (the server's default) and asks for a base URL.
    let info = app
        .runtime
        .ai("compatible", "describe", CallContext::default())
        .await
        .unwrap()
        .describe()
        .await
        .unwrap();
    assert_eq!(info.models[0].id, "server-default");
    // No base URL: a clear configuration error.
    let done = complete(&app, "compatible", CallContext::default(), ask("hi")).await;
    assert!(matches!(done, Err(PluginError::Permanent(m)) if m.contains("base_url")));
}
