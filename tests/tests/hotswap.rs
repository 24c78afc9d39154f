//! Upgrades and rollbacks on a live registry: no call fails, calls in flight finish on the
//! version they started with, and a restart comes back with the same active versions.

use plugboard::app::App;
use plugboard::runtime::grants::Grants;
use plugboard::runtime::registry::{InstallMode, RegistryError};
use plugboard::runtime::state::CallContext;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{Post, PublishOutcome};
use plugboard_e2e::{fixture, local_http, patch, test_config};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn post(text: &str) -> Post {
    Post {
        target_id: "t".into(),
        attempt: 1,
        kind: "text".into(),
        text: text.into(),
        media: vec![],
        thread: vec![],
        options: vec![],
        scheduled_at: None,
    }
}

async fn variant(app: &App, text: &str) -> anyhow::Result<String> {
    let call = app
        .runtime
        .platform("hostile", "publish", CallContext::default())
        .await?;
    match call.publish(post(text)).await? {
        Ok(PublishOutcome::Published(p)) => Ok(p.remote_id),
        other => anyhow::bail!("unexpected outcome {other:?}"),
    }
}

fn grants() -> Grants {
    Grants {
        hosts: vec!["http://127.0.0.1:*".into()],
        ..Default::default()
    }
}

/// Version 0.2.0 of the hostile fixture, answering `variant-B`.
fn v2() -> Vec<u8> {
    let bytes = patch(&fixture("hostile"), "variant-A", "variant-B");
    patch(
        &bytes,
        "\"hostile\"\nversion = \"0.1.0\"",
        "\"hostile\"\nversion = \"0.2.0\"",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_and_rollback_under_load_fail_no_call() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(test_config(dir.path())).await.unwrap();
    app.runtime
        .registry
        .install(&fixture("hostile"), Some(grants()), InstallMode::Install)
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let seen_b = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (app, stop, failures, seen_b) =
            (app.clone(), stop.clone(), failures.clone(), seen_b.clone());
        workers.push(tokio::spawn(async move {
            let mut calls = 0usize;
            while !stop.load(Ordering::Relaxed) {
                match variant(&app, "ok").await {
                    Ok(v) if v == "variant-B" => {
                        seen_b.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("call failed: {e:#}");
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                calls += 1;
            }
            calls
        }));
    }

    // A slow call that starts on 0.1.0 and is still running during the upgrade.
    let addr = local_http().await;
    let in_flight = {
        let app = app.clone();
        tokio::spawn(async move { variant(&app, &format!("slow http://{addr}/slow/800")).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    let up = app
        .runtime
        .registry
        .install(&v2(), None, InstallMode::Upgrade)
        .await
        .unwrap();
    assert_eq!(
        (up.version.as_str(), up.previous_version.as_deref()),
        ("0.2.0", Some("0.1.0"))
    );
    assert_eq!(variant(&app, "ok").await.unwrap(), "variant-B");
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        "variant-A",
        "the in-flight call must finish on its version"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let back = app.runtime.registry.rollback("hostile").await.unwrap();
    assert_eq!(back.version, "0.1.0");
    assert_eq!(variant(&app, "ok").await.unwrap(), "variant-A");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = app.runtime.registry.rollback("hostile").await.unwrap();
    assert_eq!(
        again.version, "0.2.0",
        "rolling back twice returns to the newer version"
    );

    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    assert!(total > 100, "only {total} calls ran");
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "calls failed during upgrade/rollback"
    );
    assert!(seen_b.load(Ordering::Relaxed) > 0);

    // A restart comes back with the same active version and grants.
    drop(app);
    let app = App::open(test_config(dir.path())).await.unwrap();
    let active = app.runtime.registry.get("hostile").expect("restored");
    assert_eq!(active.manifest.version, "0.2.0");
    assert_eq!(active.grants, grants());
    assert_eq!(variant(&app, "ok").await.unwrap(), "variant-B");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(test_config(dir.path())).await.unwrap();
    let reg = &app.runtime.registry;
    reg.install(&fixture("hostile"), None, InstallMode::Install)
        .await
        .unwrap();
    assert!(matches!(
        reg.install(&fixture("hostile"), None, InstallMode::Install)
            .await,
        Err(RegistryError::AlreadyInstalled { .. })
    ));
    assert!(matches!(
        reg.install(&fixture("peer"), None, InstallMode::Upgrade)
            .await,
        Err(RegistryError::NotInstalled(_))
    ));
    // Same version, different content: refused, the active build stays.
    let changed = patch(&fixture("hostile"), "variant-A", "variant-C");
    assert!(matches!(
        reg.install(&changed, None, InstallMode::Upgrade).await,
        Err(RegistryError::VersionConflict { .. })
    ));
    assert!(matches!(
        reg.rollback("hostile").await,
        Err(RegistryError::NothingToRollBack(_))
    ));
    assert!(matches!(
        reg.install(b"not wasm at all", None, InstallMode::Install)
            .await,
        Err(RegistryError::Manifest(_))
    ));
    // Nothing was granted: the report says what the manifest asked for.
    let report = reg.grant("hostile", Grants::default()).await.unwrap();
    assert!(
        report
            .not_granted
            .iter()
            .any(|g| g == "host http://127.0.0.1:*"),
        "{:?}",
        report.not_granted
    );
    reg.remove("hostile").await.unwrap();
    assert!(reg.get("hostile").is_none());
    assert!(matches!(
        reg.remove("hostile").await,
        Err(RegistryError::NotInstalled(_))
    ));
}
