//! The Mastodon plugin against the Mastodon simulator, through the real runtime: OAuth with
//! PKCE, text/image/video/thread statuses, idempotency, validation before any request,
//! error mapping, reconcile, delete and revoke.

use plugboard::app::App;
use plugboard::runtime::caps::media::{CallMedia, MediaItem};
use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard::runtime::state::{AccountContext, CallContext};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    AuthorizeRequest, CodeExchange, Connection, Post, PublishOutcome, ReconcileOutcome, ThreadItem,
};
use plugboard_bindings::platform::plugboard::plugin::types::{MediaRef, PluginError};
use plugboard_e2e::{plugin, test_app};
use plugboard_simulators::{Fault, FaultAction, MastodonConfig, MastodonSim};
use std::collections::HashMap;
use std::sync::Arc;

const REDIRECT: &str = "http://127.0.0.1:9/api/v1/accounts/callback";

struct Setup {
    app: Arc<App>,
    sim: MastodonSim,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let (app, dir) = test_app().await;
    let bytes = plugin("mastodon");
    let grants = Grants::requested(&Manifest::from_component(&bytes).unwrap());
    app.runtime
        .registry
        .install(&bytes, Some(grants), InstallMode::Install)
        .await
        .unwrap();
    let sim = MastodonSim::start(MastodonConfig::default()).await.unwrap();
    Setup {
        app,
        sim,
        _dir: dir,
    }
}

fn app_ctx(sim: &MastodonSim) -> CallContext {
    CallContext {
        app_secrets: HashMap::from([("instance_url".to_string(), sim.base_url())]),
        ..Default::default()
    }
}

fn account_ctx(sim: &MastodonSim, conn: &Connection, media: Vec<MediaItem>) -> CallContext {
    let mut values: HashMap<String, String> = conn.credentials.values.iter().cloned().collect();
    values.extend(conn.accounts[0].properties.iter().cloned());
    CallContext {
        account: Some(AccountContext {
            id: conn.accounts[0].remote_id.clone(),
            values,
        }),
        media: CallMedia::new(media),
        ..app_ctx(sim)
    }
}

