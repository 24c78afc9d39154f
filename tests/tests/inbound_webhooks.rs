//! Inbound webhooks end to end with the Facebook plugin and the Graph simulator, on SQLite
//! and on PostgreSQL: Meta's `hub.challenge` handshake, a comment delivered with a valid
//! X-Hub-Signature-256 lands in the inbox, a forged signature is refused with nothing
//! stored, a replayed or concurrent duplicate delivery is ignored, and the approved reply
//! reaches the simulator through the plugin.

use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard_e2e::api::{client, create_workspace, problem, send, signup};
use plugboard_e2e::{TestServer, pg_database, plugin, test_server, test_server_with};
use plugboard_simulators::{FacebookConfig, FacebookSim};
use serde_json::{Value, json};
use std::time::Duration;

/// Meta's `X-Hub-Signature-256`: HMAC-SHA256 of the raw body with the app secret, written
/// out here (RFC 2104) so the test checks the plugin against an independent computation.
fn sign(secret: &str, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut key = [0u8; 64];
    key[..secret.len()].copy_from_slice(secret.as_bytes());
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    let hex: String = outer.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A test server on a fresh PostgreSQL database (`PLUGBOARD_TEST_PG`, started by
/// scripts/pg.sh), so the same scenario runs on both backends.
async fn postgres_server() -> TestServer {
    let url = pg_database().await;
    let server =
        test_server_with(tempfile::tempdir().unwrap(), |c| c.database_url = Some(url)).await;
    assert!(server.app().db.is_postgres());
    server
}

async fn inbox(api: &str, token: &str) -> Vec<Value> {
    let (status, page) = send(client().get(format!("{api}/inbox")).bearer_auth(token)).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_meta_comments_land_in_the_inbox_and_forgeries_and_replays_do_not() {
    signed_meta_comments_land_in_the_inbox_and_forgeries_and_replays_do_not_on(test_server().await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_meta_comments_land_in_the_inbox_and_forgeries_and_replays_do_not_on_postgres() {
    signed_meta_comments_land_in_the_inbox_and_forgeries_and_replays_do_not_on(
        postgres_server().await,
    )
    .await;
}

async fn signed_meta_comments_land_in_the_inbox_and_forgeries_and_replays_do_not_on(
    server: TestServer,
) {
    let bytes = plugin("facebook");
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
    let sim = FacebookSim::start(FacebookConfig::default()).await.unwrap();
    let secret = sim.config().app_secret.clone();
    let base = server.base.clone();
    let http = client();
    let owner = signup(&base, "owner@example.com").await;
    let token = owner.access_token.clone();
    let ws = create_workspace(&base, &token, "Bakery").await;
    let api = format!("{base}/api/v1/workspaces/{ws}");
    let (status, app) = send(
        http.post(format!("{api}/apps"))
            .bearer_auth(&token)
            .json(&json!({
                "plugin": "facebook",
                "name": "Our Facebook app",
                "settings": {
                    "client_id": sim.config().app_id,
                    "client_secret": secret,
                    "graph_url": sim.base_url(),
                    "webhook_verify_token": "verify-me",
                },
            })),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_string();
    let hook = format!("{base}/webhooks/facebook/{app_id}");

    // Connect the user and select the first Page.
    let (status, started) = send(
        http.post(format!("{api}/accounts/connect/facebook"))
            .bearer_auth(&token)
            .json(&json!({"app_id": app_id})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let dialog = no_redirects
        .get(started["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = dialog.headers()["location"].to_str().unwrap().to_string();
    let (status, connected) = send(no_redirects.get(&callback)).await;
    assert!(status == 200 || status == 201, "{connected}");
    let (_, accounts) = send(http.get(format!("{api}/accounts")).bearer_auth(&token)).await;
    let user = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "user")
        .unwrap()
        .clone();
    let page_id = sim.pages()[0].id.clone();
    let (status, selected) = send(
        http.post(format!(
            "{api}/accounts/{}/select",
            user["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .json(&json!({"remote_ids": [page_id]})),
    )
    .await;
    assert_eq!(status, 200, "{selected}");
    let page = selected["accounts"][0]["id"].as_str().unwrap().to_string();

    // A post on the Page, and a visitor's comment on it at the simulator.
    let (status, post) = send(
        http.post(format!("{api}/posts"))
            .bearer_auth(&token)
            .json(&json!({"kind": "text", "text": "Fresh bread at 7", "targets": [page]})),
    )
    .await;
    assert_eq!(status, 201, "{post}");
    let post_id = post["id"].as_str().unwrap();
    let (status, body) = send(
        http.post(format!("{api}/posts/{post_id}/schedule"))
            .bearer_auth(&token)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let target = loop {
        let (_, p) = send(
            http.get(format!("{api}/posts/{post_id}"))
                .bearer_auth(&token),
        )
        .await;
        if p["targets"][0]["status"] == "published" {
            break p["targets"][0].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "not published: {p}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    let remote_post = target["remote_id"].as_str().unwrap().to_string();
    let comment_id = sim.add_comment(&remote_post, "Bob", "Still warm?");

    // Meta's handshake: the challenge comes back for our verify token only.
    let resp = http
        .get(format!(
            "{hook}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "1158201444");
    let resp = http
        .get(format!(
            "{hook}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let payload = json!({
        "object": "page",
        "entry": [{
            "id": page_id,
            "time": 1_700_000_000u64,
            "changes": [{
                "field": "feed",
                "value": {
                    "item": "comment", "verb": "add",
                    "comment_id": comment_id, "post_id": remote_post, "parent_id": remote_post,
                    "from": {"id": "7", "name": "Bob"},
                    "message": "Still warm?", "created_time": 1_700_000_000u64,
                },
            }],
        }],
    });
    let body = serde_json::to_vec(&payload).unwrap();

    // A forged signature: refused, nothing stored.
    let forged = http
        .post(&hook)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign("not-the-secret", &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let unsigned = http.post(&hook).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    // The signature covers the raw bytes: the same JSON re-serialised differently fails.
    let mut spaced = body.clone();
    spaced.push(b' ');
    let altered = http
        .post(&hook)
        .header("x-hub-signature-256", sign(&secret, &body))
        .body(spaced)
        .send()
        .await
        .unwrap();
    assert_eq!(altered.status(), 401);
    assert!(inbox(&api, &token).await.is_empty());

    // Signed: the comment lands in the inbox of the Page's account, once, although Meta
    // delivered it twice at the same moment.
    let signed = sign(&secret, &body);
    let deliver = || {
        http.post(&hook)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &signed)
            .body(body.clone())
            .send()
    };
    let (first, twin) = tokio::join!(deliver(), deliver());
    for resp in [first.unwrap(), twin.unwrap()] {
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "EVENT_RECEIVED");
    }
    let items = inbox(&api, &token).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["account_id"], page.as_str());
    assert_eq!(item["remote_id"], comment_id.as_str());
    assert_eq!(item["text"], "Still warm?");
    assert_eq!(item["source"], "webhook");
    assert_eq!(item["target_id"], target["id"]);
    let item_id = item["id"].as_str().unwrap().to_string();

    // Meta retries the same delivery: accepted, ignored.
    let replay = http
        .post(&hook)
        .header("x-hub-signature-256", &signed)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(inbox(&api, &token).await.len(), 1);
    // A later delivery about the same comment (an edit: a new event) finds the comment
    // already in the inbox: still one item, received once.
    let mut edit = payload.clone();
    edit["entry"][0]["time"] = json!(1_700_000_100u64);
    edit["entry"][0]["changes"][0]["value"]["verb"] = json!("edited");
    let edit = serde_json::to_vec(&edit).unwrap();
    let resp = http
        .post(&hook)
        .header("x-hub-signature-256", sign(&secret, &edit))
        .body(edit)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(inbox(&api, &token).await.len(), 1);
    let db = &server.app().db;
    let sql = db.sql("SELECT COUNT(*) FROM inbound_events WHERE plugin_id = 'facebook'");
    let events: i64 =
        plugboard::on_db!(db, |p| sqlx::query_scalar(sql).fetch_one(p).await.unwrap());
    assert_eq!(events, 2, "the addition and the edit, each once");
    let (_, detail) = send(
        http.get(format!("{api}/inbox/{item_id}"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(detail["log"].as_array().unwrap().len(), 1, "{detail}");

    // Answered: the approved reply reaches the simulator as the Page's reply to Bob.
    let (status, queued) = send(
        http.post(format!("{api}/inbox/{item_id}/approve"))
            .bearer_auth(&token)
            .json(&json!({"text": "Out of the oven at 7!"})),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let detail = loop {
        let (_, d) = send(
            http.get(format!("{api}/inbox/{item_id}"))
                .bearer_auth(&token),
        )
        .await;
        if d["item"]["reply_status"] == "sent" {
            break d;
        }
        assert!(tokio::time::Instant::now() < deadline, "not sent: {d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reply = sim
        .comments()
        .into_iter()
        .find(|c| c.object_id == comment_id)
        .expect("the reply reached the simulator");
    assert_eq!(reply.message, "Out of the oven at 7!");
    assert_eq!(reply.from_id, page_id);
    assert_eq!(detail["item"]["reply_remote_id"], reply.id.as_str());

    // Unknown plugins and apps of another plugin are 404; another workspace sees nothing.
    problem(
        http.post(format!("{base}/webhooks/nosuch")).body("{}"),
        404,
        "not-found",
    )
    .await;
    problem(
        http.post(format!("{base}/webhooks/facebook/no-such-app"))
            .body("{}"),
        404,
        "not-found",
    )
    .await;
    let outsider = signup(&base, "out@example.com").await;
    let elsewhere = create_workspace(&base, &outsider.access_token, "Elsewhere").await;
    problem(
        http.get(format!(
            "{base}/api/v1/workspaces/{elsewhere}/inbox/{item_id}"
        ))
        .bearer_auth(&outsider.access_token),
        404,
        "not-found",
    )
    .await;
    server.running.stop().await;
}
