//! The plugin registry and plugin storage on a real PostgreSQL: install, atomic storage,
//! upgrade, and a restart that restores the active version.

use plugboard::app::App;
use plugboard::runtime::grants::Grants;
use plugboard::runtime::registry::InstallMode;
use plugboard::runtime::state::CallContext;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{Post, PublishOutcome};
use plugboard_e2e::{fixture, patch, pg_database, test_config};

async fn say(app: &App, text: &str) -> String {
    let out = app
        .runtime
        .platform("hostile", "publish", CallContext::default())
        .await
        .unwrap()
        .publish(Post {
            target_id: "t".into(),
            attempt: 1,
            kind: "text".into(),
            text: text.into(),
            media: vec![],
            thread: vec![],
            options: vec![],
            scheduled_at: None,
        })
        .await
        .unwrap();
    match out {
        Ok(PublishOutcome::Published(p)) => p.remote_id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_and_storage_work_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = pg_database().await;
    let open = || {
        let mut config = test_config(dir.path());
        config.database_url = Some(url.clone());
        App::open(config)
    };
    let app = open().await.unwrap();
    assert!(app.db.is_postgres());
    let grants = Grants {
        storage_quota: 4096,
        ..Default::default()
    };
    app.runtime
        .registry
        .install(&fixture("hostile"), Some(grants), InstallMode::Install)
        .await
        .unwrap();

    assert_eq!(say(&app, "store k=v").await, "stored");
    assert_eq!(say(&app, "read k").await, "v");
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move { say(&app, "count n").await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(say(&app, "read n").await, "30");
    assert!(say_err(&app, "fill 5000").await.contains("quota"));

    let v2 = patch(
        &patch(&fixture("hostile"), "variant-A", "variant-B"),
        "\"hostile\"\nversion = \"0.1.0\"",
        "\"hostile\"\nversion = \"0.2.0\"",
    );
    app.runtime
        .registry
        .install(&v2, None, InstallMode::Upgrade)
        .await
        .unwrap();
    drop(app);

    let app = open().await.unwrap();
    assert_eq!(
        app.runtime
            .registry
            .get("hostile")
            .unwrap()
            .manifest
            .version,
        "0.2.0"
    );
    assert_eq!(say(&app, "ok").await, "variant-B");
    assert_eq!(say(&app, "read k").await, "v");
}

async fn say_err(app: &App, text: &str) -> String {
    let out = app
        .runtime
        .platform("hostile", "publish", CallContext::default())
        .await
        .unwrap()
        .publish(Post {
            target_id: "t".into(),
            attempt: 1,
            kind: "text".into(),
            text: text.into(),
            media: vec![],
            thread: vec![],
            options: vec![],
            scheduled_at: None,
        })
        .await
        .unwrap();
    format!("{:?}", out.unwrap_err())
}
