//! AI assistance over HTTP, end to end: API → host → the `openai` plugin → the OpenAI
//! simulator (and the `mastodon` plugin for adapting and validating texts). Streams are read
//! event by event as a browser would; the simulator's record shows what reached it and
//! whether the connection was closed early.

use futures::StreamExt;
use plugboard_e2e::api::{client, create_workspace, invite_and_join, problem, send, signup};
use plugboard_e2e::platform::install;
use plugboard_e2e::{TestServer, pg_database, test_server, test_server_with};
use plugboard_simulators::{
    AiFault, AiFaultAction, AiSim, AnthropicConfig, AnthropicSim, GeminiConfig, GeminiSim,
    OpenAiConfig, OpenAiSim,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-openai";

struct Studio {
    server: TestServer,
    sim: AiSim,
    token: String,
    ws: String,
}

impl Studio {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/workspaces/{}{path}", self.server.base, self.ws)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(
            client()
                .post(self.url(path))
                .bearer_auth(&self.token)
                .json(&body),
        )
        .await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        send(client().get(self.url(path)).bearer_auth(&self.token)).await
    }

    async fn conversation(&self) -> String {
        let (status, c) = self
            .post("/ai/conversations", json!({"title": "Launch plan"}))
            .await;
        assert_eq!(status, 201, "{c}");
        c["id"].as_str().expect("conversation id").to_string()
    }

    /// Sends a chat message asking for server-sent events; answers the open response.
    async fn stream(&self, conversation: &str, content: &str) -> reqwest::Response {
        let resp = client()
            .post(self.url(&format!("/ai/conversations/{conversation}/messages")))
            .bearer_auth(&self.token)
            .header("accept", "text/event-stream")
            .json(&json!({ "content": content }))
            .send()
            .await
            .expect("message request");
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        resp
    }

    /// The chat requests the simulator received.
    fn chats(&self) -> Vec<plugboard_simulators::AiRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.path.contains("/chat/completions") || r.path.contains("/responses"))
            .collect()
    }
}

/// A server with the openai and mastodon plugins, an OpenAI simulator pausing `delay`
/// before each streamed token, and a workspace whose app points the plugin at it.
async fn studio(delay: Duration) -> Studio {
    studio_on(test_server().await, delay).await
}

async fn studio_on(server: TestServer, delay: Duration) -> Studio {
    install(&server, "openai").await;
    install(&server, "mastodon").await;
    let sim = OpenAiSim::start(OpenAiConfig {
        token_delay_ms: delay.as_millis() as u64,
        ..OpenAiConfig::default()
    })
    .await
    .unwrap();
    let owner = signup(&server.base, "owner@example.com").await;
    let ws = create_workspace(&server.base, &owner.access_token, "Studio").await;
    let s = Studio {
        server,
        sim,
        token: owner.access_token,
        ws,
    };
    let (status, app) = s
        .post(
            "/apps",
            json!({"plugin": "openai", "name": "OpenAI", "settings": {"api_key": KEY, "base_url": s.sim.base_url()}}),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(app["settings"]["api_key"], "••••", "the key is never shown");
    let (status, settings) = send(
        client()
            .put(s.url("/ai/settings"))
            .bearer_auth(&s.token)
            .json(&json!({"providers": [{"plugin": "openai", "model": "gpt-4o-mini"}], "brand_voice": "Warm, witty, no jargon"})),
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    s
}

/// One server-sent event and when it arrived.
#[derive(Debug)]
struct Sse {
    event: String,
    data: Value,
    at: Instant,
}

/// Reads events off a response as they arrive; `stop` ends reading early (the response is
/// dropped with the stream, closing the connection).
async fn read_events(resp: reqwest::Response, mut stop: impl FnMut(&[Sse]) -> bool) -> Vec<Sse> {
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(Some(chunk)) = tokio::time::timeout(deadline - Instant::now(), body.next()).await {
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("body chunk")));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut event = String::from("message");
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            if data.is_empty() {
                continue;
            }
            out.push(Sse {
                event,
                data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                at: Instant::now(),
            });
            if stop(&out) {
                return out;
            }
        }
    }
    out
}

