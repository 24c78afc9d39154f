//! Sandbox fixtures: each pathological plugin is contained with a typed error naming the
//! plugin, version and limit or grant, while other calls keep succeeding.

use plugboard::app::App;
use plugboard::runtime::error::{CallError, Limit};
use plugboard::runtime::grants::Grants;
use plugboard::runtime::limits::LimitOverrides;
use plugboard::runtime::registry::{InstallMode, RegistryError};
use plugboard::runtime::state::CallContext;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{Post, PublishOutcome};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use plugboard_e2e::{fixture, local_http, test_app};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn post(text: &str) -> Post {
    Post {
        target_id: "target-1".into(),
        attempt: 1,
        kind: "text".into(),
        text: text.into(),
        media: vec![],
        thread: vec![],
        options: vec![],
        scheduled_at: None,
    }
}

async fn publish(
    app: &App,
    plugin: &str,
    text: &str,
) -> Result<Result<PublishOutcome, PluginError>, CallError> {
    publish_with(app, plugin, text, CallContext::default()).await
}

async fn publish_with(
    app: &App,
    plugin: &str,
    text: &str,
    ctx: CallContext,
) -> Result<Result<PublishOutcome, PluginError>, CallError> {
    app.runtime
        .platform(plugin, "publish", ctx)
        .await?
        .publish(post(text))
        .await
}

fn remote_id(out: Result<Result<PublishOutcome, PluginError>, CallError>) -> String {
    match out {
        Ok(Ok(PublishOutcome::Published(p))) => p.remote_id,
        other => panic!("expected a published outcome, got {other:?}"),
    }
}

