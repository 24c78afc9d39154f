//! Added latency of a streamed AI answer through Plugboard (issue 7); the figures are in
//! `docs/benchmarks.md`.
//!
//! The upstream is a minimal OpenAI Chat Completions stream served in this process that
//! pauses `--delay-ms` before each token and writes into each token the instant it sent it
//! (microseconds since a process-wide epoch; the bench, the server and the upstream share
//! one clock). So every event's latency is measured exactly: arrival at the client minus
//! emission upstream. The same stream is read twice per run:
//!
//! - direct: the client reads the upstream itself (the baseline: one local HTTP hop);
//! - through Plugboard: `POST …/ai/conversations/{id}/messages` with
//!   `Accept: text/event-stream` — API → `openai` plugin in the sandbox (which reads the
//!   upstream) → completion sink → channel → axum SSE → client.
//!
//! Added latency per event = its latency through Plugboard − the median direct latency.
//! The first event is reported apart from the later ones: before it, the host has already
//! stored the message and started the plugin, but that happens before the upstream is
//! asked, so it does not count in the per-event figure (it is in "time to first event").
//!
//! `cargo test -p plugboard-e2e --bench ai_stream -- --runs 20 --words 50 --delay-ms 20`
//! (the test profile, like the other benches; see docs/benchmarks.md).

use axum::body::{Body, Bytes};
use futures::StreamExt;
use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard_e2e::api::{client, create_workspace, send, signup};
use plugboard_e2e::{plugin, test_server};
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-openai";

struct Options {
    runs: usize,
    words: usize,
    delay_ms: u64,
}

fn options() -> Options {
    let mut o = Options {
        runs: 20,
        words: 50,
        delay_ms: 20,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut next = || -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{a} needs a number"))
        };
        match a.as_str() {
            "--runs" => o.runs = next() as usize,
            "--words" => o.words = next() as usize,
            "--delay-ms" => o.delay_ms = next(),
            _ => {}
        }
    }
    o
}

/// The clock every timestamp is read against.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn micros_now() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// A Chat Completions stream of `words` tokens, `delay` apart, each token `t<µs> ` naming
/// the instant it was written.
fn upstream_stream(words: usize, delay: Duration) -> Body {
    let chunk = |v: Value| Ok::<_, std::convert::Infallible>(Bytes::from(format!("data: {v}\n\n")));
    let tokens = futures::stream::iter(0..words).then(move |_| async move {
        tokio::time::sleep(delay).await;
        chunk(json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": format!("t{} ", micros_now())}, "finish_reason": null}]
        }))
    });
    let tail = futures::stream::iter([
        chunk(
            json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        ),
        chunk(
            json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
            "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words}}),
        ),
        Ok(Bytes::from("data: [DONE]\n\n")),
    ]);
    Body::from_stream(tokens.chain(tail))
}

/// Serves the timestamping upstream on 127.0.0.1; answers its base URL.
async fn upstream(words: usize, delay: Duration) -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || async move {
            axum::response::Response::builder()
                .header("content-type", "text/event-stream")
                .body(upstream_stream(words, delay))
                .expect("response")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// (emitted, arrived) in µs of each token of an SSE response: the emission instant the
/// token carries and its arrival. `text_of` finds the token text in an event.
async fn tokens(
    resp: reqwest::Response,
    text_of: impl Fn(&str, &Value) -> Option<String>,
) -> Vec<(u64, u64)> {
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        let arrived = micros_now();
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut event = "message";
            let mut data = "";
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data = d.trim();
                }
            }
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            let Some(text) = text_of(event, &v) else {
                continue;
            };
            for token in text.split_whitespace() {
                let sent: u64 = token
                    .strip_prefix('t')
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_else(|| panic!("not a timestamp token: {token}"));
                out.push((sent, arrived));
            }
        }
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name}: n {}, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        percentile(&v, 0.99),
        v[v.len() - 1]
    );
}

#[tokio::main]
async fn main() {
    let o = options();
    epoch();
    let delay = Duration::from_millis(o.delay_ms);
    let upstream = upstream(o.words, delay).await;
    let server = test_server().await;
    let bytes = plugin("openai");
    server
        .app()
        .runtime
        .registry
        .install(
            &bytes,
            Some(Grants::requested(
                &Manifest::from_component(&bytes).unwrap(),
            )),
            InstallMode::Install,
        )
        .await
        .unwrap();
    let base = server.base.clone();
    let owner = signup(&base, "bench@example.com").await;
    let ws = create_workspace(&base, &owner.access_token, "Bench").await;
    let api = format!("{base}/api/v1/workspaces/{ws}");
    let http = client();
    let (status, app) = send(
        http.post(format!("{api}/apps"))
            .bearer_auth(&owner.access_token)
            .json(&json!({"plugin": "openai", "name": "OpenAI", "settings": {"api_key": KEY, "base_url": upstream}})),
    )
    .await;
    assert_eq!(status, 201, "{app}");

    let delta_text = |_: &str, v: &Value| {
        v["choices"][0]["delta"]["content"]
            .as_str()
            .map(str::to_owned)
    };
    let host_text = |e: &str, v: &Value| {
        (e == "delta").then(|| v["text"].as_str().unwrap_or_default().to_owned())
    };
    let latency = |(sent, arrived): &(u64, u64)| arrived.saturating_sub(*sent) as f64 / 1000.0;
    let (mut direct, mut first, mut later, mut setup) = (vec![], vec![], vec![], vec![]);
    for _ in 0..o.runs {
        let resp = http
            .post(format!("{upstream}/v1/chat/completions"))
            .json(&json!({"stream": true}))
            .send()
            .await
            .unwrap();
        direct.extend(tokens(resp, delta_text).await.iter().map(latency));

        // A fresh conversation per run, so that every run sends the same history.
        let (status, c) = send(
            http.post(format!("{api}/ai/conversations"))
                .bearer_auth(&owner.access_token)
                .json(&json!({})),
        )
        .await;
        assert_eq!(status, 201, "{c}");
        let asked = micros_now();
        let resp = http
            .post(format!(
                "{api}/ai/conversations/{}/messages",
                c["id"].as_str().unwrap()
            ))
            .bearer_auth(&owner.access_token)
            .header("accept", "text/event-stream")
            .json(&json!({ "content": "go" }))
            .send()
            .await
            .unwrap();
        let got = tokens(resp, host_text).await;
        assert_eq!(got.len(), o.words, "every token arrived through Plugboard");
        // The upstream wrote its first token `delay` after the plugin asked it.
        setup.push((got[0].0 - asked) as f64 / 1000.0 - o.delay_ms as f64);
        first.push(latency(&got[0]));
        later.extend(got[1..].iter().map(latency));
    }
    direct.sort_by(f64::total_cmp);
    let baseline = percentile(&direct, 0.5);
    println!(
        "{} runs, {} tokens each, {} ms between tokens",
        o.runs, o.words, o.delay_ms
    );
    summary("direct latency per event (baseline)", direct);
    summary(
        "request to upstream call (message stored, plugin started)",
        setup,
    );
    summary(
        "added latency, first event",
        first.iter().map(|l| l - baseline).collect(),
    );
    summary(
        "added latency, each later event",
        later.iter().map(|l| l - baseline).collect(),
    );
}
