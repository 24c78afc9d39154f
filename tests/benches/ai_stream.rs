//! Added latency of a streamed AI answer through Plugboard (issue 7); the figures are in
//! `docs/benchmarks.md`.
//!
//! The same answer is streamed twice from the OpenAI simulator, which paces its tokens
//! (`--delay-ms` before each): once straight from the simulator's Chat Completions SSE,
//! once through Plugboard (`POST …/ai/conversations/{id}/messages` with
//! `Accept: text/event-stream`: API → `openai` plugin in the sandbox → completion sink →
//! the client's SSE). Per event i, with t_i the arrival time after the request was sent:
//!
//! - first event: t_0(host) − t_0(direct): storing the message, loading settings and
//!   history, instantiating the plugin, the plugin's request;
//! - per event: (t_i − t_0)(host) − (t_i − t_0)(direct): what the bridge adds to each
//!   event once the stream runs (guest parsing, the sink, the channel, axum's SSE).
//!
//! `cargo bench -p plugboard-e2e --bench ai_stream -- --runs 20 --words 50 --delay-ms 20`

use futures::StreamExt;
use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard_e2e::api::{client, create_workspace, send, signup};
use plugboard_e2e::{plugin, test_server};
use plugboard_simulators::{OpenAiConfig, OpenAiSim};
use serde_json::{Value, json};
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

/// Arrival times (since the request was sent) of the text deltas of an SSE response;
/// `is_delta` picks the delta events out of the parsed `data` of each frame.
async fn arrivals(
    resp: reqwest::Response,
    sent: Instant,
    is_delta: impl Fn(&str, &Value) -> bool,
) -> Vec<Duration> {
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let at = sent.elapsed();
            let mut event = "message";
            let mut data = "";
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data = d.trim();
                }
            }
            if let Ok(v) = serde_json::from_str::<Value>(data)
                && is_delta(event, &v)
            {
                out.push(at);
            }
        }
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let o = options();
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
    let sim = OpenAiSim::start(OpenAiConfig {
        token_delay_ms: o.delay_ms,
        ..OpenAiConfig::default()
    })
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
            .json(&json!({"plugin": "openai", "name": "OpenAI", "settings": {"api_key": KEY, "base_url": sim.base_url()}})),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let question: String = (0..o.words)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");

    let mut first_added = Vec::new();
    let mut per_event_added = Vec::new();
    for run in 0..o.runs {
        // Direct from the simulator.
        let sent = Instant::now();
        let resp = http
            .post(format!("{}/v1/chat/completions", sim.base_url()))
            .bearer_auth(KEY)
            .json(&json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": question}]}))
            .send()
            .await
            .unwrap();
        let direct = arrivals(resp, sent, |_, v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .await;

        // Through Plugboard, in a fresh conversation (so the history is the same each run).
        let (status, c) = send(
            http.post(format!("{api}/ai/conversations"))
                .bearer_auth(&owner.access_token)
                .json(&json!({})),
        )
        .await;
        assert_eq!(status, 201, "{c}");
        let sent = Instant::now();
        let resp = http
            .post(format!(
                "{api}/ai/conversations/{}/messages",
                c["id"].as_str().unwrap()
            ))
            .bearer_auth(&owner.access_token)
            .header("accept", "text/event-stream")
            .json(&json!({ "content": question }))
            .send()
            .await
            .unwrap();
        let host = arrivals(resp, sent, |e, _| e == "delta").await;

        assert_eq!(
            direct.len(),
            host.len(),
            "run {run}: both paths stream the same answer"
        );
        first_added.push((host[0].as_secs_f64() - direct[0].as_secs_f64()) * 1000.0);
        for i in 1..host.len() {
            let h = (host[i] - host[0]).as_secs_f64();
            let d = (direct[i] - direct[0]).as_secs_f64();
            per_event_added.push((h - d) * 1000.0);
        }
    }
    first_added.sort_by(f64::total_cmp);
    per_event_added.sort_by(f64::total_cmp);
    println!(
        "{} runs, {} deltas per answer, {} ms between tokens",
        o.runs,
        per_event_added.len() / o.runs + 1,
        o.delay_ms
    );
    for (name, v) in [
        ("first event", &first_added),
        ("each later event", &per_event_added),
    ] {
        println!(
            "added latency, {name}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(v, 0.5),
            percentile(v, 0.95),
            percentile(v, 0.99),
            v[v.len() - 1]
        );
    }
}