fn deltas(events: &[Sse]) -> Vec<&Sse> {
    events.iter().filter(|e| e.event == "delta").collect()
}

#[tokio::test]
async fn a_streamed_chat_arrives_event_by_event() {
    let delay = Duration::from_millis(60);
    let s = studio(delay).await;
    let c = s.conversation().await;
    let question = "what should we post for the spring launch next week";
    let resp = s.stream(&c, question).await;
    let mut seen_while_streaming = None;
    let sim = &s.sim;
    let events = read_events(resp, |events| {
        if events.len() == 1 {
            // The first delta is here: the provider must still be generating.
            let chat = sim
                .requests()
                .into_iter()
                .rev()
                .find(|r| r.stream.is_some());
            seen_while_streaming = chat.and_then(|r| r.stream).map(|st| st.completed);
        }
        events.last().is_some_and(|e| e.event != "delta")
    })
    .await;
    assert_eq!(
        seen_while_streaming,
        Some(false),
        "the first delta reached the client before the provider finished"
    );
    let d = deltas(&events);
    // "You said: " plus one token per word of the question.
    assert!(d.len() >= 10, "{events:?}");
    let spread = d.last().unwrap().at - d[0].at;
    assert!(
        spread >= delay * (d.len() as u32 - 2) / 2,
        "deltas arrived one by one, not in a burst: {spread:?} for {} deltas",
        d.len()
    );
    let done = events.last().unwrap();
    assert_eq!(done.event, "done", "{events:?}");
    assert_eq!(done.data["provider"], "openai");
    assert!(done.data["usage"]["output_tokens"].as_u64().unwrap() > 0);
    let text: String = d.iter().map(|e| e.data["text"].as_str().unwrap()).collect();
    assert!(text.contains("spring launch"), "{text}");

    // The conversation keeps both messages; the answer is what was streamed.
    let (status, conv) = s.get(&format!("/ai/conversations/{c}")).await;
    assert_eq!(status, 200);
    let messages = conv["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{conv}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[1]["content"], text.as_str());
    assert_eq!(messages[1]["status"], "complete");
    assert_eq!(messages[1]["id"], done.data["message_id"]);

    // Continuing sends the history and the brand voice along.
    let (status, reply) = s
        .post(
            &format!("/ai/conversations/{c}/messages"),
            json!({"content": "and the week after"}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["message"]["role"], "assistant");
    let last = s.chats().pop().unwrap();
    let sent = last.body.unwrap().to_string();
    assert!(sent.contains("spring launch"), "history is sent: {sent}");
    assert!(
        sent.contains("Warm, witty, no jargon"),
        "brand voice: {sent}"
    );
    let (_, list) = s.get("/ai/conversations").await;
    assert_eq!(list["conversations"][0]["id"], c.as_str());

    // Deleting removes it.
    let resp = client()
        .delete(s.url(&format!("/ai/conversations/{c}")))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    problem(
        client()
            .get(s.url(&format!("/ai/conversations/{c}")))
            .bearer_auth(&s.token),
        404,
        "not-found",
    )
    .await;
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_provider_call() {
    let s = studio(Duration::from_millis(150)).await;
    let c = s.conversation().await;
    let long = "tell me everything about planning a content calendar for a small bakery that posts daily on three platforms with photos videos and stories";
    let resp = s.stream(&c, long).await;
    let events = read_events(resp, |events| deltas(events).len() >= 2).await;
    assert_eq!(deltas(&events).len(), 2);
    // The response is gone; the simulator must see its stream closed early.
    let mut record = None;
    for _ in 0..100 {
        let chat = s.chats().into_iter().find(|r| r.stream.is_some());
        if let Some(st) = chat.and_then(|r| r.stream)
            && st.client_disconnected
        {
            record = Some(st);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = record.expect("the upstream connection was closed when the client left");
    assert!(!st.completed, "{st:?}");
    assert!(
        st.deltas_sent < long.split_whitespace().count() as u32,
        "generation stopped early: {st:?}"
    );
    // The partial answer is kept, marked cancelled.
    let mut stored = Value::Null;
    for _ in 0..50 {
        let (_, conv) = s.get(&format!("/ai/conversations/{c}")).await;
        if conv["messages"].as_array().is_some_and(|m| m.len() == 2) {
            stored = conv["messages"][1].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored["status"], "cancelled", "{stored}");
    assert!(stored["content"].as_str().unwrap().starts_with("You"));
}

#[tokio::test]
async fn a_provider_error_mid_stream_reaches_the_client_as_an_error_event() {
    let s = studio(Duration::from_millis(10)).await;
    let c = s.conversation().await;
    s.sim.inject(AiFault::new(
        "/v1/",
        AiFaultAction::StreamError { after_deltas: 3 },
    ));
    let resp = s.stream(&c, "what about a summer sale campaign").await;
    let events = read_events(resp, |events| {
        events.last().is_some_and(|e| e.event != "delta")
    })
    .await;
    let last = events.last().expect("events");
    assert_eq!(last.event, "error", "{events:?}");
    assert!(
        last.data["type"]
            .as_str()
            .unwrap()
            .starts_with("https://plugboard.dev/problems/ai-"),
        "{}",
        last.data
    );
    assert!(last.data["status"].as_u64().unwrap() >= 400);
    assert!(!deltas(&events).is_empty(), "deltas came before the error");
    assert!(events.iter().all(|e| e.event != "done"));
    // Rate limits before anything streamed answer a plain problem through JSON requests.
    s.sim.inject(AiFault::new(
        "/v1/",
        AiFaultAction::RateLimited {
            retry_after_secs: 30,
        },
    ));
    let p = problem(
        client()
            .post(s.url("/ai/improve"))
            .bearer_auth(&s.token)
            .json(&json!({"text": "Fresh bread every morning"})),
        429,
        "ai-rate-limited",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("30"), "{p}");
}

#[tokio::test]
async fn adapted_texts_pass_each_platforms_validate() {
    let s = studio(Duration::ZERO).await;
    let (status, out) = s
        .post(
            "/ai/adapt",
            json!({"text": "Our spring menu is here: rhubarb tarts and lemon buns", "platforms": ["mastodon"]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let r = &out["results"][0];
    assert_eq!(r["plugin"], "mastodon");
    assert_eq!(r["problems"], json!([]), "{r}");
    assert_eq!(r["attempts"], 1);
    let text = r["text"].as_str().unwrap();
    assert!(text.contains("rhubarb"), "{text}");
    // The prompt carried Mastodon's limit from describe().
    let asked = s.chats().pop().unwrap().body.unwrap().to_string();
    assert!(asked.contains("500"), "{asked}");

    // A text whose answer breaks the limit is asked for again with the platform's
    // problems; the second answer (the simulator echoes the retry prompt) is accepted.
    let long = "bread ".repeat(90);
    let before = s.chats().len();
    let (status, out) = s
        .post(
            "/ai/adapt",
            json!({"text": long, "platforms": ["mastodon"]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let r = &out["results"][0];
    assert_eq!(r["attempts"], 2, "{r}");
    assert_eq!(r["problems"], json!([]), "{r}");
    assert!(r["text"].as_str().unwrap().chars().count() <= 500, "{r}");
    let chats = s.chats();
    assert_eq!(chats.len(), before + 2);
    let retry = chats.last().unwrap().body.clone().unwrap().to_string();
    assert!(retry.contains("rejects this text"), "{retry}");
    assert!(retry.contains("text-too-long"), "{retry}");

    // Unknown targets are refused before any provider call.
    let (status, p) = s
        .post("/ai/adapt", json!({"text": "hi", "platforms": ["openai"]}))
        .await;
    assert_eq!(status, 422, "{p}");
    assert!(p["type"].as_str().unwrap().ends_with("unknown-platform"));
    let (status, _) = s
        .post("/ai/adapt", json!({"text": "hi", "accounts": ["nope"]}))
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn assists_suggest_in_the_brand_voice() {
    let s = studio(Duration::ZERO).await;
    let (status, tags) = s
        .post(
            "/ai/hashtags",
            json!({"text": "Sourdough workshop on Saturday", "count": 4}),
        )
        .await;
    assert_eq!(status, 200, "{tags}");
    let list = tags["suggestions"].as_array().unwrap();
    assert_eq!(list.len(), 4, "{tags}");
    assert!(
        list.iter()
            .all(|t| t.as_str().unwrap().starts_with('#') && !t.as_str().unwrap().contains(' '))
    );
    let asked = s.chats().pop().unwrap().body.unwrap().to_string();
    assert!(asked.contains("Warm, witty, no jargon"), "{asked}");

    let (status, cta) = s
        .post(
            "/ai/cta",
            json!({"text": "Sourdough workshop on Saturday", "goal": "book a seat", "count": 2}),
        )
        .await;
    assert_eq!(status, 200, "{cta}");
    assert!(!cta["suggestions"].as_array().unwrap().is_empty());

    let (status, improved) = s
        .post(
            "/ai/improve",
            json!({"text": "workshop sat. come", "instructions": "friendlier"}),
        )
        .await;
    assert_eq!(status, 200, "{improved}");
    assert!(improved["text"].as_str().unwrap().contains("workshop sat"));
    assert_eq!(improved["provider"], "openai");

    let (status, prompt) = s
        .post(
            "/ai/improve-prompt",
            json!({"prompt": "bread on a table", "kind": "image"}),
        )
        .await;
    assert_eq!(status, 200, "{prompt}");
    assert!(
        prompt["text"]
            .as_str()
            .unwrap()
            .contains("bread on a table")
    );
}

#[tokio::test]
async fn usage_is_recorded_and_the_monthly_limit_enforced() {
    let s = studio(Duration::ZERO).await;
    let (status, _) = s
        .post("/ai/improve", json!({"text": "Fresh bread every morning"}))
        .await;
    assert_eq!(status, 200);
    let (status, usage) = s.get("/ai/usage").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["calls"], 1);
    let used = usage["total_tokens"].as_i64().unwrap();
    assert!(used > 0, "{usage}");
    assert_eq!(usage["by_purpose"][0]["purpose"], "improve");
    assert_eq!(usage["by_purpose"][0]["provider"], "openai");
    assert_eq!(usage["monthly_token_limit"], Value::Null);

    let (status, _) = send(
        client()
            .put(s.url("/ai/settings"))
            .bearer_auth(&s.token)
            .json(&json!({"providers": [{"plugin": "openai"}], "monthly_token_limit": used})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, usage) = s.get("/ai/usage").await;
    assert_eq!(usage["remaining_tokens"], 0);
    let requests = s.sim.requests().len();
    problem(
        client()
            .post(s.url("/ai/improve"))
            .bearer_auth(&s.token)
            .json(&json!({"text": "Fresh bread every morning"})),
        429,
        "ai-limit-exceeded",
    )
    .await;
    // Streams are refused before they start, and nothing reaches the provider.
    let c = s.conversation().await;
    problem(
        client()
            .post(s.url(&format!("/ai/conversations/{c}/messages?stream=true")))
            .bearer_auth(&s.token)
            .json(&json!({"content": "hello"})),
        429,
        "ai-limit-exceeded",
    )
    .await;
    assert_eq!(s.sim.requests().len(), requests);
}

#[tokio::test]
async fn images_and_speech_land_in_the_media_library() {
    let s = studio(Duration::ZERO).await;
    let (status, out) = s
        .post(
            "/ai/images",
            json!({"prompt": "a loaf of bread at sunrise", "size": "1024x1024"}),
        )
        .await;
    assert_eq!(status, 201, "{out}");
    let image = &out["media"][0];
    assert_eq!(image["kind"], "image");
    assert_eq!(image["width"], 1024);
    assert_eq!(image["tags"], json!(["ai-generated"]));
    let id = image["id"].as_str().unwrap();
    let (status, listed) = s.get(&format!("/media/{id}")).await;
    assert_eq!(status, 200, "{listed}");

    // An edit of the library image sends it to the provider.
    let (status, edited) = s
        .post(
            "/ai/images",
            json!({"prompt": "add a cup of coffee", "source_media_id": id}),
        )
        .await;
    assert_eq!(status, 201, "{edited}");
    let edit = s
        .sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/images/edits"))
        .expect("an edit request");
    assert!(
        edit.parts
            .iter()
            .any(|p| p.name.starts_with("image") && p.size > 0)
    );

    let (status, speech) = s
        .post(
            "/ai/speech",
            json!({"text": "Fresh bread every morning", "format": "wav"}),
        )
        .await;
    assert_eq!(status, 201, "{speech}");
    assert_eq!(speech["media"][0]["kind"], "audio");

    // Another workspace's media cannot be a source.
    let (status, _) = s
        .post(
            "/ai/images",
            json!({"prompt": "x", "source_media_id": "0190aaaa-0000-7000-8000-000000000000"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn roles_workspaces_and_bad_input_are_refused() {
    let s = studio(Duration::ZERO).await;
    let base = s.server.base.clone();
    let viewer = invite_and_join(&base, &s.token, &s.ws, "viewer", "viewer@example.com").await;
    let editor = invite_and_join(&base, &s.token, &s.ws, "editor", "editor@example.com").await;
    let c = s.conversation().await;
    let requests = s.sim.requests().len();

    // Viewers read, but do not spend; editors spend, but do not change settings.
    let (status, _) = send(
        client()
            .get(s.url("/ai/usage"))
            .bearer_auth(&viewer.access_token),
    )
    .await;
    assert_eq!(status, 200);
    problem(
        client()
            .post(s.url("/ai/improve"))
            .bearer_auth(&viewer.access_token)
            .json(&json!({"text": "hello"})),
        403,
        "forbidden",
    )
    .await;
    problem(
        client()
            .post(s.url(&format!("/ai/conversations/{c}/messages")))
            .bearer_auth(&viewer.access_token)
            .json(&json!({"content": "hello"})),
        403,
        "forbidden",
    )
    .await;
    problem(
        client()
            .put(s.url("/ai/settings"))
            .bearer_auth(&editor.access_token)
            .json(&json!({"providers": []})),
        403,
        "forbidden",
    )
    .await;

    // Another workspace sees nothing of this one.
    let stranger = signup(&base, "stranger@example.com").await;
    let other = create_workspace(&base, &stranger.access_token, "Other").await;
    problem(
        client()
            .get(s.url(&format!("/ai/conversations/{c}")))
            .bearer_auth(&stranger.access_token),
        404,
        "not-found",
    )
    .await;
    problem(
        client()
            .get(format!(
                "{base}/api/v1/workspaces/{other}/ai/conversations/{c}"
            ))
            .bearer_auth(&stranger.access_token),
        404,
        "not-found",
    )
    .await;
    problem(
        client()
            .delete(format!(
                "{base}/api/v1/workspaces/{other}/ai/conversations/{c}"
            ))
            .bearer_auth(&stranger.access_token),
        404,
        "not-found",
    )
    .await;

    // Bad input.
    for (path, body, kind) in [
        ("/ai/improve", json!({"text": "  "}), "invalid-field"),
        (
            "/ai/improve",
            json!({"text": "x", "tone": "y"}),
            "invalid-body",
        ),
        (
            "/ai/hashtags",
            json!({"text": "x", "count": 0}),
            "invalid-field",
        ),
        (
            "/ai/improve-prompt",
            json!({"prompt": "x", "kind": "song"}),
            "invalid-body",
        ),
        (
            "/ai/images",
            json!({"prompt": "x", "mode": "edit"}),
            "invalid-field",
        ),
        ("/ai/adapt", json!({"text": "x"}), "invalid-field"),
    ] {
        problem(
            client().post(s.url(path)).bearer_auth(&s.token).json(&body),
            422,
            kind,
        )
        .await;
    }
    for (providers, kind) in [
        (json!([{"plugin": "nope"}]), "unknown-provider"),
        (json!([{"plugin": "mastodon"}]), "not-an-ai-provider"),
        (
            json!([{"plugin": "openai"}, {"plugin": "openai"}]),
            "invalid-field",
        ),
    ] {
        problem(
            client()
                .put(s.url("/ai/settings"))
                .bearer_auth(&s.token)
                .json(&json!({ "providers": providers })),
            422,
            kind,
        )
        .await;
    }
    assert_eq!(
        s.sim.requests().len(),
        requests,
        "nothing reached the provider"
    );
}

#[tokio::test]
async fn a_removed_provider_is_a_clear_conflict_until_installed_again() {
    let s = studio(Duration::ZERO).await;
    // With the provider removed, the settings name nothing that can answer.
    s.server
        .app()
        .runtime
        .registry
        .remove("openai")
        .await
        .unwrap();
    problem(
        client()
            .post(s.url("/ai/improve"))
            .bearer_auth(&s.token)
            .json(&json!({"text": "hello"})),
        409,
        "ai-provider-missing",
    )
    .await;
    // Installed again, the same settings work.
    install(&s.server, "openai").await;
    let (status, out) = s.post("/ai/improve", json!({"text": "hello"})).await;
    assert_eq!(status, 200, "{out}");
}

/// Registers `plugin`'s app (API key and simulator URL) in the studio's workspace.
async fn register(s: &Studio, plugin: &str, key: &str, sim: &AiSim) {
    let (status, app) = s
        .post(
            "/apps",
            json!({"plugin": plugin, "name": plugin, "settings": {"api_key": key, "base_url": sim.base_url()}}),
        )
        .await;
    assert_eq!(status, 201, "{app}");
}

async fn use_providers(s: &Studio, providers: Value) {
    let (status, settings) = send(
        client()
            .put(s.url("/ai/settings"))
            .bearer_auth(&s.token)
            .json(&json!({ "providers": providers })),
    )
    .await;
    assert_eq!(status, 200, "{settings}");
}

#[tokio::test]
async fn every_provider_streams_event_by_event_and_a_failing_one_falls_through() {
    let delay = Duration::from_millis(40);
    let s = studio(delay).await;
    install(&s.server, "anthropic").await;
    install(&s.server, "gemini").await;
    let anthropic = AnthropicSim::start(AnthropicConfig {
        token_delay_ms: delay.as_millis() as u64,
        ..AnthropicConfig::default()
    })
    .await
    .unwrap();
    let gemini = GeminiSim::start(GeminiConfig {
        token_delay_ms: delay.as_millis() as u64,
        ..GeminiConfig::default()
    })
    .await
    .unwrap();
    register(&s, "anthropic", "sk-ant-test", &anthropic).await;
    register(&s, "gemini", "AIza-test-gemini", &gemini).await;

    for (plugin, sim) in [
        ("openai", &s.sim),
        ("anthropic", &anthropic),
        ("gemini", &gemini),
    ] {
        use_providers(&s, json!([{ "plugin": plugin }])).await;
        let c = s.conversation().await;
        let resp = s
            .stream(&c, "plan three posts about our new rye loaf")
            .await;
        let mut completed_at_first = None;
        let events = read_events(resp, |events| {
            if events.len() == 1 {
                completed_at_first = sim
                    .requests()
                    .into_iter()
                    .rev()
                    .find_map(|r| r.stream)
                    .map(|st| st.completed);
            }
            events.last().is_some_and(|e| e.event != "delta")
        })
        .await;
        assert_eq!(completed_at_first, Some(false), "{plugin}: {events:?}");
        let d = deltas(&events);
        assert!(d.len() >= 5, "{plugin}: {events:?}");
        assert!(
            d.last().unwrap().at - d[0].at >= delay * (d.len() as u32 - 2) / 2,
            "{plugin}: deltas arrived one by one"
        );
        let done = events.last().unwrap();
        assert_eq!(done.event, "done", "{plugin}: {events:?}");
        assert_eq!(done.data["provider"], plugin);
    }

    // OpenAI first: rate limited, the next provider answers; the same before a stream.
    use_providers(
        &s,
        json!([{ "plugin": "openai" }, { "plugin": "anthropic" }]),
    )
    .await;
    s.sim.inject(AiFault::new(
        "/v1/",
        AiFaultAction::RateLimited {
            retry_after_secs: 20,
        },
    ));
    let (status, out) = s.post("/ai/improve", json!({"text": "Rye loaf"})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["provider"], "anthropic");
    assert_eq!(s.chats().last().unwrap().status, Some(429));
    s.sim.inject(AiFault::new(
        "/v1/",
        AiFaultAction::ServerError { status: 503 },
    ));
    let c = s.conversation().await;
    let resp = s.stream(&c, "one more idea").await;
    let events = read_events(resp, |events| {
        events.last().is_some_and(|e| e.event != "delta")
    })
    .await;
    let done = events.last().unwrap();
    assert_eq!(done.event, "done", "{events:?}");
    assert_eq!(done.data["provider"], "anthropic");
    let (_, usage) = s.get("/ai/usage").await;
    assert!(
        usage["by_purpose"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["provider"] == "gemini" && l["purpose"] == "chat"),
        "{usage}"
    );
}

#[tokio::test]
async fn one_text_is_adapted_to_every_installed_platform() {
    let s = studio(Duration::ZERO).await;
    let platforms = ["bluesky", "x", "threads", "linkedin"];
    for p in platforms {
        install(&s.server, p).await;
    }
    let (status, out) = s
        .post(
            "/ai/adapt",
            json!({"text": "Rye loaf is back on Friday", "platforms": ["mastodon", "bluesky", "x", "threads", "linkedin"]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for (r, p) in results
        .iter()
        .zip(["mastodon"].iter().chain(platforms.iter()))
    {
        assert_eq!(r["plugin"], *p);
        assert_eq!(r["problems"], json!([]), "{p}: {r}");
        assert!(r["text"].as_str().unwrap().contains("Rye loaf"), "{p}: {r}");
    }
    // Each prompt named its platform's own limit from describe().
    let asked: Vec<String> = s
        .chats()
        .iter()
        .map(|r| r.body.clone().unwrap().to_string())
        .collect();
    assert!(
        asked
            .iter()
            .any(|a| a.contains("Bluesky") && a.contains("300")),
        "{asked:?}"
    );
    assert!(asked.iter().any(|a| a.contains("280")), "{asked:?}");
}

#[tokio::test]
async fn chat_usage_and_limits_on_postgres() {
    let url = pg_database().await;
    let server =
        test_server_with(tempfile::tempdir().unwrap(), |c| c.database_url = Some(url)).await;
    let s = studio_on(server, Duration::from_millis(5)).await;
    let c = s.conversation().await;
    let resp = s.stream(&c, "three ideas for a rainy day").await;
    let events = read_events(resp, |events| {
        events.last().is_some_and(|e| e.event != "delta")
    })
    .await;
    assert_eq!(events.last().unwrap().event, "done", "{events:?}");
    let (status, reply) = s
        .post(
            &format!("/ai/conversations/{c}/messages"),
            json!({"content": "and for a sunny one"}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let (_, conv) = s.get(&format!("/ai/conversations/{c}")).await;
    assert_eq!(conv["messages"].as_array().unwrap().len(), 4, "{conv}");
    let (_, usage) = s.get("/ai/usage").await;
    assert_eq!(usage["calls"], 2, "{usage}");
    let used = usage["total_tokens"].as_i64().unwrap();
    let (status, _) = send(
        client()
            .put(s.url("/ai/settings"))
            .bearer_auth(&s.token)
            .json(&json!({"monthly_token_limit": used})),
    )
    .await;
    assert_eq!(status, 200);
    problem(
        client()
            .post(s.url("/ai/improve"))
            .bearer_auth(&s.token)
            .json(&json!({"text": "hello"})),
        429,
        "ai-limit-exceeded",
    )
    .await;
    let resp = client()
        .delete(s.url(&format!("/ai/conversations/{c}")))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (_, list) = s.get("/ai/conversations").await;
    assert_eq!(list["conversations"], json!([]));
}
