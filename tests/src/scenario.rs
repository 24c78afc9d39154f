//! Publishing scenarios against real `plugboard serve` processes: nodes that can be killed
//! (SIGKILL) and started again on the same data folder and port, a workspace with a
//! Mastodon account connected through a simulator's OAuth, and posts by the hundred —
//! all through the HTTP API.

use crate::api::{client, create_workspace, send, signup};
use crate::{plugins_dir, server_binary};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The operator token every scenario node is started with.
pub const ADMIN_TOKEN: &str = "pbop_scenario_operator_token";

/// One `plugboard serve` process, restartable on the same data folder and port.
pub struct Node {
    /// Also the node's `HOSTNAME`, so its job leases read `NAME-<uuid>`.
    pub name: String,
    pub data_dir: PathBuf,
    pub base: String,
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
    /// How many times the process was started.
    pub starts: u32,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Node {
    /// Starts a node with the first-party plugins bundled, plugins allowed to reach
    /// 127.0.0.1 (the simulators) and [`ADMIN_TOKEN`], plus `args`; waits for `/healthz`.
    pub async fn start(name: &str, data_dir: &Path, args: &[&str]) -> Node {
        let port = free_port();
        let mut node = Node {
            name: name.to_string(),
            data_dir: data_dir.to_path_buf(),
            base: format!("http://127.0.0.1:{port}"),
            port,
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
            starts: 0,
        };
        node.restart().await;
        node
    }

    /// Where the process's output goes (kept across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.data_dir
            .parent()
            .unwrap_or(&self.data_dir)
            .join(format!("{}.log", self.name))
    }

    /// The end of the node's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL: no shutdown, no flush, jobs left mid-flight.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process (again) on the same data folder and port; waits for `/healthz`.
    pub async fn restart(&mut self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the node log");
        let child = Command::new(server_binary())
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--bundled-plugins")
            .arg(plugins_dir())
            .args(["--http-allow-ranges", "127.0.0.1/32"])
            .args(["--admin-token", ADMIN_TOKEN])
            .args(&self.args)
            .env("HOSTNAME", &self.name)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting plugboard");
        self.child = Some(child);
        self.starts += 1;
        let http = client();
        for _ in 0..600 {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "node {} exited with {status}:\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "node {} did not answer /healthz within 60 s:\n{}",
            self.name,
            self.log_tail(40)
        );
    }

