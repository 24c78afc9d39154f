//! The real `plugboard` binary: serving with the bundled plugins, the admin API and the
//! operator CLI (install, upgrade, rollback, grant, remove, inspect), restarts, watch mode,
//! and a plugin written without the SDK publishing to the simulator.

use plugboard::app::App;
use plugboard::runtime::state::{AccountContext, CallContext};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{Post, PublishOutcome};
use plugboard_e2e::{
    fixture, fixtures_dir, patch, plugins_dir, server_binary, spawn_server, test_config,
};
use plugboard_simulators::{MastodonConfig, MastodonSim};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn cli(data_dir: &Path, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(server_binary())
        .args(args)
        .env("PLUGBOARD_DATA_DIR", data_dir)
        .env("RUST_LOG", "error")
        .output()
        .expect("running the CLI");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), json, format!("{stdout}{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_with_bundled_plugins_and_operates_plugins_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let bundled = plugins_dir().to_string_lossy().into_owned();
    let server = spawn_server(dir.path(), &["--bundled-plugins", &bundled]).await;
    let client = reqwest::Client::new();

    let ready: Value = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], true);
    assert!(
        ready["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("mastodon ")),
        "{ready}"
    );

    // The admin API refuses without the operator token, as problem+json.
    let resp = client
        .get(format!("{}/api/v1/admin/plugins", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    // inspect works on a file without a server.
    let poster = fixtures_dir().join("nosdk_poster.wasm");
    let (ok, info, out) = cli(dir.path(), &["plugin", "inspect", poster.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert_eq!(info["manifest"]["id"], "nosdk-poster");
    assert!(
        info["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "plugboard:plugin/publisher@0.1.0"),
        "{info}"
    );
    assert!(
        info["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "plugboard:plugin/http@0.1.0"),
        "{info}"
    );

    let server_arg = ["--server", server.base.as_str()];
    let hostile = fixtures_dir().join("hostile.wasm");
    let (ok, report, out) = cli(
        dir.path(),
        &[
            &[
                "plugin",
                "install",
                hostile.to_str().unwrap(),
                "--host",
                "http://127.0.0.1:*",
            ][..],
            &server_arg,
        ]
        .concat(),
    );
    assert!(ok, "{out}");
    assert_eq!(report["version"], "0.1.0");
    assert!(
        report["not_granted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "secret declared_secret"),
        "{report}"
    );

    // Upgrade to a second build, roll back, grant more.
    let v2 = patch(
        &patch(&fixture("hostile"), "variant-A", "variant-B"),
        "\"hostile\"\nversion = \"0.1.0\"",
        "\"hostile\"\nversion = \"0.2.0\"",
    );
    let v2_path = dir.path().join("hostile-0.2.0.wasm");
    std::fs::write(&v2_path, v2).unwrap();
    let (ok, report, out) = cli(
        dir.path(),
        &[
            &["plugin", "upgrade", v2_path.to_str().unwrap()][..],
            &server_arg,
        ]
        .concat(),
    );
    assert!(ok, "{out}");
    assert_eq!(
        (
            report["version"].as_str(),
            report["previous_version"].as_str()
        ),
        (Some("0.2.0"), Some("0.1.0"))
    );
    let (ok, report, out) = cli(
        dir.path(),
        &[&["plugin", "rollback", "hostile"][..], &server_arg].concat(),
    );
    assert!(ok, "{out}");
    assert_eq!(report["version"], "0.1.0");
    let (ok, report, out) = cli(
        dir.path(),
        &[
            &[
                "plugin",
                "grant",
                "hostile",
                "--secret",
                "declared_secret",
                "--limit",
                "cpu-ms=500",
                "--limit",
                "rate-limits.requests=3000",
            ][..],
            &server_arg,
        ]
        .concat(),
    );
    assert!(ok, "{out}");
    assert!(
        !report["not_granted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "secret declared_secret"),
        "{report}"
    );
    let (ok, _, out) = cli(
        dir.path(),
        &[
            &["plugin", "grant", "hostile", "--host", "no-scheme.example"][..],
            &server_arg,
        ]
        .concat(),
    );
    assert!(!ok && out.contains("invalid host pattern"), "{out}");

    let (ok, list, out) = cli(dir.path(), &[&["plugin", "list"][..], &server_arg].concat());
    assert!(ok, "{out}");
    let hostile_view = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "hostile")
        .unwrap()
        .clone();
    assert_eq!(hostile_view["version"], "0.1.0");
    assert_eq!(hostile_view["limits"]["cpu-ms"], 500);
    assert_eq!(
        hostile_view["grants"]["limits"]["rate-limits"]["requests"], 3000,
        "{hostile_view}"
    );

    // A bad file is refused by the CLI before upload, and by the server as a precise 4xx.
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm\x01\0\0\0").unwrap();
    let (ok, _, out) = cli(
        dir.path(),
        &[
            &["plugin", "install", bogus.to_str().unwrap()][..],
            &server_arg,
        ]
        .concat(),
    );
    assert!(!ok && out.contains("component-model"), "{out}");
    let token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    let form = reqwest::multipart::Form::new().part(
        "component",
        reqwest::multipart::Part::bytes(b"\0asm\x01\0\0\0".to_vec()),
    );
    let resp = client
        .post(format!("{}/api/v1/admin/plugins", server.base))
        .bearer_auth(token.trim())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://plugboard.dev/problems/invalid-plugin"
    );

    // A restart comes back with the same active versions and grants.
    drop(server);
    let server = spawn_server(dir.path(), &["--bundled-plugins", &bundled]).await;
    let (ok, list, out) = cli(
        dir.path(),
        &["plugin", "list", "--server", server.base.as_str()],
    );
    assert!(ok, "{out}");
    let ids: Vec<(String, String)> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(ids.contains(&("hostile".into(), "0.1.0".into())), "{ids:?}");
    assert!(ids.iter().any(|(id, _)| id == "mastodon"), "{ids:?}");

    let (ok, _, out) = cli(
        dir.path(),
        &[
            "plugin",
            "remove",
            "hostile",
            "--server",
            server.base.as_str(),
        ],
    );
    assert!(ok, "{out}");
    let (_, list, _) = cli(
        dir.path(),
        &["plugin", "list", "--server", server.base.as_str()],
    );
    assert!(
        !list["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "hostile")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_without_the_sdk_installs_with_the_cli_and_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let poster = fixtures_dir().join("nosdk_poster.wasm");
    let (ok, report, out) = cli(
        dir.path(),
        &[
            "plugin",
            "install",
            poster.to_str().unwrap(),
            "--grant-requested",
            "--offline",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(report["id"], "nosdk-poster");

    let sim = MastodonSim::start(MastodonConfig::default()).await.unwrap();
    let token = sim.seed_token("alice", "write:statuses");
    let app = App::open(test_config(dir.path())).await.unwrap();
    let ctx = CallContext {
        account: Some(AccountContext {
            id: "alice".into(),
            values: HashMap::from([
                ("instance_url".into(), sim.base_url()),
                ("access_token".into(), token),
            ]),
        }),
        ..Default::default()
    };
    let out = app
        .runtime
        .platform("nosdk-poster", "publish", ctx)
        .await
        .unwrap()
        .publish(Post {
            target_id: "nosdk-1".into(),
            attempt: 1,
            kind: "text".into(),
            text: "Written from wit/ alone \"quoted\"".into(),
            media: vec![],
            thread: vec![],
            options: vec![],
            scheduled_at: None,
        })
        .await
        .unwrap()
        .unwrap();
    let PublishOutcome::Published(p) = out else {
        panic!("{out:?}")
    };
    let statuses = sim.statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].id, p.remote_id);
    assert_eq!(statuses[0].text, "Written from wit/ alone \"quoted\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_mode_reloads_changed_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    std::fs::write(watched.join("peer.wasm"), fixture("peer")).unwrap();
    let server = spawn_server(dir.path(), &["--watch", watched.to_str().unwrap()]).await;
    let versions = |server_base: String| {
        let dir = dir.path().to_path_buf();
        move || {
            let (_, list, _) = cli(&dir, &["plugin", "list", "--server", &server_base]);
            list["plugins"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|p| p["id"] == "peer")
                        .map(|p| p["version"].as_str().unwrap().to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    let peer_versions = versions(server.base.clone());
    let first = peer_versions();
    assert_eq!(first.len(), 1, "peer not loaded from the watched folder");
    assert!(first[0].starts_with("0.1.0+dev."), "{first:?}");

    // A rebuild (different bytes) is picked up without a restart.
    let changed = patch(
        &fixture("peer"),
        "storage-quota = 1024",
        "storage-quota = 2048",
    );
    std::fs::write(watched.join("peer.wasm"), changed).unwrap();
    let mut now = first.clone();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        now = peer_versions();
        if now != first {
            break;
        }
    }
    assert_ne!(now, first, "the changed file was not reloaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_from_other_toolchains_get_a_manifest_with_package() {
    let dir = tempfile::tempdir().unwrap();
    // A component with no manifest section, as componentize-py or another toolchain makes.
    let bare = patch(&fixture("peer"), "plugboard:manifest", "plugboard:manifesX");
    let bare_path = dir.path().join("bare.wasm");
    std::fs::write(&bare_path, bare).unwrap();
    let (ok, _, out) = cli(
        dir.path(),
        &[
            "plugin",
            "install",
            bare_path.to_str().unwrap(),
            "--offline",
        ],
    );
    assert!(
        !ok && out.contains("no `plugboard:manifest` custom section"),
        "{out}"
    );

    let toml = dir.path().join("plugboard.toml");
    std::fs::write(&toml, "id = \"other-toolchain\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"\nworld = \"platform\"\nstorage-quota = 100\n").unwrap();
    let packaged = dir.path().join("packaged.wasm");
    let (ok, info, out) = cli(
        dir.path(),
        &[
            "plugin",
            "package",
            bare_path.to_str().unwrap(),
            "--manifest",
            toml.to_str().unwrap(),
            "-o",
            packaged.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(info["manifest"]["id"], "other-toolchain");
    let (ok, report, out) = cli(
        dir.path(),
        &[
            "plugin",
            "install",
            packaged.to_str().unwrap(),
            "--grant-requested",
            "--offline",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(report["version"], "1.0.0");
    // Packaging twice is refused.
    let (ok, _, out) = cli(
        dir.path(),
        &[
            "plugin",
            "package",
            packaged.to_str().unwrap(),
            "--manifest",
            toml.to_str().unwrap(),
            "-o",
            packaged.to_str().unwrap(),
        ],
    );
    assert!(!ok && out.contains("already carries a manifest"), "{out}");
}