fn plugin_error(out: Result<Result<PublishOutcome, PluginError>, CallError>) -> String {
    match out {
        Ok(Err(e)) => format!("{e:?}"),
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

fn all_requested() -> Grants {
    Grants {
        hosts: vec![
            "http://127.0.0.1:*".into(),
            "http://169.254.169.254".into(),
            "http://localhost:*".into(),
        ],
        secrets: vec!["declared_secret".into()],
        storage_quota: 4096,
        // CPU time is measured as guest wall time, so a loaded test machine needs headroom;
        // the infinite-loop test lowers it.
        limits: LimitOverrides {
            cpu_ms: Some(5_000),
            memory_bytes: Some(32 << 20),
            ..Default::default()
        },
    }
}

async fn hostile_app(grants: Grants) -> (Arc<App>, tempfile::TempDir) {
    let (app, dir) = test_app().await;
    app.runtime
        .registry
        .install(&fixture("hostile"), Some(grants), InstallMode::Install)
        .await
        .expect("installing the hostile fixture");
    (app, dir)
}

/// Runs a misbehaving call while well-behaved calls go on; both must end as expected.
async fn contained(app: &Arc<App>, text: &str) -> CallError {
    let bad = {
        let app = app.clone();
        let text = text.to_string();
        tokio::spawn(async move { publish(&app, "hostile", &text).await })
    };
    while !bad.is_finished() {
        assert_eq!(remote_id(publish(app, "hostile", "ok").await), "variant-A");
    }
    let err = match bad.await.expect("task") {
        Err(e) => e,
        Ok(out) => panic!("`{text}` was not stopped: {out:?}"),
    };
    assert_eq!(remote_id(publish(app, "hostile", "ok").await), "variant-A");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_hits_the_cpu_limit() {
    let mut grants = all_requested();
    grants.limits.cpu_ms = Some(500);
    let (app, _dir) = hostile_app(grants).await;
    let err = contained(&app, "loop").await;
    assert_eq!(err.limit(), Some(Limit::Cpu), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("`hostile` 0.1.0") && text.contains("CPU time"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_hits_the_memory_limit() {
    let (app, _dir) = hostile_app(all_requested()).await;
    let err = contained(&app, "memory").await;
    assert_eq!(err.limit(), Some(Limit::Memory), "{err}");
    assert!(err.to_string().contains("33554432 bytes"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_hits_the_stack_limit() {
    let (app, _dir) = hostile_app(all_requested()).await;
    let err = contained(&app, "recursion").await;
    assert_eq!(err.limit(), Some(Limit::Stack), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_a_crash_not_a_host_failure() {
    let (app, _dir) = hostile_app(all_requested()).await;
    let err = contained(&app, "panic").await;
    assert!(matches!(err, CallError::Crashed { .. }), "{err}");
    assert!(err.to_string().contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_clock_limit_covers_time_waiting_in_host_calls() {
    let mut grants = all_requested();
    grants.limits.wall_ms = Some(500);
    let (app, _dir) = hostile_app(grants).await;
    let addr = local_http().await;
    let start = Instant::now();
    let err = publish(&app, "hostile", &format!("get http://{addr}/slow/5000"))
        .await
        .unwrap_err();
    assert_eq!(err.limit(), Some(Limit::WallClock), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the timeout did not stop the call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_host_is_refused_with_guidance() {
    let (app, _dir) = hostile_app(all_requested()).await;
    let err = plugin_error(publish(&app, "hostile", "get https://not-declared.example/").await);
    assert!(
        err.contains("plugin `hostile` 0.1.0") && err.contains("manifest does not declare"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_without_a_grant_is_refused_with_the_grant_command() {
    let mut grants = all_requested();
    grants.hosts.retain(|h| !h.contains("127.0.0.1"));
    let (app, _dir) = hostile_app(grants).await;
    let addr = local_http().await;
    let err = plugin_error(publish(&app, "hostile", &format!("get http://{addr}/")).await);
    assert!(
        err.contains("has not granted")
            && err.contains(&format!(
                "plugboard plugin grant hostile --host http://127.0.0.1:{}",
                addr.port()
            )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_address_is_refused_even_when_the_host_is_granted() {
    let (app, _dir) = hostile_app(all_requested()).await;
    let err = plugin_error(
        publish(
            &app,
            "hostile",
            "get http://169.254.169.254/latest/meta-data/",
        )
        .await,
    );
    assert!(err.contains("internal address 169.254.169.254"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_need_an_operator_range() {
    // A host name that resolves to loopback, granted, but no range allowed for it:
    // `localhost` resolves to 127.0.0.1 (allowed in tests) and ::1 (not allowed).
    let dir = tempfile::tempdir().unwrap();
    let mut config = plugboard_e2e::test_config(dir.path());
    config.http_allow_ranges.clear();
    let app = App::open(config).await.unwrap();
    app.runtime
        .registry
        .install(
            &fixture("hostile"),
            Some(all_requested()),
            InstallMode::Install,
        )
        .await
        .unwrap();
    let addr = local_http().await;
    for url in [
        format!("http://127.0.0.1:{}/", addr.port()),
        format!("http://localhost:{}/", addr.port()),
    ] {
        let err = plugin_error(publish(&app, "hostile", &format!("get {url}")).await);
        assert!(err.contains("internal address"), "{url}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_response_is_cut_off() {
    let mut grants = all_requested();
    grants.limits.http_response_bytes = Some(1 << 20);
    let (app, _dir) = hostile_app(grants).await;
    let addr = local_http().await;
    assert_eq!(
        remote_id(publish(&app, "hostile", &format!("get http://{addr}/big/1000")).await),
        "status 200 bytes 1000"
    );
    let err =
        plugin_error(publish(&app, "hostile", &format!("get http://{addr}/big/3000000")).await);
    assert!(err.contains("exceeded 1048576 bytes"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_flood_is_rate_limited_and_the_call_finishes() {
    let (app, _dir) = hostile_app(Grants {
        limits: LimitOverrides {
            cpu_ms: Some(5_000),
            ..Default::default()
        },
        ..all_requested()
    })
    .await;
    let start = Instant::now();
    assert_eq!(
        remote_id(publish(&app, "hostile", "log-flood").await),
        "flooded"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_are_capped() {
    let (app, _dir) = hostile_app(all_requested()).await;
    let addr = local_http().await;
    let err = plugin_error(publish(&app, "hostile", &format!("streams http://{addr}/")).await);
    assert!(err.contains("64 open response streams"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_contract_version_is_refused_before_compiling() {
    let (app, _dir) = test_app().await;
    let err = app
        .runtime
        .registry
        .install(&fixture("wrong_contract"), None, InstallMode::Install)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Manifest(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("contract 9.0.0") && text.contains("0.1.0"),
        "{text}"
    );
    assert!(app.runtime.registry.get("wrong-contract").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_the_granted_intersection() {
    let mut grants = all_requested();
    grants.secrets.clear();
    let (app, _dir) = hostile_app(grants).await;
    let ctx = || CallContext {
        app_secrets: HashMap::from([
            ("declared_secret".into(), "s3cret".into()),
            ("undeclared".into(), "x".into()),
        ]),
        ..Default::default()
    };
    let err = plugin_error(publish_with(&app, "hostile", "secret undeclared", ctx()).await);
    assert!(err.contains("manifest does not declare it"), "{err}");
    let err = plugin_error(publish_with(&app, "hostile", "secret declared_secret", ctx()).await);
    assert!(
        err.contains("plugboard plugin grant hostile --secret declared_secret"),
        "{err}"
    );
    app.runtime
        .registry
        .grant("hostile", all_requested())
        .await
        .unwrap();
    assert_eq!(
        remote_id(publish_with(&app, "hostile", "secret declared_secret", ctx()).await),
        "secret 6 bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_is_private_quota_bound_and_atomic() {
    let (app, _dir) = hostile_app(all_requested()).await;
    app.runtime
        .registry
        .install(
            &fixture("peer"),
            Some(Grants {
                storage_quota: 1024,
                ..Default::default()
            }),
            InstallMode::Install,
        )
        .await
        .unwrap();
    assert_eq!(
        remote_id(publish(&app, "hostile", "store shared=from-hostile").await),
        "stored"
    );
    assert_eq!(
        remote_id(publish(&app, "hostile", "read shared").await),
        "from-hostile"
    );
    assert_eq!(remote_id(publish(&app, "peer", "shared").await), "<absent>");

    let err = plugin_error(publish(&app, "hostile", "fill 5000").await);
    assert!(err.contains("quota of 4096 bytes"), "{err}");

    let mut tasks = Vec::new();
    for _ in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            publish(&app, "hostile", "count hits").await
        }));
    }
    for t in tasks {
        remote_id(t.await.unwrap());
    }
    assert_eq!(remote_id(publish(&app, "hostile", "read hits").await), "40");
}
