//! The Mastodon simulator driven over real HTTP, as plugins and e2e tests use it.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plugboard_simulators::{Fault, FaultAction, MastodonConfig, MastodonSim};
use reqwest::header::{AUTHORIZATION, LOCATION};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

async fn start(config: MastodonConfig) -> (MastodonSim, Client) {
    let sim = MastodonSim::start(config).await.expect("simulator starts");
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds");
    (sim, client)
}

async fn start_default() -> (MastodonSim, Client) {
    start(MastodonConfig::default()).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// Enough of a PNG for type sniffing and dimensions.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    data.extend_from_slice(&width.to_be_bytes());
    data.extend_from_slice(&height.to_be_bytes());
    data.extend_from_slice(&[8, 6, 0, 0, 0]);
    data
}

fn mp4() -> Vec<u8> {
    let mut data = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    data.resize(4096, 0);
    data
}

async fn post_status(
    sim: &MastodonSim,
    client: &Client,
    token: &str,
    body: Value,
    idempotency_key: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(format!("{}/api/v1/statuses", sim.base_url()))
        .header(AUTHORIZATION, bearer(token))
        .json(&body);
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("request is answered")
}

async fn upload(
    sim: &MastodonSim,
    client: &Client,
    token: &str,
    data: Vec<u8>,
    file_name: &str,
    mime: &str,
) -> reqwest::Response {
    let part = Part::bytes(data)
        .file_name(file_name.to_owned())
        .mime_str(mime)
        .expect("valid mime");
    let form = Form::new()
        .part("file", part)
        .text("description", "a test upload");
    client
        .post(format!("{}/api/v2/media", sim.base_url()))
        .header(AUTHORIZATION, bearer(token))
        .multipart(form)
        .send()
        .await
        .expect("upload is answered")
}

