//! The Bluesky plugin end to end: HTTP API → publish job → plugin → Bluesky PDS simulator.
//! Each test connects an account with a handle and app password through the API, uploads
//! media through the API, publishes, and asserts the XRPC calls the simulator recorded.

use plugboard_e2e::api::{client, send};
use plugboard_e2e::platform::{self, Studio, png};
use plugboard_e2e::test_server;
use plugboard_simulators::bluesky::{BlueskyFault, BlueskyFaultAction};
use plugboard_simulators::{BlueskyConfig, BlueskySim};
use serde_json::{Value, json};

struct Ctx {
    studio: Studio,
    sim: BlueskySim,
    account: String,
}

impl std::ops::Deref for Ctx {
    type Target = Studio;
    fn deref(&self) -> &Studio {
        &self.studio
    }
}

const CREATE: &str = "POST com.atproto.repo.createRecord";
const GET_RECORD: &str = "GET com.atproto.repo.getRecord";
const SESSION: &str = "POST com.atproto.server.createSession";

/// The XRPC calls after the two sign-in attempts of [`studio`].
fn publish_calls(s: &Ctx) -> Vec<String> {
    s.sim.calls()[2..].to_vec()
}

async fn studio() -> Ctx {
    let server = test_server().await;
    platform::install(&server, "bluesky").await;
    let sim = BlueskySim::start(BlueskyConfig::default()).await.unwrap();
    let studio = Studio::open(server, "owner@example.com", "Studio").await;
    let app = studio
        .create_app(
            "bluesky",
            "Simulated PDS",
            json!({"service_url": sim.base_url()}),
        )
        .await;
    let http = client();
    // A wrong app password is the platform's refusal, in words.
    let (status, refused) = send(
        http.post(studio.url("/accounts/connect/bluesky/credentials"))
            .bearer_auth(&studio.token)
            .json(&json!({"app_id": app["id"], "fields": {"handle": "alice.bsky.social", "app_password": "wrong-pass-word-here"}})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("Invalid identifier or password"),
        "{refused}"
    );
    let (status, connected) = send(
        http.post(studio.url("/accounts/connect/bluesky/credentials"))
            .bearer_auth(&studio.token)
            .json(&json!({"app_id": app["id"], "fields": {"handle": "@alice.bsky.social", "app_password": sim.config().app_password}})),
    )
    .await;
    assert_eq!(status, 201, "{connected}");
    let account = &connected["accounts"][0];
    assert_eq!(account["remote_id"], sim.config().did);
    assert_eq!(account["properties"]["pds_url"], sim.base_url());
    assert!(account["expires_at"].is_string(), "{account}");
    assert_eq!(sim.calls(), [SESSION, SESSION]);
    Ctx {
        account: account["id"].as_str().unwrap().to_string(),
        studio,
        sim,
    }
}

async fn upload(s: &Ctx, bytes: Vec<u8>, alt: &str) -> String {
    s.upload("a.png", "image/png", bytes, Some(alt)).await
}

async fn create_post(s: &Ctx, mut body: Value) -> String {
    body["targets"] = json!([s.account]);
    s.post(&body).await
}

async fn wait_for(s: &Ctx, post_id: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    s.wait(post_id, secs, done, || format!("{:#?}", s.sim.calls()))
        .await
        .0
}

async fn settled(s: &Ctx, post_id: &str) -> Value {
    wait_for(s, post_id, 40, |t| {
        ["published", "failed", "in_doubt"].contains(&t["status"].as_str().unwrap_or(""))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_post_with_facets_on_byte_offsets() {
    let s = studio().await;
    let text = "✨ Hi @bob.bsky.social, read https://example.com/launch. #plugboard";
    let post = create_post(
        &s,
        json!({"kind": "text", "text": text, "options": {"langs": "en"}}),
    )
    .await;
    s.publish_now(&post).await;
    let t = settled(&s, &post).await;
    assert_eq!(t["status"], "published", "{t}");
    assert_eq!(
        publish_calls(&s),
        ["GET com.atproto.identity.resolveHandle", CREATE]
    );
    let records = s.sim.records();
    assert_eq!(records.len(), 1);
    let value = &records[0].value;
    assert_eq!(value["text"], text);
    assert_eq!(value["langs"], json!(["en"]));
    let facets = value["facets"].as_array().unwrap();
    assert_eq!(facets.len(), 3, "{value}");
    let span = |i: usize| {
        let f = &facets[i]["index"];
        &text[f["byteStart"].as_u64().unwrap() as usize..f["byteEnd"].as_u64().unwrap() as usize]
    };
    assert_eq!(span(0), "@bob.bsky.social");
    assert_eq!(
        facets[0]["features"][0]["did"],
        s.sim.config().known_handles[0].1.as_str()
    );
    assert_eq!(span(1), "https://example.com/launch");
    assert_eq!(
        facets[1]["features"][0]["uri"],
        "https://example.com/launch"
    );
    assert_eq!(span(2), "#plugboard");
    assert_eq!(facets[2]["features"][0]["tag"], "plugboard");
    assert_eq!(t["remote_id"], records[0].uri.as_str());
    assert_eq!(
        t["remote_url"],
        format!(
            "https://bsky.app/profile/alice.bsky.social/post/{}",
            records[0].rkey
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_post_uploads_blobs_with_alt_and_aspect_ratio() {
    let s = studio().await;
    let a = upload(&s, png(640, 480), "A wide picture").await;
    let b = upload(&s, png(300, 600), "A tall picture").await;
    let post = create_post(
        &s,
        json!({"kind": "image", "text": "Two pictures", "media": [a, b]}),
    )
    .await;
    s.publish_now(&post).await;
    let t = settled(&s, &post).await;
    assert_eq!(t["status"], "published", "{t}");
    assert_eq!(
        publish_calls(&s),
        [
            "POST com.atproto.repo.uploadBlob",
            "POST com.atproto.repo.uploadBlob",
            CREATE
        ]
    );
    let uploads = s.sim.requests()[2..].to_vec();
    assert_eq!(uploads[0].content_type.as_deref(), Some("image/png"));
    let images = s.sim.records()[0].value["embed"]["images"].clone();
    assert_eq!(images[0]["alt"], "A wide picture");
    assert_eq!(
        images[0]["aspectRatio"],
        json!({"width": 640, "height": 480})
    );
    assert_eq!(
        images[1]["aspectRatio"],
        json!({"width": 300, "height": 600})
    );
    assert_eq!(images[1]["image"]["size"], uploads[1].body_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_chain_carries_root_and_parent_strong_refs() {
    let s = studio().await;
    let image = upload(&s, png(200, 200), "square").await;
    let post = create_post(
        &s,
        json!({
            "kind": "thread",
            "text": "1/3 a thread",
            "thread": [{"text": "2/3 with a picture", "media": [image]}, {"text": "3/3 done"}],
        }),
    )
    .await;
    s.publish_now(&post).await;
    let t = settled(&s, &post).await;
    assert_eq!(t["status"], "published", "{t}");
    assert_eq!(
        publish_calls(&s),
        [CREATE, "POST com.atproto.repo.uploadBlob", CREATE, CREATE]
    );
    let r = s.sim.records();
    let strong = |i: usize| json!({"uri": r[i].uri, "cid": r[i].cid});
    assert!(r[0].value.get("reply").is_none());
    assert_eq!(
        r[1].value["reply"],
        json!({"root": strong(0), "parent": strong(0)})
    );
    assert_eq!(
        r[2].value["reply"],
        json!({"root": strong(0), "parent": strong(1)})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refreshed_and_the_publish_retried() {
    let s = studio().await;
    s.sim.inject(BlueskyFault::new(
        "com.atproto.repo.createRecord",
        BlueskyFaultAction::ExpireAccessTokens,
    ));
    let post = create_post(&s, json!({"kind": "text", "text": "After a refresh"})).await;
    s.publish_now(&post).await;
    let t = settled(&s, &post).await;
    assert_eq!(t["status"], "published", "{t}");
    // The retry finds the key it saved, checks it was not created, and creates it once.
    assert_eq!(
        publish_calls(&s),
        [
            CREATE,
            "POST com.atproto.server.refreshSession",
            GET_RECORD,
            CREATE
        ]
    );
    let statuses: Vec<Option<u16>> = s.sim.requests()[2..].iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(400), Some(200), Some(400), Some(200)]);
    assert_eq!(s.sim.records().len(), 1);
    let (_, account) = send(
        client()
            .get(s.url(&format!("/accounts/{}", s.account)))
            .bearer_auth(&s.token),
    )
    .await;
    assert!(account["last_refresh_at"].is_string(), "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_defers_until_the_reset_header() {
    let s = studio().await;
    s.sim.inject(BlueskyFault::new(
        "com.atproto.repo.createRecord",
        BlueskyFaultAction::RateLimited {
            reset_after_secs: 900,
        },
    ));
    let post = create_post(&s, json!({"kind": "text", "text": "Later"})).await;
    s.publish_now(&post).await;
    let t = wait_for(&s, &post, 30, |t| {
        t["deferred_reason"]
            .as_str()
            .is_some_and(|r| r.contains("rate limit"))
    })
    .await;
    assert_eq!(t["status"], "queued", "{t}");
    let reason = t["deferred_reason"].as_str().unwrap();
    assert!(
        reason.contains("in 900 s") || reason.contains("in 899 s"),
        "{reason}"
    );
    assert!(reason.contains("RateLimitExceeded"), "{reason}");
    assert!(s.sim.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_chain_resumes_at_the_item_it_stopped_at() {
    let s = studio().await;
    s.sim.inject(
        BlueskyFault::new(
            "com.atproto.repo.createRecord",
            BlueskyFaultAction::ServerError {
                status: 502,
                body: "Bad Gateway".into(),
            },
        )
        .after(1),
    );
    let post = create_post(&s, json!({"kind": "text", "text": "1/3 first", "thread": [{"text": "2/3 second"}, {"text": "3/3 third"}]})).await;
    s.publish_now(&post).await;
    let t = settled(&s, &post).await;
    assert_eq!(t["status"], "published", "{t}");
    assert_eq!(
        publish_calls(&s),
        [
            CREATE,     // item 1: created, its ref saved
            CREATE,     // item 2: 502
            GET_RECORD, // reconcile: item 2's saved key has no record
            GET_RECORD, // the retry skips item 1 and checks item 2's key once more
            CREATE,     // item 2
            CREATE,     // item 3
        ]
    );
    let r = s.sim.records();
    let texts: Vec<&str> = r
        .iter()
        .map(|x| x.value["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["1/3 first", "2/3 second", "3/3 third"]);
    assert_eq!(r[2].value["reply"]["root"]["uri"], r[0].uri.as_str());
    assert_eq!(t["remote_id"], r[0].uri.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_counts_graphemes_and_image_sizes() {
    let s = studio().await;
    let before = s.sim.requests().len();
    let big = upload(&s, png(700, 700), "noise").await;
    // 301 thumbs-up with a skin tone: 301 graphemes (2,408 UTF-8 bytes, under the byte cap).
    let text = "👍🏽".repeat(301);
    let post = create_post(
        &s,
        json!({"kind": "image", "text": text, "media": [big], "options": {"langs": "en,de,fr,it"}}),
    )
    .await;
    let (status, report) = send(
        client()
            .post(s.url(&format!("/posts/{post}/validate")))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false);
    let problems = report["targets"][0]["problems"].as_array().unwrap();
    let by_code = |code: &str| {
        problems
            .iter()
            .find(|p| p["code"] == code)
            .unwrap_or_else(|| panic!("{code}: {report}"))
    };
    assert!(
        by_code("text-too-long")["message"]
            .as_str()
            .unwrap()
            .contains("counts 301 (1 too many)"),
        "{report}"
    );
    assert_eq!(by_code("invalid-option")["field"], "options.langs");
    let fits = "👍🏽".repeat(300);
    let ok = create_post(&s, json!({"kind": "text", "text": fits})).await;
    let (_, report) = send(
        client()
            .post(s.url(&format!("/posts/{ok}/validate")))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(
        s.sim.requests().len(),
        before,
        "validation must not call Bluesky"
    );
}
