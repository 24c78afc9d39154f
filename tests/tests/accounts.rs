//! Platform apps and connected accounts over HTTP, with the real Mastodon plugin against
//! the Mastodon simulator: the whole OAuth round trip through the browser's redirects,
//! encryption at rest, reconnect merging, key rotation, revocation on disconnect, the
//! single-use state, roles and workspace isolation, and input validation.

use plugboard::app::App;
use plugboard::crypto::credentials::SecretMap;
use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard::store::accounts as account_store;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{Post, PublishOutcome};
use plugboard_e2e::api::{Session, create_workspace, invite_and_join, signup};
use plugboard_e2e::{TestServer, pg_database, plugin, test_server, test_server_with};
use plugboard_simulators::{MastodonConfig, MastodonSim};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

struct Env {
    server: TestServer,
    sim: MastodonSim,
    /// A browser that shows us each redirect instead of following it.
    browser: reqwest::Client,
    http: reqwest::Client,
    owner: Session,
    ws: String,
}

impl Env {
    fn app(&self) -> &Arc<App> {
        self.server.app()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.server.base)
    }

    fn ws_url(&self, path: &str) -> String {
        self.url(&format!("/workspaces/{}{path}", self.ws))
    }

    async fn send(&self, req: reqwest::RequestBuilder, token: &str) -> (StatusCode, Value) {
        let resp = req.bearer_auth(token).send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, url: &str, token: &str) -> (StatusCode, Value) {
        self.send(self.http.get(url), token).await
    }

    async fn post(&self, url: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.post(url).json(&body), token).await
    }

    async fn delete(&self, url: &str, token: &str) -> (StatusCode, Value) {
        self.send(self.http.delete(url), token).await
    }

    /// A workspace app pointing the plugin at the simulator (no client id: the plugin
    /// registers itself on the instance).
    async fn create_app(&self) -> String {
        let (status, body) = self
            .post(
                &self.ws_url("/apps"),
                &self.owner.access_token,
                json!({"plugin": "mastodon", "name": "Simulator", "settings": {"instance_url": self.sim.base_url()}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Starts a connection and returns the authorization URL.
    async fn start(&self, token: &str, body: Value) -> String {
        let (status, started) = self
            .post(&self.ws_url("/accounts/connect/mastodon"), token, body)
            .await;
        assert_eq!(status, 200, "{started}");
        started["authorize_url"].as_str().unwrap().to_string()
    }

    /// The instance approves at once and sends the browser back: the callback URL.
    async fn authorize(&self, authorize_url: &str) -> String {
        let resp = self.browser.get(authorize_url).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with(&format!("{}/api/v1/accounts/callback?", self.server.base)),
            "{location}"
        );
        location
    }

    /// The whole browser round trip; returns the callback's JSON.
    async fn connect(&self, token: &str) -> Value {
        let url = self.start(token, json!({})).await;
        let callback = self.authorize(&url).await;
        let resp = self.browser.get(&callback).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    async fn account(&self, id: &str) -> account_store::AccountRow {
        account_store::get(&self.app().db, &self.ws, id)
            .await
            .unwrap()
            .unwrap()
    }

    async fn credentials(&self, id: &str) -> SecretMap {
        let sealed = self
            .account(id)
            .await
            .credentials
            .expect("credentials stored");
        self.app().cipher.open_json(&sealed).unwrap()
    }
}

async fn setup() -> Env {
    setup_on(test_server().await).await
}

/// The same on a fresh PostgreSQL database.
async fn setup_postgres() -> Env {
    let url = pg_database().await;
    let dir = tempfile::tempdir().unwrap();
    let server = test_server_with(dir, |c| c.database_url = Some(url)).await;
    assert!(server.app().db.is_postgres());
    setup_on(server).await
}

async fn setup_on(server: TestServer) -> Env {
    let bytes = plugin("mastodon");
    let grants = Grants::requested(&Manifest::from_component(&bytes).unwrap());
    server
        .app()
        .runtime
        .registry
        .install(&bytes, Some(grants), InstallMode::Install)
        .await
        .unwrap();
    let sim = MastodonSim::start(MastodonConfig::default()).await.unwrap();
    let owner = signup(&server.base, "owner@example.com").await;
    let ws = create_workspace(&server.base, &owner.access_token, "Studio").await;
    Env {
        server,
        sim,
        browser: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        http: reqwest::Client::new(),
        owner,
        ws,
    }
}

/// Whether a Mastodon token still works at the instance.
async fn token_works(sim: &MastodonSim, token: &str) -> bool {
    reqwest::Client::new()
        .get(format!(
            "{}/api/v1/accounts/verify_credentials",
            sim.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
}

fn status_post(target: &str, text: &str) -> Post {
    Post {
        target_id: target.into(),
        attempt: 1,
        kind: "text".into(),
        text: text.into(),
        media: vec![],
        thread: vec![],
        options: vec![],
        scheduled_at: None,
    }
}

async fn publish(env: &Env, account_id: &str, target: &str, text: &str) -> PublishOutcome {
    let ctx = plugboard::accounts::call_context(env.app(), &env.ws, account_id)
        .await
        .unwrap();
    env.app()
        .runtime
        .platform("mastodon", "publish", ctx)
        .await
        .unwrap()
        .publish(status_post(target, text))
        .await
        .unwrap()
        .unwrap()
}

/// The database files as bytes (main file and write-ahead log).
fn database_bytes(env: &Env) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["plugboard.db", "plugboard.db-wal"] {
        if let Ok(bytes) = std::fs::read(env.server.dir.path().join(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_publish_rotate_and_disconnect() {
    connect_publish_rotate_and_disconnect_on(setup().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_publish_rotate_and_disconnect_on_postgres() {
    connect_publish_rotate_and_disconnect_on(setup_postgres().await).await;
}

async fn connect_publish_rotate_and_disconnect_on(env: Env) {
    let app_id = env.create_app().await;

    // Connect through the browser round trip.
    let connected = env.connect(&env.owner.access_token).await;
    let accounts = connected["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{connected}");
    let account = &accounts[0];
    let id = account["id"].as_str().unwrap().to_string();
    assert_eq!(account["status"], "active");
    assert_eq!(account["username"], "alice");
    assert_eq!(account["kind"], "user");
    assert_eq!(account["app_id"], app_id.as_str());
    assert_eq!(account["needs_reconnect"], false);
    assert_eq!(account["properties"]["instance_url"], env.sim.base_url());
    assert!(account.get("credentials").is_none(), "{account}");

    // The health view never shows credentials.
    let token = env.credentials(&id).await.0["access_token"].clone();
    let (status, listed) = env
        .get(&env.ws_url("/accounts"), &env.owner.access_token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&token));
    let (status, one) = env
        .get(
            &env.ws_url(&format!("/accounts/{id}")),
            &env.owner.access_token,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], id.as_str());
    assert!(!one.to_string().contains(&token));

    // At rest: ciphertext only, in the column and anywhere in the database files.
    let row = env.account(&id).await;
    let sealed = row.credentials.clone().unwrap();
    assert!(
        sealed.starts_with(&format!("v1:{}:", env.app().cipher.primary_id())),
        "{sealed}"
    );
    assert!(!sealed.contains(&token));
    if !env.app().db.is_postgres() {
        let bytes = database_bytes(&env);
        assert!(
            contains(&bytes, "alice"),
            "the database files were not found"
        );
        assert!(
            !contains(&bytes, &token),
            "the access token is stored in plaintext"
        );
    }
    assert!(token_works(&env.sim, &token).await);

    // It publishes through the call context.
    let PublishOutcome::Published(first) = publish(&env, &id, "t-1", "Hello from Plugboard").await
    else {
        panic!("not published");
    };
    assert!(
        env.sim
            .statuses()
            .iter()
            .any(|s| s.id == first.remote_id && s.text == "Hello from Plugboard")
    );

    // Reconnect: same account, new token, values the new grant did not bring are kept.
    let mut extra = env.credentials(&id).await;
    extra
        .0
        .insert("refresh_token".into(), "kept-refresh-token".into());
    let mut row = env.account(&id).await;
    row.credentials = Some(env.app().cipher.seal_json(&extra).unwrap());
    row.needs_reconnect = true;
    row.last_error = Some("expired".into());
    let mut tx = env.app().db.write_tx("test").await.unwrap();
    account_store::update(&env.app().db, &mut tx, &row)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let again = env.connect(&env.owner.access_token).await;
    assert_eq!(
        again["accounts"][0]["id"],
        id.as_str(),
        "reconnect keeps the account"
    );
    assert_eq!(again["accounts"][0]["needs_reconnect"], false);
    assert!(again["accounts"][0]["last_error"].is_null());
    let merged = env.credentials(&id).await;
    assert_eq!(merged.0["refresh_token"], "kept-refresh-token");
    assert_ne!(
        merged.0["access_token"], token,
        "the new grant's token replaces the old one"
    );
    let (_, listed) = env
        .get(&env.ws_url("/accounts"), &env.owner.access_token)
        .await;
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1);

    // Mastodon tokens do not expire: refresh is not offered, and that is no failure.
    let (status, body) = env
        .post(
            &env.ws_url(&format!("/accounts/{id}/refresh")),
            &env.owner.access_token,
            json!({}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("/refresh-unsupported")
    );
    assert!(env.account(&id).await.last_error.is_none());

    // Key rotation: everything re-encrypted with the new key, the account still works.
    let old_key = env.app().cipher.primary_id();
    let rotation = plugboard::accounts::keys::rotate(&env.app().db, &env.app().cipher, None)
        .await
        .unwrap();
    assert_eq!(rotation.previous_key_id, old_key);
    assert!(rotation.accounts >= 1 && rotation.apps >= 1, "{rotation:?}");
    assert!(rotation.kept_key_ids.contains(&old_key));
    let resealed = env.account(&id).await.credentials.unwrap();
    assert!(
        resealed.starts_with(&format!("v1:{}:", rotation.new_key_id)),
        "{resealed}"
    );
    let PublishOutcome::Published(_) = publish(&env, &id, "t-2", "After rotation").await else {
        panic!("not published after rotation");
    };
    let (status, app_view) = env
        .get(
            &env.ws_url(&format!("/apps/{app_id}")),
            &env.owner.access_token,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app_view["settings"]["instance_url"], env.sim.base_url());

    // The app cannot go while the account acts through it.
    let (status, body) = env
        .delete(
            &env.ws_url(&format!("/apps/{app_id}")),
            &env.owner.access_token,
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // Sub-accounts offered with the connection (as a platform with pages would): the
    // chosen ones become active, the rest are dropped.
    let parent = env.account(&id).await;
    let mut tx = env.app().db.write_tx("test").await.unwrap();
    for remote in ["page-1", "page-2"] {
        let child = account_store::AccountRow {
            id: format!("{id}-{remote}"),
            remote_id: remote.into(),
            parent_account_id: Some(id.clone()),
            kind: "page".into(),
            display_name: format!("Page {remote}"),
            username: None,
            avatar_url: None,
            properties: json!({"page_id": remote}).to_string(),
            credentials: None,
            status: "pending_selection".into(),
            ..parent.clone()
        };
        account_store::insert(&env.app().db, &mut tx, &child)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let select = env.ws_url(&format!("/accounts/{id}/select"));
    let (status, body) = env
        .post(
            &select,
            &env.owner.access_token,
            json!({"remote_ids": ["page-1", "nope"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        env.account(&format!("{id}-page-2")).await.status,
        "pending_selection"
    );
    let (status, body) = env
        .post(
            &select,
            &env.owner.access_token,
            json!({"remote_ids": ["page-1"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(body["accounts"][0]["status"], "active");
    let (_, listed) = env
        .get(&env.ws_url("/accounts"), &env.owner.access_token)
        .await;
    let ids: Vec<&str> = listed["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [id.clone(), format!("{id}-page-1")],
        "parent first, the dropped offer gone"
    );
    // A sub-account without credentials of its own acts with its parent's.
    let ctx = plugboard::accounts::call_context(env.app(), &env.ws, &format!("{id}-page-1"))
        .await
        .unwrap();
    let values = ctx.account.unwrap().values;
    assert_eq!(values["page_id"], "page-1");
    assert_eq!(values["access_token"], merged.0["access_token"]);

    // Disconnect: revoked at the instance, credentials wiped, account kept as disconnected.
    let live = merged.0["access_token"].clone();
    assert!(token_works(&env.sim, &live).await);
    let (status, gone) = env
        .delete(
            &env.ws_url(&format!("/accounts/{id}")),
            &env.owner.access_token,
        )
        .await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["status"], "disconnected");
    assert!(gone["last_error"].is_null(), "{gone}");
    assert!(
        !token_works(&env.sim, &live).await,
        "the token still works after disconnecting"
    );
    assert!(env.account(&id).await.credentials.is_none());
    assert_eq!(
        env.account(&format!("{id}-page-1")).await.status,
        "disconnected",
        "sub-accounts go with it"
    );
    let err = plugboard::accounts::call_context(env.app(), &env.ws, &id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disconnected"), "{err}");

    // Now the app can be deleted.
    let (status, _) = env
        .delete(
            &env.ws_url(&format!("/apps/{app_id}")),
            &env.owner.access_token,
        )
        .await;
    assert_eq!(status, 204);

    // The activity log tells the story.
    let filter = plugboard::store::activity::Filter {
        limit: 100,
        ..Default::default()
    };
    let entries = plugboard::store::activity::list(&env.app().db, &env.ws, &filter)
        .await
        .unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for expected in [
        "app.created",
        "account.connected",
        "account.reconnected",
        "account.disconnected",
        "app.deleted",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_is_single_use_short_lived_and_errors_go_back() {
    let env = setup().await;
    env.create_app().await;

    // No, unknown, or made-up state: 400 problem.
    for query in ["code=x", "state=made-up&code=x", "state=&code=x"] {
        let resp = env
            .browser
            .get(env.url(&format!("/accounts/callback?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["type"].as_str().unwrap().ends_with("/invalid-state"),
            "{body}"
        );
    }

    // A used state is refused the second time.
    let url = env.start(&env.owner.access_token, json!({})).await;
    let callback = env.authorize(&url).await;
    assert_eq!(
        env.browser.get(&callback).send().await.unwrap().status(),
        200
    );
    let resp = env.browser.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("already used"),
        "{body}"
    );

    // An expired state is refused.
    let state = "expired-state-for-the-test";
    // Long expired (the tests crate has no chrono: the time is parsed by the field's type).
    let long_ago = || serde_json::from_value(json!("2001-02-03T04:05:06Z")).unwrap();
    account_store::insert_state(
        &env.app().db,
        &account_store::OAuthState {
            state_hash: plugboard::api::caller::token_hash(state),
            workspace_id: env.ws.clone(),
            user_id: env.owner.user_id.clone(),
            plugin_id: "mastodon".into(),
            app_id: None,
            code_verifier: env
                .app()
                .cipher
                .seal(b"verifier-verifier-verifier-verifier-verifier")
                .unwrap(),
            stash: env
                .app()
                .cipher
                .seal_json(&Vec::<(String, String)>::new())
                .unwrap(),
            redirect_uri: env.url("/accounts/callback"),
            return_to: None,
            expires_at: long_ago(),
            used_at: None,
            created_at: long_ago(),
        },
    )
    .await
    .unwrap();
    let resp = env
        .browser
        .get(env.url(&format!("/accounts/callback?state={state}&code=x")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // The user denies at the platform: the plugin's error, as a problem.
    let url = env.start(&env.owner.access_token, json!({})).await;
    let state = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let resp = env
        .browser
        .get(env.url(&format!(
            "/accounts/callback?state={state}&error=access_denied"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("/platform-refused"),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("access_denied"),
        "{body}"
    );

    // With return_to, the browser goes back there: connected ids, or the error.
    let return_to = format!("{}/app/accounts?tab=social", env.server.base);
    let url = env
        .start(&env.owner.access_token, json!({"return_to": return_to}))
        .await;
    let callback = env.authorize(&url).await;
    let resp = env.browser.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(&return_to), "{location}");
    let pairs: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(pairs["tab"], "social");
    let (_, listed) = env
        .get(&env.ws_url("/accounts"), &env.owner.access_token)
        .await;
    assert_eq!(
        pairs["connected"],
        listed["accounts"][0]["id"].as_str().unwrap()
    );
    let resp = env.browser.get(&callback).send().await.unwrap();
    assert_eq!(
        resp.status(),
        303,
        "a spent state with return_to goes back with the error"
    );
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let pairs: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(pairs["error"], "invalid-state");
    assert!(!pairs.contains_key("connected"));

    // return_to elsewhere would be an open redirect.
    let (status, body) = env
        .post(
            &env.ws_url("/accounts/connect/mastodon"),
            &env.owner.access_token,
            json!({"return_to": "https://evil.example/steal"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("/invalid-return-to")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_workspace_isolation() {
    let env = setup().await;
    let base = env.server.base.clone();
    let app_id = env.create_app().await;
    let viewer = invite_and_join(
        &base,
        &env.owner.access_token,
        &env.ws,
        "viewer",
        "viewer@example.com",
    )
    .await;
    let editor = invite_and_join(
        &base,
        &env.owner.access_token,
        &env.ws,
        "editor",
        "editor@example.com",
    )
    .await;

    // Viewers read, never connect; editors connect but neither manage apps nor disconnect.
    let (status, body) = env
        .post(
            &env.ws_url("/accounts/connect/mastodon"),
            &viewer.access_token,
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = env
        .post(
            &env.ws_url("/accounts/connect/mastodon/credentials"),
            &viewer.access_token,
            json!({"fields": {}}),
        )
        .await;
    assert_eq!(status, 403);
    let connected = env.connect(&editor.access_token).await;
    let id = connected["accounts"][0]["id"].as_str().unwrap().to_string();
    let (status, listed) = env
        .get(&env.ws_url("/accounts"), &viewer.access_token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["accounts"][0]["id"], id.as_str());
    let (status, _) = env.get(&env.ws_url("/apps"), &viewer.access_token).await;
    assert_eq!(status, 200);
    for token in [&viewer.access_token, &editor.access_token] {
        let (status, _) = env
            .delete(&env.ws_url(&format!("/accounts/{id}")), token)
            .await;
        assert_eq!(status, 403);
        let (status, _) = env
            .post(
                &env.ws_url("/apps"),
                token,
                json!({"plugin": "mastodon", "name": "x", "settings": {}}),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = env
            .delete(&env.ws_url(&format!("/apps/{app_id}")), token)
            .await;
        assert_eq!(status, 403);
    }
    let (status, _) = env
        .post(
            &env.ws_url(&format!("/accounts/{id}/refresh")),
            &viewer.access_token,
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = env
        .post(
            &env.ws_url(&format!("/accounts/{id}/select")),
            &viewer.access_token,
            json!({"remote_ids": []}),
        )
        .await;
    assert_eq!(status, 403);

    // Another workspace sees none of it: not through its own path, not through ours.
    let stranger = signup(&base, "stranger@example.com").await;
    let other = create_workspace(&base, &stranger.access_token, "Elsewhere").await;
    let theirs = |path: &str| format!("{base}/api/v1/workspaces/{other}{path}");
    let t = &stranger.access_token;
    for (status, body) in [
        env.get(&theirs(&format!("/accounts/{id}")), t).await,
        env.delete(&theirs(&format!("/accounts/{id}")), t).await,
        env.post(&theirs(&format!("/accounts/{id}/refresh")), t, json!({}))
            .await,
        env.post(
            &theirs(&format!("/accounts/{id}/select")),
            t,
            json!({"remote_ids": []}),
        )
        .await,
        env.get(&theirs(&format!("/apps/{app_id}")), t).await,
        env.delete(&theirs(&format!("/apps/{app_id}")), t).await,
        env.send(
            env.http
                .patch(theirs(&format!("/apps/{app_id}")))
                .json(&json!({"name": "mine"})),
            t,
        )
        .await,
        env.post(
            &theirs("/accounts/connect/mastodon"),
            t,
            json!({"app_id": app_id}),
        )
        .await,
        env.get(&env.ws_url("/accounts"), t).await,
        env.get(&env.ws_url(&format!("/accounts/{id}")), t).await,
        env.get(&env.ws_url("/apps"), t).await,
    ] {
        assert_eq!(status, 404, "{body}");
    }
    let (_, theirs_listed) = env.get(&theirs("/accounts"), t).await;
    assert_eq!(theirs_listed["accounts"], json!([]));
    assert_eq!(
        env.account(&id).await.status,
        "active",
        "nothing was changed"
    );

    // Without a bearer: 401.
    let resp = env.http.get(env.ws_url("/accounts")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_settings_are_validated_masked_and_encrypted() {
    let env = setup().await;
    let t = &env.owner.access_token;
    let apps = env.ws_url("/apps");

    let (status, created) = env
        .post(
            &apps,
            t,
            json!({"plugin": "mastodon", "name": "  Main  ", "settings": {
                "client_id": "public-id", "client_secret": "very-secret-value",
                "instance_url": env.sim.base_url(), "api_key": "k-123"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "Main");
    assert_eq!(created["scope"], "workspace");
    assert_eq!(created["settings"]["client_id"], "public-id");
    assert_eq!(created["settings"]["client_secret"], "••••");
    assert_eq!(created["settings"]["api_key"], "••••");
    assert!(!created.to_string().contains("very-secret-value"));
    let bytes = database_bytes(&env);
    assert!(
        contains(&bytes, "Main"),
        "the database files were not found"
    );
    assert!(
        !contains(&bytes, "very-secret-value"),
        "a secret setting is stored in plaintext"
    );

    // PATCH: set, remove with null, keep the rest; the mask is not a value.
    let url = env.ws_url(&format!("/apps/{id}"));
    let (status, patched) = env
        .send(
            env.http.patch(&url).json(
                &json!({"name": "Renamed", "settings": {"api_key": null, "client_id": "id-2"}}),
            ),
            t,
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(patched["settings"]["client_id"], "id-2");
    assert_eq!(patched["settings"]["client_secret"], "••••");
    assert!(patched["settings"].get("api_key").is_none());
    let (status, body) = env
        .send(
            env.http
                .patch(&url)
                .json(&json!({"settings": {"client_secret": "••••"}})),
            t,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, list) = env.get(&apps, t).await;
    assert_eq!(list["apps"].as_array().unwrap().len(), 1);

    // Bad input: precise errors, nothing written.
    let bad: Vec<(Value, u16, &str)> = vec![
        (
            json!({"plugin": "mastodon", "name": "", "settings": {}}),
            422,
            "invalid-field",
        ),
        (
            json!({"plugin": "mastodon", "name": "x".repeat(101), "settings": {}}),
            422,
            "invalid-field",
        ),
        (
            json!({"plugin": "mastodon", "name": "a", "settings": {"Bad-Name": "v"}}),
            422,
            "invalid-field",
        ),
        (
            json!({"plugin": "mastodon", "name": "a", "settings": {"instance_url": "not a url"}}),
            422,
            "invalid-field",
        ),
        (
            json!({"plugin": "mastodon", "name": "a", "settings": {"redirect_uri": "javascript:alert(1)"}}),
            422,
            "invalid-field",
        ),
        (
            json!({"plugin": "mastodon", "name": "a", "settings": {"x": "y".repeat(8193)}}),
            422,
            "invalid-field",
        ),
        (
            json!({"plugin": "mastodon", "name": "a", "settings": {"x": 1}}),
            422,
            "invalid-body",
        ),
        (
            json!({"plugin": "mastodon", "name": "a", "extra": true}),
            422,
            "invalid-body",
        ),
        (json!({"plugin": 7, "name": "a"}), 422, "invalid-body"),
        (
            json!({"plugin": "nope", "name": "a", "settings": {}}),
            404,
            "not-found",
        ),
    ];
    for (body, expected, kind) in bad {
        let (status, problem) = env.post(&apps, t, body.clone()).await;
        assert_eq!(status.as_u16(), expected, "{body}: {problem}");
        assert!(
            problem["type"].as_str().unwrap().ends_with(kind),
            "{body}: {problem}"
        );
    }
    let resp = env
        .http
        .post(&apps)
        .bearer_auth(t)
        .header("content-type", "application/json")
        .body("{\"plugin\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = env
        .http
        .post(&apps)
        .bearer_auth(t)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"plugin\":\"mastodon\",\"name\":\"a\",\"settings\":{{\"x\":\"{}\"}}}}",
            "y".repeat(2 << 20)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let (_, list) = env.get(&apps, t).await;
    assert_eq!(
        list["apps"].as_array().unwrap().len(),
        1,
        "nothing half-written"
    );

    // Connecting: unknown plugin, unknown app, wrong auth kind, bad fields.
    let (status, _) = env
        .post(&env.ws_url("/accounts/connect/nope"), t, json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = env
        .post(
            &env.ws_url("/accounts/connect/mastodon"),
            t,
            json!({"app_id": "nope"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = env
        .post(
            &env.ws_url("/accounts/connect/mastodon"),
            t,
            json!({"scopes": ["a b"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = env
        .post(
            &env.ws_url("/accounts/connect/mastodon"),
            t,
            json!({"bogus": 1}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = env
        .post(
            &env.ws_url("/accounts/connect/mastodon/credentials"),
            t,
            json!({"fields": {"handle": "a"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["type"].as_str().unwrap().ends_with("/wrong-auth-kind"),
        "{body}"
    );
    let (status, body) = env
        .post(
            &env.ws_url("/accounts/00000000-0000-0000-0000-000000000000/select"),
            t,
            json!({"remote_ids": []}),
        )
        .await;
    assert_eq!(status, 404, "{body}");

    // Two apps for one plugin: the connection must say which.
    let (status, _) = env
        .post(&apps, t, json!({"plugin": "mastodon", "name": "Second", "settings": {"instance_url": env.sim.base_url()}}))
        .await;
    assert_eq!(status, 201);
    let (status, body) = env
        .post(&env.ws_url("/accounts/connect/mastodon"), t, json!({}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["type"].as_str().unwrap().ends_with("/app-required"),
        "{body}"
    );

    // Server-wide apps: operator only; visible (masked) to workspaces.
    let admin = env.url("/admin/apps");
    let op = env.app().admin_token.clone();
    let (status, _) = env
        .post(
            &admin,
            t,
            json!({"plugin": "mastodon", "name": "Server", "settings": {}}),
        )
        .await;
    assert_eq!(status, 401, "a user's token is not the operator's");
    let (status, server_app) = env
        .post(&admin, &op, json!({"plugin": "mastodon", "name": "Server", "settings": {"client_secret": "op-secret"}}))
        .await;
    assert_eq!(status, 201, "{server_app}");
    assert_eq!(server_app["scope"], "server");
    let server_id = server_app["id"].as_str().unwrap().to_string();
    let (_, list) = env.get(&apps, t).await;
    let listed: Vec<&Value> = list["apps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["id"] == server_id.as_str())
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["settings"]["client_secret"], "••••");
    let (status, _) = env
        .delete(&env.ws_url(&format!("/apps/{server_id}")), t)
        .await;
    assert_eq!(status, 404, "a workspace cannot delete a server-wide app");
    let (status, _) = env
        .send(
            env.http
                .patch(format!("{admin}/{server_id}"))
                .json(&json!({"name": "Renamed"})),
            &op,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = env.delete(&format!("{admin}/{server_id}"), &op).await;
    assert_eq!(status, 204);
    let (status, _) = env.get(&format!("{admin}/{server_id}"), &op).await;
    assert_eq!(status, 404);

    // Every route is in the OpenAPI document; the callback needs no bearer.
    let doc: Value = env
        .http
        .get(format!("{}/api/openapi.json", env.server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/workspaces/{workspace_id}/apps",
        "/api/v1/workspaces/{workspace_id}/apps/{app_id}",
        "/api/v1/admin/apps",
        "/api/v1/admin/apps/{app_id}",
        "/api/v1/workspaces/{workspace_id}/accounts",
        "/api/v1/workspaces/{workspace_id}/accounts/{account_id}",
        "/api/v1/workspaces/{workspace_id}/accounts/connect/{plugin}",
        "/api/v1/workspaces/{workspace_id}/accounts/connect/{plugin}/credentials",
        "/api/v1/workspaces/{workspace_id}/accounts/{account_id}/select",
        "/api/v1/workspaces/{workspace_id}/accounts/{account_id}/refresh",
        "/api/v1/accounts/callback",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    assert_eq!(
        doc["paths"]["/api/v1/accounts/callback"]["get"]["security"],
        json!([{}])
    );
}
