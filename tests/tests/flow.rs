//! The whole user journey over HTTP against the real server, on SQLite and on PostgreSQL:
//! sign-up → workspace → invite a teammate → register the Mastodon app → connect an account
//! through the simulator's OAuth → upload an image → draft with a variant → validate →
//! schedule → published at the simulator → activity log and events.

use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard_e2e::api::{client, create_workspace, invite_and_join, send, signup};
use plugboard_e2e::{TestServer, pg_database, plugin, test_server_with};
use plugboard_simulators::{MastodonConfig, MastodonSim};
use serde_json::{Value, json};
use std::time::Duration;

async fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 255) as u8, (y % 255) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

type Deliveries = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A webhook receiver on 127.0.0.1 keeping (signature header, body) of each delivery.
async fn receiver() -> (String, Deliveries) {
    let got: Deliveries = Default::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let store = store.clone();
            async move {
                let sig = headers
                    .get("plugboard-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                store.lock().unwrap().push((sig, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

async fn journey(server: TestServer) {
    let base = server.base.clone();
    let api = format!("{base}/api/v1");
    let http = client();
    let bytes = plugin("mastodon");
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
    let sim = MastodonSim::start(MastodonConfig::default()).await.unwrap();

    let owner = signup(&base, "owner@example.com").await;
    let ws = create_workspace(&base, &owner.access_token, "Studio").await;
    let editor = invite_and_join(
        &base,
        &owner.access_token,
        &ws,
        "editor",
        "editor@example.com",
    )
    .await;
    let auth = |t: &str| format!("Bearer {t}");

    // The workspace registers its Mastodon app (instance only: the plugin registers itself).
    let (status, app_view) = send(
        http.post(format!("{api}/workspaces/{ws}/apps"))
            .header("Authorization", auth(&owner.access_token))
            .json(&json!({"plugin": "mastodon", "name": "Our instance", "settings": {"instance_url": sim.base_url()}})),
    )
    .await;
    assert_eq!(status, 201, "{app_view}");
    let app_id = app_view["id"].as_str().unwrap().to_string();

    // The editor connects an account: authorize URL → the instance → our callback.
    let (status, started) = send(
        http.post(format!("{api}/workspaces/{ws}/accounts/connect/mastodon"))
            .header("Authorization", auth(&editor.access_token))
            .json(&json!({"app_id": app_id})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let at_instance = no_redirects
        .get(started["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(at_instance.status(), 302);
    let callback = at_instance.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        callback.starts_with(&format!("{base}/api/v1/accounts/callback")),
        "{callback}"
    );
    let (status, connected) = send(no_redirects.get(&callback)).await;
    assert!(status == 200 || status == 201, "{connected}");
    let (_, accounts) = send(
        http.get(format!("{api}/workspaces/{ws}/accounts"))
            .header("Authorization", auth(&editor.access_token)),
    )
    .await;
    let account = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["plugin"] == "mastodon")
        .unwrap()
        .clone();
    assert_eq!(account["status"], "active");
    assert_eq!(account["username"], "alice");
    let account_id = account["id"].as_str().unwrap().to_string();

    // An image into the library.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(png(640, 480).await)
                .file_name("cover.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .text("alt_text", "A cover image");
    let (status, media) = send(
        http.post(format!("{api}/workspaces/{ws}/media"))
            .header("Authorization", auth(&editor.access_token))
            .multipart(form),
    )
    .await;
    assert_eq!(status, 201, "{media}");
    assert_eq!(
        (media["width"].as_u64(), media["height"].as_u64()),
        (Some(640), Some(480))
    );
    let media_id = media["id"].as_str().unwrap().to_string();

    // A draft with a Mastodon variant.
    let resp = http
        .post(format!("{api}/workspaces/{ws}/posts"))
        .header("Authorization", auth(&editor.access_token))
        .json(&json!({
            "kind": "image",
            "text": "Base text for every platform",
            "media": [media_id],
            "variants": {"mastodon": {"text": "Hello fediverse! https://example.com/launch", "options": {"visibility": "unlisted"}}},
            "targets": [account_id],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let post: Value = resp.json().await.unwrap();
    let post_id = post["id"].as_str().unwrap().to_string();

    // Two editors: the second save with the old ETag is refused.
    let patch = |tag: &str, text: &str| {
        http.patch(format!("{api}/workspaces/{ws}/posts/{post_id}"))
            .header("Authorization", auth(&editor.access_token))
            .header("If-Match", tag)
            .json(&json!({"text": text}))
    };
    let (status, _) = send(patch(&etag, "Base text, edited")).await;
    assert_eq!(status, 200);
    let (status, conflict) = send(patch(&etag, "A stale edit")).await;
    assert_eq!(status, 412, "{conflict}");

    // Too long for Mastodon once the variant is swapped: validate names the problem.
    let (status, report) = send(
        http.post(format!("{api}/workspaces/{ws}/posts/{post_id}/validate"))
            .header("Authorization", auth(&editor.access_token)),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], true, "{report}");

    // An outgoing webhook for published posts, to a local receiver.
    let (hook_url, received) = receiver().await;
    let (status, endpoint) = send(
        http.post(format!("{api}/workspaces/{ws}/webhooks"))
            .header("Authorization", auth(&owner.access_token))
            .json(&json!({"url": hook_url, "events": ["post.published"]})),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    let hook_secret = endpoint["secret"].as_str().unwrap().to_string();

    // Schedule now; the worker publishes through the plugin.
    let mut events = http
        .get(format!("{api}/workspaces/{ws}/events"))
        .header("Authorization", auth(&editor.access_token))
        .send()
        .await
        .unwrap();
    let (status, scheduled) = send(
        http.post(format!("{api}/workspaces/{ws}/posts/{post_id}/schedule"))
            .header("Authorization", auth(&editor.access_token))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200, "{scheduled}");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains("\"status\":\"published\"") && tokio::time::Instant::now() < deadline {
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(Duration::from_secs(1), events.chunk()).await
        {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(seen.contains("event: target.status"), "{seen}");
    assert!(seen.contains("\"status\":\"published\""), "{seen}");
    drop(events);
    let (_, post) = send(
        http.get(format!("{api}/workspaces/{ws}/posts/{post_id}"))
            .header("Authorization", auth(&editor.access_token)),
    )
    .await;
    let target = &post["targets"][0];
    assert_eq!(target["status"], "published", "{post}");
    let statuses = sim.statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(
        statuses[0].text,
        "Hello fediverse! https://example.com/launch"
    );
    assert_eq!(statuses[0].visibility, "unlisted");
    assert_eq!(statuses[0].media_ids.len(), 1);
    assert_eq!(target["remote_id"].as_str(), Some(statuses[0].id.as_str()));

    // The webhook arrived, signed with the endpoint's secret over `t.body`.
    let mut delivered = None;
    for _ in 0..100 {
        if let Some(d) = received.lock().unwrap().first().cloned() {
            delivered = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (signature, body) = delivered.expect("no webhook delivery arrived");
    let t: i64 = signature
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("t=")
        .parse()
        .unwrap();
    assert_eq!(
        signature,
        plugboard::webhooks::signature(&hook_secret, t, &body)
    );
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["event"], "post.published");
    assert_eq!(payload["data"]["post_id"], post_id.as_str());
    let hook_id = endpoint["id"].as_str().unwrap();
    let (_, log) = send(
        http.get(format!(
            "{api}/workspaces/{ws}/webhooks/{hook_id}/deliveries"
        ))
        .header("Authorization", auth(&owner.access_token)),
    )
    .await;
    assert_eq!(log[0]["delivered"], true, "{log}");

    // The activity log tells who did what.
    let (_, activity) = send(
        http.get(format!("{api}/workspaces/{ws}/activity"))
            .header("Authorization", auth(&owner.access_token)),
    )
    .await;
    let text = activity.to_string();
    for action in ["member.joined", "post.created", "post.scheduled"] {
        assert!(text.contains(action), "{action} missing: {text}");
    }
    assert!(text.contains("account."), "no account entry: {text}");

    // A viewer cannot schedule; another workspace's post id is 404.
    let viewer = invite_and_join(
        &base,
        &owner.access_token,
        &ws,
        "viewer",
        "viewer@example.com",
    )
    .await;
    let (status, _) = send(
        http.post(format!("{api}/workspaces/{ws}/posts/{post_id}/schedule"))
            .header("Authorization", auth(&viewer.access_token))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 403);
    let other = signup(&base, "other@example.com").await;
    let other_ws = create_workspace(&base, &other.access_token, "Elsewhere").await;
    let (status, _) = send(
        http.get(format!("{api}/workspaces/{other_ws}/posts/{post_id}"))
            .header("Authorization", auth(&other.access_token)),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(
        http.get(format!("{api}/workspaces/{ws}/posts/{post_id}"))
            .header("Authorization", auth(&other.access_token)),
    )
    .await;
    assert_eq!(status, 404);
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_on_sqlite() {
    journey(test_server_with(tempfile::tempdir().unwrap(), |_| {}).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_on_postgres() {
    let url = pg_database().await;
    journey(
        test_server_with(tempfile::tempdir().unwrap(), move |c| {
            c.database_url = Some(url)
        })
        .await,
    )
    .await;
}