/// Polls the media entity as a client would until processing is over.
async fn wait_processed(client: &Client, media_url: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = json_of(
            client
                .get(media_url)
                .header(AUTHORIZATION, bearer(token))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if status == StatusCode::OK {
            return body;
        }
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{body}");
        assert!(Instant::now() < deadline, "processing never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn query_value(location: &str, key: &str) -> Option<String> {
    url::Url::parse(location)
        .expect("absolute location")
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

struct RegisteredApp {
    client_id: String,
    client_secret: String,
}

async fn register_app(sim: &MastodonSim, client: &Client) -> RegisteredApp {
    let (status, app) = json_of(
        client
            .post(format!("{}/api/v1/apps", sim.base_url()))
            .form(&[
                ("client_name", "Plugboard"),
                ("redirect_uris", REDIRECT_URI),
                ("scopes", "write:statuses write:media"),
                ("website", "https://plugboard.example"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    assert_eq!(app["name"], "Plugboard");
    assert_eq!(app["redirect_uri"], REDIRECT_URI);
    assert_eq!(app["scopes"], json!(["write:statuses", "write:media"]));
    RegisteredApp {
        client_id: app["client_id"].as_str().unwrap().to_owned(),
        client_secret: app["client_secret"].as_str().unwrap().to_owned(),
    }
}

async fn authorize(
    sim: &MastodonSim,
    client: &Client,
    app: &RegisteredApp,
    extra: &[(&str, &str)],
) -> String {
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "write:statuses write:media"),
        ("state", "xyz 123"),
    ];
    query.extend_from_slice(extra);
    let response = client
        .get(format!("{}/oauth/authorize", sim.base_url()))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

async fn exchange(
    sim: &MastodonSim,
    client: &Client,
    app: &RegisteredApp,
    code: &str,
    verifier: Option<&str>,
    secret: &str,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", app.client_id.as_str()),
        ("client_secret", secret),
        ("redirect_uri", REDIRECT_URI),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    json_of(
        client
            .post(format!("{}/oauth/token", sim.base_url()))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn oauth_with_pkce_issues_a_token_only_for_the_right_verifier() {
    let (sim, client) = start_default().await;
    let app = register_app(&sim, &client).await;
    let verifier = "a-very-long-verifier-with-enough-entropy-0123456789";
    let challenge = s256(verifier);
    let location = authorize(
        &sim,
        &client,
        &app,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(query_value(&location, "state").as_deref(), Some("xyz 123"));
    let code = query_value(&location, "code").expect("a code");

    let (status, body) = exchange(
        &sim,
        &client,
        &app,
        &code,
        Some("wrong"),
        &app.client_secret,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = exchange(&sim, &client, &app, &code, None, &app.client_secret).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    let (status, body) =
        exchange(&sim, &client, &app, &code, Some(verifier), "not-the-secret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({
            "error": "invalid_client",
            "error_description": "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
        })
    );

    let (status, token) = exchange(
        &sim,
        &client,
        &app,
        &code,
        Some(verifier),
        &app.client_secret,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "write:statuses write:media");
    assert!(token["created_at"].is_i64());
    let access_token = token["access_token"].as_str().unwrap();

    let (status, body) = exchange(
        &sim,
        &client,
        &app,
        &code,
        Some(verifier),
        &app.client_secret,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "codes are single use");
    assert_eq!(body["error"], "invalid_grant");

    let (status, me) = json_of(
        client
            .get(format!(
                "{}/api/v1/accounts/verify_credentials",
                sim.base_url()
            ))
            .header(AUTHORIZATION, bearer(access_token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "write scopes may verify credentials"
    );
    assert_eq!(me["username"], "alice");
    assert_eq!(me["acct"], "alice");
    assert!(me["id"].is_string());

    // Revocation ends the token.
    let (status, body) = json_of(
        client
            .post(format!("{}/oauth/revoke", sim.base_url()))
            .form(&[
                ("token", access_token),
                ("client_id", &app.client_id),
                ("client_secret", &app.client_secret),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let response = client
        .get(format!(
            "{}/api/v1/accounts/verify_credentials",
            sim.base_url()
        ))
        .header(AUTHORIZATION, bearer(access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn authorization_errors_follow_doorkeeper() {
    let (sim, client) = start_default().await;
    let app = register_app(&sim, &client).await;

    let location = authorize(
        &sim,
        &client,
        &app,
        &[
            ("code_challenge", "abc"),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    assert_eq!(
        query_value(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_value(&location, "state").as_deref(), Some("xyz 123"));
    assert_eq!(query_value(&location, "code"), None);

    let location = authorize(&sim, &client, &app, &[("scope", "read write")]).await;
    assert_eq!(
        query_value(&location, "error").as_deref(),
        Some("invalid_scope")
    );

    let location = authorize(&sim, &client, &app, &[("response_type", "token")]).await;
    assert_eq!(
        query_value(&location, "error").as_deref(),
        Some("unsupported_response_type")
    );

    let (status, body) = json_of(
        client
            .get(format!("{}/oauth/authorize", sim.base_url()))
            .query(&[
                ("response_type", "code"),
                ("client_id", "unknown"),
                ("redirect_uri", REDIRECT_URI),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client");

    let (status, body) = json_of(
        client
            .get(format!("{}/oauth/authorize", sim.base_url()))
            .query(&[
                ("response_type", "code"),
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", "http://evil.example/cb"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_redirect_uri");

    // A code issued without a challenge still works without a verifier.
    let location = authorize(&sim, &client, &app, &[]).await;
    let code = query_value(&location, "code").unwrap();
    let (status, _) = exchange(&sim, &client, &app, &code, None, &app.client_secret).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn client_credentials_tokens_cannot_act_as_a_user() {
    let (sim, client) = start_default().await;
    let app = register_app(&sim, &client).await;
    let (status, token) = json_of(
        client
            .post(format!("{}/oauth/token", sim.base_url()))
            .json(&json!({
                "grant_type": "client_credentials",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "scope": "write:statuses",
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let response = post_status(
        &sim,
        &client,
        token["access_token"].as_str().unwrap(),
        json!({ "status": "hi" }),
        None,
    )
    .await;
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "This method requires an authenticated user");
}

#[tokio::test]
async fn instance_advertises_the_limits() {
    let (sim, client) = start_default().await;
    let (status, instance) = json_of(
        client
            .get(format!("{}/api/v2/instance", sim.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(instance["version"], "4.3.0");
    let config = &instance["configuration"];
    assert_eq!(config["statuses"]["max_characters"], 500);
    assert_eq!(config["statuses"]["max_media_attachments"], 4);
    assert_eq!(config["statuses"]["characters_reserved_per_url"], 23);
    assert_eq!(config["media_attachments"]["image_size_limit"], 16_777_216);
    assert_eq!(config["media_attachments"]["video_size_limit"], 103_809_024);
    let types = config["media_attachments"]["supported_mime_types"]
        .as_array()
        .unwrap();
    assert!(types.contains(&json!("video/mp4")));
}

#[tokio::test]
async fn an_idempotency_key_never_creates_a_second_status() {
    let (sim, client) = start_default().await;
    let token = sim.seed_token("alice", "write:statuses");

    let (status, first) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "Hello <world> & you" }),
            Some("key-1"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["content"], "<p>Hello &lt;world&gt; &amp; you</p>");
    assert_eq!(first["visibility"], "public");
    assert_eq!(first["account"]["username"], "alice");
    assert!(first["url"].as_str().unwrap().starts_with(&sim.base_url()));

    // A retry, even with another body, gets the original back.
    let (status, again) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "changed" }),
            Some("key-1"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["content"], first["content"]);

    let (_, other) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "Hello <world> & you" }),
            Some("key-2"),
        )
        .await,
    )
    .await;
    assert_ne!(other["id"], first["id"]);

    let statuses = sim.statuses();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0].text, "Hello <world> & you");
    assert_eq!(statuses[0].idempotency_key.as_deref(), Some("key-1"));
    assert_eq!(statuses[0].idempotent_replays, 1);
    assert_eq!(statuses[0].username, "alice");
    assert_eq!(statuses[1].idempotent_replays, 0);

    let keys: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/statuses")
        .map(|r| (r.idempotency_key, r.has_authorization, r.status))
        .collect();
    assert_eq!(
        keys,
        [
            (Some("key-1".to_owned()), true, Some(200)),
            (Some("key-1".to_owned()), true, Some(200)),
            (Some("key-2".to_owned()), true, Some(200)),
        ]
    );

    // Another account's use of the same key is its own.
    let bob = sim.seed_token("bob", "write");
    let (_, bobs) = json_of(
        post_status(
            &sim,
            &client,
            &bob,
            json!({ "status": "bob" }),
            Some("key-1"),
        )
        .await,
    )
    .await;
    assert_ne!(bobs["id"], first["id"]);
    assert_eq!(bobs["account"]["username"], "bob");
}

#[tokio::test]
async fn status_validation_counts_urls_as_23_characters() {
    let (sim, client) = start_default().await;
    let token = sim.seed_token("alice", "write:statuses");
    let post = |body: Value| post_status(&sim, &client, &token, body, None);

    let (status, _) = json_of(post(json!({ "status": "a".repeat(500) })).await).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = json_of(post(json!({ "status": "a".repeat(501) })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({ "error": "Validation failed: Text character limit of 500 exceeded" })
    );

    let url = format!("https://example.com/{}", "p".repeat(200));
    let (status, _) =
        json_of(post(json!({ "status": format!("{} {url}", "a".repeat(476)) })).await).await;
    assert_eq!(status, StatusCode::OK, "476 + 1 + 23 = 500");
    let (status, _) =
        json_of(post(json!({ "status": format!("{} {url}", "a".repeat(477)) })).await).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "477 + 1 + 23 = 501"
    );

    let (status, body) = json_of(post(json!({ "status": "  " })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "Validation failed: Text can't be blank");

    let (status, body) =
        json_of(post(json!({ "status": "x", "visibility": "everyone" })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"],
        "Validation failed: Visibility is not included in the list"
    );

    let (status, body) =
        json_of(post(json!({ "status": "x", "in_reply_to_id": "12345" })).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({ "error": "Record not found" }));

    // Form encoding with every option.
    let (status, body) = json_of(
        client
            .post(format!("{}/api/v1/statuses", sim.base_url()))
            .header(AUTHORIZATION, bearer(&token))
            .form(&[
                ("status", "line one\nline two"),
                ("visibility", "unlisted"),
                ("spoiler_text", "cw"),
                ("language", "en"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["content"], "<p>line one<br />line two</p>");
    assert_eq!(body["visibility"], "unlisted");
    assert_eq!(
        body["sensitive"], true,
        "a content warning makes it sensitive"
    );
    assert_eq!(body["language"], "en");
    assert_eq!(sim.statuses().last().unwrap().spoiler_text, "cw");
}

#[tokio::test]
async fn images_are_ready_at_once_and_videos_process() {
    let (sim, client) = start(MastodonConfig {
        media_processing_ms: 1_000,
        ..MastodonConfig::default()
    })
    .await;
    let token = sim.seed_token("alice", "write:media");

    let (status, image) =
        json_of(upload(&sim, &client, &token, png(640, 480), "a.png", "image/png").await).await;
    assert_eq!(status, StatusCode::OK, "{image}");
    assert_eq!(image["type"], "image");
    assert_eq!(image["description"], "a test upload");
    assert_eq!(image["meta"]["original"]["width"], 640);
    let url = image["url"].as_str().expect("images have a URL at once");
    let served = client.get(url).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(
        served.bytes().await.unwrap().as_ref(),
        png(640, 480).as_slice()
    );

    // Declared as octet-stream: sniffed as MP4.
    let (status, video) = json_of(
        upload(
            &sim,
            &client,
            &token,
            mp4(),
            "v.bin",
            "application/octet-stream",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{video}");
    assert_eq!(video["type"], "video");
    assert!(video["url"].is_null());
    let media_url = format!(
        "{}/api/v1/media/{}",
        sim.base_url(),
        video["id"].as_str().unwrap()
    );

    let (status, pending) = json_of(
        client
            .get(&media_url)
            .header(AUTHORIZATION, bearer(&token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(pending["url"].is_null());

    let ready = wait_processed(&client, &media_url, &token).await;
    assert!(ready["url"].is_string());

    // Only the uploader sees it.
    let other = sim.seed_token("bob", "write:media");
    let response = client
        .get(&media_url)
        .header(AUTHORIZATION, bearer(&other))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let recorded = sim
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v2/media")
        .unwrap();
    let file = recorded.parts.iter().find(|p| p.name == "file").unwrap();
    assert_eq!(file.size, png(640, 480).len());
    assert_eq!(file.file_name.as_deref(), Some("a.png"));
    let description = recorded
        .parts
        .iter()
        .find(|p| p.name == "description")
        .unwrap();
    assert_eq!(description.value.as_deref(), Some("a test upload"));
}

#[tokio::test]
async fn uploads_over_the_limit_or_of_unknown_type_are_refused() {
    let (sim, client) = start(MastodonConfig {
        image_size_limit: 1024 * 1024,
        ..MastodonConfig::default()
    })
    .await;
    let token = sim.seed_token("alice", "write:media");

    let mut big = png(1, 1);
    big.resize(1024 * 1024 + 1, 0);
    let (status, body) =
        json_of(upload(&sim, &client, &token, big, "big.png", "image/png").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"],
        "Validation failed: File file size must be less than 1 MB"
    );

    let (status, body) = json_of(
        upload(
            &sim,
            &client,
            &token,
            b"just text".to_vec(),
            "a.txt",
            "text/plain",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"],
        "Validation failed: File content type is invalid, File is invalid"
    );

    let read_only = sim.seed_token("alice", "read");
    let response = upload(&sim, &client, &read_only, png(1, 1), "a.png", "image/png").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn media_must_be_processed_owned_and_few_enough_to_attach() {
    let (sim, client) = start(MastodonConfig {
        media_processing_ms: 1_000,
        ..MastodonConfig::default()
    })
    .await;
    let token = sim.seed_token("alice", "write");
    let (_, video) =
        json_of(upload(&sim, &client, &token, mp4(), "v.mp4", "video/mp4").await).await;
    let video_id = video["id"].as_str().unwrap().to_owned();

    let (status, body) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "clip", "media_ids": [video_id] }),
            Some("clip"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({ "error": "Cannot attach files that have not finished processing. Try again in a moment!" })
    );

    let media_url = format!("{}/api/v1/media/{video_id}", sim.base_url());
    wait_processed(&client, &media_url, &token).await;
    // The refused attempt did not burn the key.
    let (status, posted) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "clip", "media_ids": [video_id] }),
            Some("clip"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{posted}");
    assert_eq!(posted["media_attachments"][0]["id"], video_id.as_str());
    assert!(posted["media_attachments"][0]["url"].is_string());
    assert_eq!(sim.statuses()[0].media_ids, [video_id.as_str()]);

    let (status, body) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "again", "media_ids": [video_id] }),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"],
        format!("Media {video_id} not found or already attached to another post")
    );

    let bob = sim.seed_token("bob", "write");
    let (_, image) =
        json_of(upload(&sim, &client, &bob, png(2, 2), "b.png", "image/png").await).await;
    let (status, _) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "media_ids": [image["id"]] }),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "media of another account"
    );

    let mut ids = Vec::new();
    for _ in 0..5 {
        let (_, image) =
            json_of(upload(&sim, &client, &token, png(2, 2), "a.png", "image/png").await).await;
        ids.push(image["id"].clone());
    }
    let (status, body) =
        json_of(post_status(&sim, &client, &token, json!({ "media_ids": ids }), None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "Cannot attach more than 4 files");

    let (status, posted) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "media_ids": ids[..4] }),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "media alone needs no text");
    assert_eq!(posted["media_attachments"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn auth_failures_use_mastodon_envelopes() {
    let (sim, client) = start_default().await;
    let url = format!("{}/api/v1/statuses", sim.base_url());

    let response = client
        .post(&url)
        .json(&json!({ "status": "x" }))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({ "error": "The access token is invalid" }));

    let (status, _) =
        json_of(post_status(&sim, &client, "made-up", json!({ "status": "x" }), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let read_only = sim.seed_token("alice", "read write:media");
    let (status, body) =
        json_of(post_status(&sim, &client, &read_only, json!({ "status": "x" }), None).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({ "error": "This action is outside the authorized scopes" })
    );

    let token = sim.seed_token("alice", "write:statuses");
    sim.revoke_all_tokens();
    let (status, _) =
        json_of(post_status(&sim, &client, &token, json!({ "status": "x" }), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(sim.statuses().is_empty());
}

#[tokio::test]
async fn rate_limits_count_per_account_and_answer_429() {
    let (sim, client) = start(MastodonConfig {
        api_rate_limit: 3,
        media_rate_limit: 1,
        ..MastodonConfig::default()
    })
    .await;
    let token = sim.seed_token("alice", "write");

    let first = post_status(&sim, &client, &token, json!({ "status": "1" }), None).await;
    assert_eq!(first.headers()["x-ratelimit-limit"], "3");
    assert_eq!(first.headers()["x-ratelimit-remaining"], "2");
    let reset = first.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&reset).is_ok(),
        "{reset}"
    );

    let media = upload(&sim, &client, &token, png(1, 1), "a.png", "image/png").await;
    assert_eq!(media.status(), StatusCode::OK);
    let media = upload(&sim, &client, &token, png(1, 1), "a.png", "image/png").await;
    assert_eq!(
        media.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the media throttle"
    );
    assert_eq!(media.headers()["x-ratelimit-limit"], "1");

    let limited = post_status(&sim, &client, &token, json!({ "status": "4" }), None).await;
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let (status, body) = json_of(limited).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, json!({ "error": "Too many requests" }));
    assert_eq!(sim.statuses().len(), 1);

    // Accounts have their own windows; anonymous requests are not counted.
    let bob = sim.seed_token("bob", "write");
    let response = post_status(&sim, &client, &bob, json!({ "status": "bob" }), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let anonymous = client
        .get(format!("{}/api/v2/instance", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert!(!anonymous.headers().contains_key("x-ratelimit-limit"));
}

#[tokio::test]
async fn server_errors_rate_limits_and_delays_can_be_injected() {
    let (sim, client) = start_default().await;
    let token = sim.seed_token("alice", "write:statuses");

    sim.inject(
        Fault::new(
            "POST",
            "/api/v1/statuses",
            FaultAction::ServerError {
                status: 503,
                body: r#"{"error":"busy"}"#.to_owned(),
            },
        )
        .times(2),
    );
    for _ in 0..2 {
        let (status, body) =
            json_of(post_status(&sim, &client, &token, json!({ "status": "x" }), None).await).await;
        assert_eq!(
            (status, body),
            (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": "busy" }))
        );
    }
    assert!(
        sim.statuses().is_empty(),
        "faulted requests are not handled"
    );
    let response = post_status(&sim, &client, &token, json!({ "status": "x" }), None).await;
    assert_eq!(response.status(), StatusCode::OK, "the fault is used up");

    sim.inject(Fault::any_method(
        "/api/v1/statuses",
        FaultAction::RateLimited {
            reset_after_secs: 120,
        },
    ));
    let limited = post_status(&sim, &client, &token, json!({ "status": "y" }), None).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let reset = chrono::DateTime::parse_from_rfc3339(
        limited.headers()["x-ratelimit-reset"].to_str().unwrap(),
    )
    .unwrap();
    let ahead = reset
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((110..=120).contains(&ahead), "{ahead}");

    sim.inject(Fault::new(
        "GET",
        "/api/v2/instance",
        FaultAction::Delay { ms: 300 },
    ));
    let started = Instant::now();
    let response = client
        .get(format!("{}/api/v2/instance", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A fault for another path is left alone, and clear() drops it.
    sim.inject(Fault::new(
        "DELETE",
        "/api/v1/statuses",
        FaultAction::Delay { ms: 1 },
    ));
    sim.clear();
    let recorded = sim.requests();
    assert_eq!(recorded.iter().filter(|r| r.fault.is_some()).count(), 4);
    assert_eq!(recorded.len(), 5);
}

#[tokio::test]
async fn a_dropped_publish_is_created_and_its_retry_is_deduplicated() {
    let (sim, client) = start_default().await;
    let token = sim.seed_token("alice", "write:statuses");

    sim.inject(Fault::new(
        "POST",
        "/api/v1/statuses",
        FaultAction::DropAfterHandling { hang_ms: None },
    ));
    let error = client
        .post(format!("{}/api/v1/statuses", sim.base_url()))
        .header(AUTHORIZATION, bearer(&token))
        .header("Idempotency-Key", "publish-42")
        .json(&json!({ "status": "did it post?" }))
        .send()
        .await
        .expect_err("the connection closes without an answer");
    assert!(!error.is_timeout(), "{error}");
    assert_eq!(
        sim.statuses().len(),
        1,
        "the status was created all the same"
    );
    let recorded = sim.requests();
    assert_eq!(recorded[0].status, Some(200));
    assert_eq!(
        recorded[0].fault,
        Some(FaultAction::DropAfterHandling { hang_ms: None })
    );

    // The client retries with the same key and learns the outcome.
    let (status, body) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "did it post?" }),
            Some("publish-42"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let statuses = sim.statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(body["id"], statuses[0].id.as_str());
    assert_eq!(statuses[0].idempotent_replays, 1);

    // Hanging instead: the client times out, the status exists.
    sim.inject(Fault::new(
        "POST",
        "/api/v1/statuses",
        FaultAction::DropAfterHandling {
            hang_ms: Some(5_000),
        },
    ));
    let error = client
        .post(format!("{}/api/v1/statuses", sim.base_url()))
        .header(AUTHORIZATION, bearer(&token))
        .timeout(Duration::from_millis(300))
        .json(&json!({ "status": "slow" }))
        .send()
        .await
        .expect_err("the response never comes in time");
    assert!(error.is_timeout(), "{error}");
    assert_eq!(sim.statuses().len(), 2);
}

#[tokio::test]
async fn tokens_can_be_revoked_by_a_fault() {
    let (sim, client) = start_default().await;
    let token = sim.seed_token("alice", "write");
    let second = sim.seed_token("alice", "write");
    let bob = sim.seed_token("bob", "write");

    sim.inject(Fault::new(
        "POST",
        "/api/v1/statuses",
        FaultAction::RevokeToken { token: None },
    ));
    let (status, _) =
        json_of(post_status(&sim, &client, &token, json!({ "status": "x" }), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) =
        json_of(post_status(&sim, &client, &second, json!({ "status": "x" }), None).await).await;
    assert_eq!(status, StatusCode::OK, "only that token was revoked");

    sim.inject(Fault::any_method(
        "/api/",
        FaultAction::RevokeAccountTokens {
            username: Some("alice".to_owned()),
        },
    ));
    let (status, _) =
        json_of(post_status(&sim, &client, &bob, json!({ "status": "bob" }), None).await).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        json_of(post_status(&sim, &client, &second, json!({ "status": "x" }), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn statuses_can_be_read_listed_and_deleted() {
    let (sim, client) = start_default().await;
    let token = sim.seed_token("alice", "write:statuses");
    let reader = sim.seed_token("alice", "read:statuses");
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (_, body) =
            json_of(post_status(&sim, &client, &token, json!({ "status": text }), None).await)
                .await;
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (_, private) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "secret", "visibility": "private" }),
            None,
        )
        .await,
    )
    .await;
    let account_id = private["account"]["id"].as_str().unwrap().to_owned();
    let list_url = format!("{}/api/v1/accounts/{account_id}/statuses", sim.base_url());

    let response = client
        .get(&list_url)
        .query(&[("limit", "2")])
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["link"]
            .to_str()
            .unwrap()
            .contains("max_id=")
    );
    let (status, page) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<_> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["content"].clone())
        .collect();
    assert_eq!(
        texts,
        [json!("<p>three</p>"), json!("<p>two</p>")],
        "anonymous: public only, newest first"
    );

    let (_, page) = json_of(
        client
            .get(&list_url)
            .header(AUTHORIZATION, bearer(&reader))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        page.as_array().unwrap().len(),
        4,
        "the author sees private posts"
    );
    let (_, page) = json_of(
        client
            .get(&list_url)
            .query(&[("max_id", ids[2].as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page[0]["id"], ids[1].as_str());

    let response = client
        .get(&list_url)
        .header(AUTHORIZATION, bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "a token sent to read needs a read scope"
    );

    let status_url = format!("{}/api/v1/statuses/{}", sim.base_url(), ids[0]);
    let (status, shown) = json_of(client.get(&status_url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["content"], "<p>one</p>");
    let private_url = format!(
        "{}/api/v1/statuses/{}",
        sim.base_url(),
        private["id"].as_str().unwrap()
    );
    assert_eq!(
        client.get(&private_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let (status, deleted) = json_of(
        client
            .delete(&status_url)
            .header(AUTHORIZATION, bearer(&token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["text"], "one");
    assert_eq!(
        client.get(&status_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let response = client
        .delete(&status_url)
        .header(AUTHORIZATION, bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(sim.statuses()[0].deleted);

    let bob = sim.seed_token("bob", "write:statuses");
    let other_url = format!("{}/api/v1/statuses/{}", sim.base_url(), ids[1]);
    let response = client
        .delete(&other_url)
        .header(AUTHORIZATION, bearer(&bob))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "only the author deletes"
    );

    let (status, reply) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "re", "in_reply_to_id": ids[1] }),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["in_reply_to_id"], ids[1].as_str());
    assert_eq!(reply["in_reply_to_account_id"], account_id.as_str());
}

#[tokio::test]
async fn the_admin_routes_drive_a_standalone_simulator() {
    let (sim, client) = start_default().await;
    let admin = |path: &str| format!("{}/__sim/{path}", sim.base_url());

    let (status, seeded) = json_of(
        client
            .post(admin("tokens"))
            .json(&json!({ "username": "carol", "scopes": "write" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token = seeded["access_token"].as_str().unwrap().to_owned();

    let response = client
        .post(admin("faults"))
        .json(&json!({
            "method": "POST",
            "path_prefix": "/api/v1/statuses",
            "action": { "type": "server_error", "status": 502, "body": "bad gateway" }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, faults) = json_of(client.get(admin("faults")).send().await.unwrap()).await;
    assert_eq!(faults.as_array().unwrap().len(), 1);

    let response = post_status(&sim, &client, &token, json!({ "status": "x" }), None).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(response.text().await.unwrap(), "bad gateway");
    let (_, body) = json_of(
        post_status(
            &sim,
            &client,
            &token,
            json!({ "status": "hello" }),
            Some("k"),
        )
        .await,
    )
    .await;
    assert_eq!(body["account"]["username"], "carol");

    let (_, requests) = json_of(client.get(admin("requests")).send().await.unwrap()).await;
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 2, "admin requests are not recorded");
    assert_eq!(requests[0]["status"], 502);
    assert_eq!(requests[1]["idempotency_key"], "k");
    assert_eq!(requests[1]["body"], r#"{"status":"hello"}"#);
    let (_, statuses) = json_of(client.get(admin("statuses")).send().await.unwrap()).await;
    assert_eq!(statuses[0]["text"], "hello");

    let response = client
        .put(admin("media_processing"))
        .json(&json!({ "ms": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) =
        json_of(upload(&sim, &client, &token, mp4(), "v.mp4", "video/mp4").await).await;
    assert_eq!(status, StatusCode::OK, "no processing time: ready at once");

    let response = client.delete(admin("tokens")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = post_status(&sim, &client, &token, json!({ "status": "x" }), None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = client.post(admin("reset")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(sim.requests().is_empty());
    assert!(sim.statuses().is_empty());
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (sim, client) = start_default().await;
    let base = sim.base_url();
    assert!(
        client
            .get(format!("{base}/api/v2/instance"))
            .send()
            .await
            .is_ok()
    );
    sim.shutdown().await;
    assert!(
        client
            .get(format!("{base}/api/v2/instance"))
            .send()
            .await
            .is_err()
    );
}