/// Connects an account the way a user would: authorize URL, the instance's redirect with
/// the code, then the exchange with the PKCE verifier.
async fn connect(s: &Setup) -> Connection {
    let verifier = "a-verifier-of-sufficient-length-0123456789-abcdefghijklmnop";
    let auth = s
        .app
        .runtime
        .platform("mastodon", "authorize", app_ctx(&s.sim))
        .await
        .unwrap()
        .authorize(AuthorizeRequest {
            state: "state-123".into(),
            code_challenge: plugboard_sdk_challenge(verifier),
            redirect_uri: REDIRECT.into(),
            scopes: vec![],
        })
        .await
        .unwrap()
        .unwrap();
    assert!(
        auth.url
            .starts_with(&format!("{}/oauth/authorize?", s.sim.base_url())),
        "{}",
        auth.url
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(&auth.url).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(params.contains(&("state".into(), "state-123".into())));

    // A wrong verifier is refused by the instance.
    let wrong = s
        .app
        .runtime
        .platform("mastodon", "exchange-code", app_ctx(&s.sim))
        .await
        .unwrap()
        .exchange_code(CodeExchange {
            params: params.clone(),
            code_verifier: "wrong-verifier-wrong-verifier-wrong-verifier-000".into(),
            redirect_uri: REDIRECT.into(),
            stash: vec![],
        })
        .await
        .unwrap();
    assert!(wrong.is_err(), "{wrong:?}");

    s.app
        .runtime
        .platform("mastodon", "exchange-code", app_ctx(&s.sim))
        .await
        .unwrap()
        .exchange_code(CodeExchange {
            params,
            code_verifier: verifier.into(),
            redirect_uri: REDIRECT.into(),
            stash: vec![],
        })
        .await
        .unwrap()
        .unwrap()
}

/// PKCE S256, computed independently of the SDK.
fn plugboard_sdk_challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn post(target: &str, kind: &str, text: &str, media: Vec<MediaRef>) -> Post {
    Post {
        target_id: target.into(),
        attempt: 1,
        kind: kind.into(),
        text: text.into(),
        media,
        thread: vec![],
        options: vec![("visibility".into(), "unlisted".into())],
        scheduled_at: None,
    }
}

async fn publish(
    s: &Setup,
    conn: &Connection,
    p: Post,
    media: Vec<MediaItem>,
) -> Result<PublishOutcome, PluginError> {
    s.app
        .runtime
        .platform("mastodon", "publish", account_ctx(&s.sim, conn, media))
        .await
        .unwrap()
        .publish(p)
        .await
        .unwrap()
}

async fn stored(app: &App, key: &str, mime: &str, bytes: Vec<u8>) -> MediaItem {
    let size = bytes.len() as u64;
    app.blobs.put(key, bytes).await.unwrap();
    MediaItem {
        handle: key.replace('/', "-"),
        key: key.into(),
        mime_type: mime.into(),
        size,
        width: None,
        height: None,
        duration_ms: None,
        alt_text: Some("a test image".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_publish_every_post_type() {
    let s = setup().await;
    let conn = connect(&s).await;
    assert_eq!(conn.accounts[0].username.as_deref(), Some("alice"));
    let props: HashMap<_, _> = conn.accounts[0].properties.iter().cloned().collect();
    assert_eq!(props["max_characters"], "500");
    // The app was registered on the fly with the instance and remembered.
    assert_eq!(
        s.sim
            .requests()
            .iter()
            .filter(|r| r.path == "/api/v1/apps")
            .count(),
        1
    );

    // Text.
    let out = publish(
        &s,
        &conn,
        post(
            "t-text",
            "text",
            "Hello from Plugboard https://example.com/a/very/long/link",
            vec![],
        ),
        vec![],
    )
    .await;
    let PublishOutcome::Published(text) = out.unwrap() else {
        panic!("text not published")
    };
    assert!(text.url.is_some());

    // Image: uploaded by handle (bytes streamed by the host), then attached.
    let png = stored(
        &s.app,
        "ws/img.png",
        "image/png",
        b"\x89PNG\r\n\x1a\n fake image body".to_vec(),
    )
    .await;
    let out = publish(
        &s,
        &conn,
        post("t-image", "image", "An image", vec![png.to_ref()]),
        vec![png.clone()],
    )
    .await;
    let PublishOutcome::Published(image) = out.unwrap() else {
        panic!("image not published")
    };
    let upload = s
        .sim
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v2/media")
        .unwrap();
    let file = upload.parts.iter().find(|p| p.name == "file").unwrap();
    assert_eq!(file.size, png.size as usize);

    // Video: 202 while processing → pending → check-status posts when ready.
    let mut mp4 = vec![0, 0, 0, 0x18];
    mp4.extend_from_slice(b"ftypmp42");
    mp4.resize(4096, 0);
    let video = stored(&s.app, "ws/clip.mp4", "video/mp4", mp4).await;
    let out = publish(
        &s,
        &conn,
        post("t-video", "video", "A clip", vec![video.to_ref()]),
        vec![video.clone()],
    )
    .await;
    let PublishOutcome::Pending(pending) = out.unwrap() else {
        panic!("video should be pending")
    };
    let mut outcome = PublishOutcome::Pending(pending);
    for _ in 0..50 {
        let PublishOutcome::Pending(p) = &outcome else {
            break;
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        outcome = s
            .app
            .runtime
            .platform(
                "mastodon",
                "check-status",
                account_ctx(&s.sim, &conn, vec![]),
            )
            .await
            .unwrap()
            .check_status(p.handle.clone())
            .await
            .unwrap()
            .unwrap();
    }
    let PublishOutcome::Published(video_post) = outcome else {
        panic!("video never published")
    };

    // Thread: replies chained to the first status.
    let mut thread = post("t-thread", "text", "1/3 a thread", vec![]);
    thread.thread = vec![
        ThreadItem {
            text: "2/3".into(),
            media: vec![],
        },
        ThreadItem {
            text: "3/3".into(),
            media: vec![],
        },
    ];
    let PublishOutcome::Published(threaded) = publish(&s, &conn, thread, vec![]).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(threaded.thread_ids.len(), 2);

    let statuses = s.sim.statuses();
    let by_id = |id: &str| statuses.iter().find(|st| st.id == id).unwrap().clone();
    assert_eq!(by_id(&text.remote_id).visibility, "unlisted");
    assert_eq!(by_id(&image.remote_id).media_ids.len(), 1);
    assert_eq!(by_id(&video_post.remote_id).media_ids.len(), 1);
    assert_eq!(
        by_id(&threaded.thread_ids[0]).in_reply_to_id.as_deref(),
        Some(threaded.remote_id.as_str())
    );
    assert_eq!(
        by_id(&threaded.thread_ids[1]).in_reply_to_id.as_deref(),
        Some(threaded.thread_ids[0].as_str())
    );
    assert_eq!(
        by_id(&text.remote_id).idempotency_key.as_deref(),
        Some("t-text-0")
    );

    // Delete.
    s.app
        .runtime
        .platform("mastodon", "delete", account_ctx(&s.sim, &conn, vec![]))
        .await
        .unwrap()
        .delete(text.remote_id.clone())
        .await
        .unwrap()
        .unwrap();
    assert!(
        s.sim
            .statuses()
            .iter()
            .any(|st| st.id == text.remote_id && st.deleted)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_never_double_post_and_reconcile_finds_lost_answers() {
    let s = setup().await;
    let conn = connect(&s).await;
    let p = post("t-retry", "text", "Posted once, whatever happens", vec![]);
    let first = publish(&s, &conn, p.clone(), vec![]).await.unwrap();
    let again = publish(&s, &conn, p.clone(), vec![]).await.unwrap();
    let (PublishOutcome::Published(a), PublishOutcome::Published(b)) = (first, again) else {
        panic!()
    };
    assert_eq!(a.remote_id, b.remote_id);
    let created: Vec<_> = s
        .sim
        .statuses()
        .into_iter()
        .filter(|st| st.text == p.text)
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].idempotent_replays, 1);

    // The instance creates the status but the answer is lost: the publish fails as
    // transient, and reconcile finds the status instead of posting again.
    s.sim.inject(Fault::new(
        "POST",
        "/api/v1/statuses",
        FaultAction::DropAfterHandling { hang_ms: None },
    ));
    let lost = post("t-lost", "text", "The answer to this one is lost", vec![]);
    let err = publish(&s, &conn, lost.clone(), vec![]).await.unwrap_err();
    assert!(matches!(err, PluginError::Transient(_)), "{err:?}");
    let found = s
        .app
        .runtime
        .platform("mastodon", "reconcile", account_ctx(&s.sim, &conn, vec![]))
        .await
        .unwrap()
        .reconcile(lost.clone())
        .await
        .unwrap()
        .unwrap();
    let ReconcileOutcome::Published(found) = found else {
        panic!("reconcile did not find it: {found:?}")
    };
    assert_eq!(
        s.sim
            .statuses()
            .iter()
            .filter(|st| st.text == lost.text)
            .count(),
        1
    );
    assert!(s.sim.statuses().iter().any(|st| st.id == found.remote_id));

    let never = s
        .app
        .runtime
        .platform("mastodon", "reconcile", account_ctx(&s.sim, &conn, vec![]))
        .await
        .unwrap()
        .reconcile(post("t-never", "text", "never sent", vec![]))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(never, ReconcileOutcome::NotPublished));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_and_errors_map_to_the_contract() {
    let s = setup().await;
    let conn = connect(&s).await;
    let before = s.sim.requests().len();

    // Over the limit (URLs count 23): refused by validate, before any request.
    let long = format!(
        "{} https://example.com/{}",
        "x".repeat(480),
        "y".repeat(200)
    );
    let problems = s
        .app
        .runtime
        .platform("mastodon", "validate", account_ctx(&s.sim, &conn, vec![]))
        .await
        .unwrap()
        .validate(post("t-long", "text", &long, vec![]))
        .await
        .unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("counts 504"),
        "{}",
        problems[0].message
    );
    let ok_len = format!(
        "{} https://example.com/{}",
        "x".repeat(400),
        "y".repeat(200)
    );
    let err = publish(&s, &conn, post("t-long", "text", &long, vec![]), vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, PluginError::InvalidContent(_)), "{err:?}");
    let mut bad_visibility = post("t-vis", "text", "hi", vec![]);
    bad_visibility.options = vec![("visibility".into(), "everyone".into())];
    assert!(matches!(
        publish(&s, &conn, bad_visibility, vec![]).await,
        Err(PluginError::InvalidContent(_))
    ));
    assert_eq!(
        s.sim.requests().len(),
        before,
        "validation must not reach the platform"
    );
    assert!(
        publish(&s, &conn, post("t-ok-len", "text", &ok_len, vec![]), vec![])
            .await
            .is_ok()
    );

    // 429 with the reset time.
    s.sim.inject(Fault::new(
        "POST",
        "/api/v1/statuses",
        FaultAction::RateLimited {
            reset_after_secs: 120,
        },
    ));
    let err = publish(
        &s,
        &conn,
        post("t-429", "text", "rate limited", vec![]),
        vec![],
    )
    .await
    .unwrap_err();
    let PluginError::RateLimited(rl) = err else {
        panic!("{err:?}")
    };
    assert!(
        (100..=121).contains(&rl.retry_after_secs),
        "{}",
        rl.retry_after_secs
    );

    // 5xx is transient.
    s.sim.inject(Fault::new(
        "POST",
        "/api/v1/statuses",
        FaultAction::ServerError {
            status: 503,
            body: "{\"error\":\"busy\"}".into(),
        },
    ));
    assert!(matches!(
        publish(
            &s,
            &conn,
            post("t-503", "text", "server error", vec![]),
            vec![]
        )
        .await,
        Err(PluginError::Transient(_))
    ));

    // A revoked token is auth-expired.
    s.app
        .runtime
        .platform("mastodon", "revoke", account_ctx(&s.sim, &conn, vec![]))
        .await
        .unwrap()
        .revoke()
        .await
        .unwrap()
        .unwrap();
    let err = publish(
        &s,
        &conn,
        post("t-401", "text", "after revoke", vec![]),
        vec![],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PluginError::AuthExpired(_)), "{err:?}");
}
