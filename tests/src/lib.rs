//! Test support: builds the real plugin components and the server binary, and starts
//! servers (in-process or as a child process) on throwaway data folders.

pub mod api;
pub mod platform;
pub mod scenario;

use plugboard::app::App;
use plugboard::config::Config;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds a plugin workspace (or only `package` of it) for wasm32-wasip2 (release) and
/// returns its output folder.
fn build_components(workspace: &Path, package: Option<&str>) -> PathBuf {
    let mut args = vec!["build", "--release", "--target", "wasm32-wasip2"];
    if let Some(p) = package {
        args.extend(["-p", p]);
    }
    let status = Command::new(cargo())
        .args(&args)
        .current_dir(workspace)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("running cargo for the plugins");
    assert!(status.success(), "building {} failed", workspace.display());
    workspace.join("target/wasm32-wasip2/release")
}

/// The first-party plugins (`plugins/`), built once per test process.
pub fn plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_components(&repo_root().join("plugins"), None))
}

/// The sandbox fixtures (`tests/fixtures/plugins/`), built once per test process.
pub fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_components(&repo_root().join("tests/fixtures/plugins"), None))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// One first-party plugin's component, building only its package (once per test process)
/// so a test does not depend on every other plugin compiling.
pub fn plugin(name: &str) -> Vec<u8> {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let dir = {
        let mut built = BUILT.lock().expect("plugin build lock");
        built
            .get_or_insert_with(HashMap::new)
            .entry(name.to_string())
            .or_insert_with(|| build_components(&repo_root().join("plugins"), Some(name)))
            .clone()
    };
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The `plugboard` binary, built once per test process.
pub fn server_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = Command::new(cargo())
            .args(["build", "-p", "plugboard", "--bin", "plugboard"])
            .current_dir(repo_root())
            .status()
            .expect("running cargo for the server");
        assert!(status.success(), "building the server failed");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join("target"));
        target.join("debug/plugboard")
    })
}

/// Replaces `from` with `to` (same length) everywhere in a component: a second build that
/// differs only in data, for upgrade tests.
pub fn patch(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "patches must keep the length");
    let (from, to) = (from.as_bytes(), to.as_bytes());
    let mut out = bytes.to_vec();
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0, "pattern not found in the component");
    out
}

/// A configuration on a fresh data folder, listening on a random port, allowing plugins
/// to reach 127.0.0.1 (the simulators).
pub fn test_config(dir: &Path) -> Config {
    let mut config = Config::for_data_dir(dir.to_path_buf());
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.http_allow_ranges = vec!["127.0.0.1/32".parse().expect("range")];
    config.bundled_plugins = dir.join("no-bundled-plugins");
    config
}

/// An app on a fresh data folder (kept alive by the returned guard).
pub async fn test_app() -> (Arc<App>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = App::open(test_config(dir.path()))
        .await
        .expect("opening the app");
    (app, dir)
}

/// A child `plugboard` process; killed when dropped.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `plugboard serve` on `data_dir` with the given extra arguments and waits for
/// `/healthz`.
pub async fn spawn_server(data_dir: &Path, extra: &[&str]) -> ServerProcess {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let child = Command::new(server_binary())
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("starting plugboard");
    let server = ServerProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await
            && r.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server did not answer /healthz within 60 s");
}

/// A tiny local HTTP server for sandbox tests: `/big/{n}` answers n bytes, `/slow/{ms}`
/// answers after a delay, anything else answers "hello".
pub async fn local_http() -> std::net::SocketAddr {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/big/{n}",
            get(|axum::extract::Path(n): axum::extract::Path<usize>| async move { vec![b'x'; n] }),
        )
        .route(
            "/slow/{ms}",
            get(
                |axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    "slow"
                },
            ),
        )
        .fallback(|| async { "hello" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A server running in this process on a fresh data folder, with its base URL.
pub struct TestServer {
    pub running: plugboard::server::Running,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn app(&self) -> &Arc<App> {
        &self.running.app
    }
}

/// Starts the real HTTP server in-process (SQLite, local storage) on a random port.
pub async fn test_server() -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    test_server_with(dir, |_| {}).await
}

/// As [`test_server`], adjusting the configuration first.
pub async fn test_server_with(
    dir: tempfile::TempDir,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    let mut config = test_config(dir.path());
    // The public URL (OAuth callbacks, signed media URLs) must name the real port, so the
    // port is chosen before the app is built.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    config.listen = format!("127.0.0.1:{port}").parse().expect("address");
    adjust(&mut config);
    let app = App::open(config).await.expect("opening the app");
    let running = plugboard::server::start(app)
        .await
        .expect("starting the server");
    let base = format!("http://{}", running.addr);
    TestServer { running, base, dir }
}

/// A fresh, empty PostgreSQL database on the test server started by `scripts/pg.sh`
/// (`PLUGBOARD_TEST_PG` is its admin URL), returned as a connection URL.
pub async fn pg_database() -> String {
    let admin = std::env::var("PLUGBOARD_TEST_PG").expect(
        "PLUGBOARD_TEST_PG is not set: run the suite with scripts/test.sh, which starts PostgreSQL",
    );
    let name = format!("plugboard_test_{}", uuid_like());
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connecting to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("creating a test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}