    /// The active plugin versions this node reports on `/readyz` (`id version`), or None
    /// while it does not answer.
    pub async fn active_plugins(&self) -> Option<Vec<String>> {
        let ready: Value = client()
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        Some(
            ready["plugins"]
                .as_array()?
                .iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect(),
        )
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A workspace with one Mastodon account, as a user of the API holds it.
#[derive(Debug, Clone)]
pub struct Studio {
    pub token: String,
    pub workspace: String,
    pub account: String,
}

impl Studio {
    fn url(&self, base: &str, path: &str) -> String {
        format!("{base}/api/v1/workspaces/{}{path}", self.workspace)
    }
}

/// Signs up `email`, creates a workspace (UTC), registers a Mastodon app on the instance at
/// `instance_url` and connects its account through the instance's OAuth, all over HTTP.
pub async fn mastodon_studio(base: &str, instance_url: &str, email: &str) -> Studio {
    let http = client();
    let owner = signup(base, email).await;
    let workspace = create_workspace(base, &owner.access_token, "Crash studio").await;
    let api = format!("{base}/api/v1/workspaces/{workspace}");
    let (status, app) = send(
        http.post(format!("{api}/apps"))
            .bearer_auth(&owner.access_token)
            .json(&json!({"plugin": "mastodon", "name": "Simulated instance", "settings": {"instance_url": instance_url}})),
    )
    .await;
    assert_eq!(status, 201, "registering the app: {app}");
    let (status, started) = send(
        http.post(format!("{api}/accounts/connect/mastodon"))
            .bearer_auth(&owner.access_token)
            .json(&json!({"app_id": app["id"]})),
    )
    .await;
    assert_eq!(status, 200, "starting the connection: {started}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let at_instance = no_redirects
        .get(started["authorize_url"].as_str().expect("authorize_url"))
        .send()
        .await
        .expect("authorizing at the instance");
    assert_eq!(at_instance.status(), 302, "the instance did not redirect");
    let callback = at_instance.headers()["location"]
        .to_str()
        .expect("callback URL")
        .to_string();
    let (status, connected) = send(no_redirects.get(&callback)).await;
    assert!(status == 200 || status == 201, "callback: {connected}");
    let (_, accounts) = send(
        http.get(format!("{api}/accounts"))
            .bearer_auth(&owner.access_token),
    )
    .await;
    let account = accounts["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["plugin"] == "mastodon"))
        .unwrap_or_else(|| panic!("no Mastodon account: {accounts}"));
    Studio {
        token: owner.access_token,
        workspace,
        account: account["id"].as_str().expect("account id").to_string(),
    }
}

/// Creates a text draft targeting the studio's account; returns the post id.
pub async fn create_text_post(base: &str, studio: &Studio, text: &str) -> String {
    let (status, post) = send(
        client()
            .post(studio.url(base, "/posts"))
            .bearer_auth(&studio.token)
            .json(&json!({"kind": "text", "text": text, "targets": [studio.account]})),
    )
    .await;
    assert_eq!(status, 201, "creating a post: {post}");
    post["id"].as_str().expect("post id").to_string()
}

/// Schedules every target of a post at `at` (local time in the workspace's zone, UTC here,
/// e.g. `2026-03-29T09:30:00.250`), or now.
pub async fn schedule(base: &str, studio: &Studio, post_id: &str, at: Option<&str>) -> Value {
    let body = match at {
        Some(at) => json!({"at": at}),
        None => json!({}),
    };
    let (status, scheduled) = send(
        client()
            .post(studio.url(base, &format!("/posts/{post_id}/schedule")))
            .bearer_auth(&studio.token)
            .json(&body),
    )
    .await;
    assert_eq!(status, 200, "scheduling {post_id}: {scheduled}");
    scheduled
}

/// Creates and schedules one text post per `(text, at)`, `concurrency` at a time; returns
/// the post ids in the same order.
pub async fn create_and_schedule(
    base: &str,
    studio: &Studio,
    posts: Vec<(String, Option<String>)>,
    concurrency: usize,
) -> Vec<String> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (text, at)) in posts.into_iter().enumerate() {
        let (base, studio, limit) = (base.to_string(), studio.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore");
            let id = create_text_post(&base, &studio, &text).await;
            schedule(&base, &studio, &id, at.as_deref()).await;
            (i, id)
        });
    }
    let mut ids = Vec::new();
    while let Some(done) = tasks.join_next().await {
        ids.push(done.expect("creating and scheduling a post"));
    }
    ids.sort();
    ids.into_iter().map(|(_, id)| id).collect()
}

/// `GET …/posts/{id}`: the post with its targets.
pub async fn get_post(base: &str, studio: &Studio, post_id: &str) -> Value {
    let (status, post) = send(
        client()
            .get(studio.url(base, &format!("/posts/{post_id}")))
            .bearer_auth(&studio.token),
    )
    .await;
    assert_eq!(status, 200, "reading {post_id}: {post}");
    post
}

/// Polls the post's first target until `done` holds for it (returning the target), or
/// panics after `timeout` with what it last saw.
pub async fn wait_for_target(
    base: &str,
    studio: &Studio,
    post_id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let post = get_post(base, studio, post_id).await;
        let target = post["targets"][0].clone();
        if done(&target) {
            return target;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("the target never reached the expected state; last seen: {target}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One post's text and its (first) target as the API shows them.
#[derive(Debug, Clone)]
pub struct TargetState {
    pub post_id: String,
    pub text: String,
    pub status: String,
    pub remote_id: Option<String>,
    pub last_error: Option<String>,
    pub deferred_reason: Option<String>,
}

/// Every post of the studio's workspace with its target, through the paginated list; None
/// when the server does not answer (it may be down).
pub async fn all_targets(base: &str, studio: &Studio) -> Option<Vec<TargetState>> {
    let http = client();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = http
            .get(studio.url(base, "/posts"))
            .bearer_auth(&studio.token)
            .query(&[("limit", "100")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c.as_str())]);
        }
        let resp = req.send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let page: Value = resp.json().await.ok()?;
        for post in page["posts"].as_array()? {
            let t = &post["targets"][0];
            let text = |v: &Value| v.as_str().map(str::to_string);
            out.push(TargetState {
                post_id: text(&post["id"])?,
                text: text(&post["text"]).unwrap_or_default(),
                status: text(&t["status"])?,
                remote_id: text(&t["remote_id"]),
                last_error: text(&t["last_error"]),
                deferred_reason: text(&t["deferred_reason"]),
            });
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Some(out),
        }
    }
}

/// Where a target can stay: published, or given up on with a reason.
pub fn is_final(status: &str) -> bool {
    matches!(status, "published" | "failed" | "in_doubt" | "paused")
}

/// Replaces the limits the operator granted `plugin` (e.g. `{"http-timeout-ms": 1000}`)
/// through one node's admin API, keeping its other grants.
pub async fn grant_limits(base: &str, plugin: &str, limits: Value) {
    let http = client();
    let (status, view) = send(
        http.get(format!("{base}/api/v1/admin/plugins/{plugin}"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    let mut grants = view["plugin"]["grants"].clone();
    grants["limits"] = limits;
    let (status, report) = send(
        http.put(format!("{base}/api/v1/admin/plugins/{plugin}/grants"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&grants),
    )
    .await;
    assert_eq!(status, 200, "granting limits: {report}");
}

/// Upgrades `plugin` to the component `bytes` through one node's admin API (grants kept).
pub async fn upgrade_plugin(base: &str, plugin: &str, bytes: Vec<u8>) -> Value {
    let form = reqwest::multipart::Form::new().part(
        "component",
        reqwest::multipart::Part::bytes(bytes).file_name(format!("{plugin}.wasm")),
    );
    let (status, report) = send(
        client()
            .put(format!("{base}/api/v1/admin/plugins/{plugin}"))
            .bearer_auth(ADMIN_TOKEN)
            .multipart(form),
    )
    .await;
    assert_eq!(status, 200, "upgrading {plugin}: {report}");
    report
}
