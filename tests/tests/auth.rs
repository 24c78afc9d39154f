//! Accounts over HTTP: sign-up, sign-in, refresh-token rotation with theft detection,
//! sessions, sign-out, `GET /me` and personal API keys with scopes — on SQLite and on
//! PostgreSQL — and precise refusals of bad input that leave nothing behind.

use plugboard::on_db;
use plugboard_e2e::api::{PASSWORD, client, create_workspace, problem, send, signup};
use plugboard_e2e::{TestServer, pg_database, test_server, test_server_with};
use reqwest::Response;
use serde_json::{Value, json};

async fn pg_server() -> TestServer {
    let url = pg_database().await;
    test_server_with(tempfile::tempdir().unwrap(), |c| c.database_url = Some(url)).await
}

async fn body(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn url(base: &str, path: &str) -> String {
    format!("{base}/api/v1{path}")
}

async fn signin(base: &str, email: &str, password: &str) -> (u16, Value) {
    send(
        client()
            .post(url(base, "/auth/signin"))
            .json(&json!({ "email": email, "password": password })),
    )
    .await
}

async fn sign_up_and_in(base: &str) {
    let c = client();

    // Sign-up normalises the email and answers the session with no-store caching.
    let resp = c
        .post(url(base, "/auth/signup"))
        .json(&json!({ "email": "  Alice@Example.COM ", "name": "Alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (status, alice) = body(resp).await;
    assert_eq!(status, 201, "{alice}");
    assert_eq!(alice["user"]["email"], "alice@example.com");
    assert_eq!(alice["user"]["name"], "Alice");
    assert!(alice["user"].get("password_hash").is_none(), "{alice}");
    let access = alice["access_token"].as_str().unwrap().to_string();
    assert!(access.starts_with("pbs_"));
    assert!(alice["refresh_token"].as_str().unwrap().starts_with("pbr_"));
    let access_ttl = unix_seconds(alice["expires_at"].as_str().unwrap()) - now_seconds();
    assert!((14 * 60..=15 * 60).contains(&access_ttl), "{alice}");
    let refresh_ttl = unix_seconds(alice["refresh_expires_at"].as_str().unwrap()) - now_seconds();
    assert!(
        (30 * 86_400 - 60..=30 * 86_400).contains(&refresh_ttl),
        "{alice}"
    );

    let (status, me) = send(c.get(url(base, "/me")).bearer_auth(&access)).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["id"], alice["user"]["id"]);

    // Signing up creates no workspace.
    let (_, list) = send(c.get(url(base, "/workspaces")).bearer_auth(&access)).await;
    assert_eq!(list["workspaces"], json!([]));

    // The same email in another case is taken.
    problem(
        c.post(url(base, "/auth/signup"))
            .json(&json!({ "email": "ALICE@example.com", "name": "A2", "password": PASSWORD })),
        409,
        "email-taken",
    )
    .await;

    // Sign-in: the same answer for a wrong password and an unknown email.
    let (status, ok) = signin(base, "ALICE@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["user"]["id"], alice["user"]["id"]);
    let (s1, wrong) = signin(base, "alice@example.com", "not the password").await;
    let (s2, unknown) = signin(base, "nobody@example.com", PASSWORD).await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong, unknown);
    assert_eq!(
        wrong["type"],
        "https://plugboard.dev/problems/invalid-credentials"
    );
    let (s3, _) = signin(base, "not an email", PASSWORD).await;
    assert_eq!(s3, 401);
}

async fn bad_sign_up_input(base: &str) {
    let c = client();
    let signup_url = url(base, "/auth/signup");
    let cases = [
        (
            json!({ "email": "bob@example.com", "name": "Bob", "password": "short" }),
            "password",
        ),
        (
            json!({ "email": "bob@example.com", "name": "Bob", "password": "x".repeat(1025) }),
            "password",
        ),
        (
            json!({ "email": "bob@", "name": "Bob", "password": PASSWORD }),
            "email",
        ),
        (
            json!({ "email": "bob@example", "name": "Bob", "password": PASSWORD }),
            "email",
        ),
        (
            json!({ "email": "b ob@example.com", "name": "Bob", "password": PASSWORD }),
            "email",
        ),
        (
            json!({ "email": "bob@example.com", "name": "   ", "password": PASSWORD }),
            "name",
        ),
        (
            json!({ "email": "bob@example.com", "name": "B".repeat(101), "password": PASSWORD }),
            "name",
        ),
    ];
    for (input, field) in cases {
        let v = problem(c.post(&signup_url).json(&input), 422, "invalid-field").await;
        assert_eq!(v["errors"][0]["field"], field, "{input}");
    }
    problem(
        c.post(&signup_url)
            .json(&json!({ "email": "bob@example.com", "name": "Bob", "password": PASSWORD, "admin": true })),
        422,
        "invalid-body",
    )
    .await;
    problem(
        c.post(&signup_url)
            .json(&json!({ "email": 42, "name": "Bob", "password": PASSWORD })),
        422,
        "invalid-body",
    )
    .await;
    problem(
        c.post(&signup_url)
            .json(&json!({ "email": "bob@example.com" })),
        422,
        "invalid-body",
    )
    .await;
    problem(
        c.post(&signup_url)
            .header("content-type", "application/json")
            .body("{\"email\": "),
        400,
        "malformed-json",
    )
    .await;
    problem(
        c.post(&signup_url).body("email=bob"),
        415,
        "unsupported-media-type",
    )
    .await;
    let huge =
        json!({ "email": "bob@example.com", "name": "Bob", "password": "p".repeat(2 << 20) });
    problem(c.post(&signup_url).json(&huge), 413, "body-too-large").await;

    // None of that created Bob.
    let (status, _) = signin(base, "bob@example.com", PASSWORD).await;
    assert_eq!(status, 401);
    signup(base, "bob@example.com").await;
}

async fn refresh_rotation_and_theft(base: &str) {
    let c = client();
    let carol = signup(base, "carol@example.com").await;
    let refresh = |token: &str| {
        c.post(url(base, "/auth/refresh"))
            .json(&json!({ "refresh_token": token }))
    };

    let (status, next) = send(refresh(&carol.refresh_token)).await;
    assert_eq!(status, 200, "{next}");
    assert_eq!(next["user"]["id"], carol.user_id.as_str());
    let access2 = next["access_token"].as_str().unwrap().to_string();
    let refresh2 = next["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, carol.refresh_token);
    // The new access token works and replaced the old one.
    assert_eq!(
        send(c.get(url(base, "/me")).bearer_auth(&access2)).await.0,
        200
    );
    problem(
        c.get(url(base, "/me")).bearer_auth(&carol.access_token),
        401,
        "unauthorized",
    )
    .await;

    // The spent refresh token presented again: the whole session is revoked.
    problem(refresh(&carol.refresh_token), 401, "refresh-token-reused").await;
    problem(refresh(&refresh2), 401, "session-revoked").await;
    problem(
        c.get(url(base, "/me")).bearer_auth(&access2),
        401,
        "unauthorized",
    )
    .await;

    // Other sessions of the same user are untouched.
    let (_, again) = signin(base, "carol@example.com", PASSWORD).await;
    let access3 = again["access_token"].as_str().unwrap();
    assert_eq!(
        send(c.get(url(base, "/me")).bearer_auth(access3)).await.0,
        200
    );

    problem(
        refresh("pbr_not-a-real-token"),
        401,
        "invalid-refresh-token",
    )
    .await;
    problem(refresh(access3), 401, "invalid-refresh-token").await;
    problem(
        c.post(url(base, "/auth/refresh"))
            .json(&json!({ "refresh_token": 5 })),
        422,
        "invalid-body",
    )
    .await;
}

async fn sessions_and_logout(base: &str) {
    let c = client();
    let dave = signup(base, "dave@example.com").await;
    let (_, second) = signin(base, "dave@example.com", PASSWORD).await;
    let second_access = second["access_token"].as_str().unwrap().to_string();
    let second_id = second["session_id"].as_str().unwrap().to_string();

    let (status, list) = send(
        c.get(url(base, "/auth/sessions"))
            .bearer_auth(&dave.access_token),
    )
    .await;
    assert_eq!(status, 200);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(
        sessions
            .iter()
            .any(|s| s["id"] == second_id.as_str() && s["current"] == false)
    );

    // Someone else cannot see or revoke Dave's sessions.
    let erin = signup(base, "erin@example.com").await;
    let (_, theirs) = send(
        c.get(url(base, "/auth/sessions"))
            .bearer_auth(&erin.access_token),
    )
    .await;
    assert_eq!(theirs["sessions"].as_array().unwrap().len(), 1);
    problem(
        c.delete(url(base, &format!("/auth/sessions/{second_id}")))
            .bearer_auth(&erin.access_token),
        404,
        "not-found",
    )
    .await;
    assert_eq!(
        send(c.get(url(base, "/me")).bearer_auth(&second_access))
            .await
            .0,
        200
    );

    let resp = c
        .delete(url(base, &format!("/auth/sessions/{second_id}")))
        .bearer_auth(&dave.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    problem(
        c.get(url(base, "/me")).bearer_auth(&second_access),
        401,
        "unauthorized",
    )
    .await;
    problem(
        c.delete(url(base, &format!("/auth/sessions/{second_id}")))
            .bearer_auth(&dave.access_token),
        404,
        "not-found",
    )
    .await;

    // Sign-out ends the current session, refresh token included.
    let resp = c
        .post(url(base, "/auth/logout"))
        .bearer_auth(&dave.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    problem(
        c.get(url(base, "/me")).bearer_auth(&dave.access_token),
        401,
        "unauthorized",
    )
    .await;
    problem(
        c.post(url(base, "/auth/refresh"))
            .json(&json!({ "refresh_token": dave.refresh_token })),
        401,
        "session-revoked",
    )
    .await;

    // No token, a garbled one, an unknown kind.
    problem(c.get(url(base, "/me")), 401, "unauthorized").await;
    problem(
        c.get(url(base, "/me")).bearer_auth("pbs_garbage"),
        401,
        "unauthorized",
    )
    .await;
    problem(
        c.get(url(base, "/me")).bearer_auth("hello"),
        401,
        "unauthorized",
    )
    .await;
    problem(c.post(url(base, "/auth/logout")), 401, "unauthorized").await;
}

async fn api_keys(base: &str) {
    let c = client();
    let frank = signup(base, "frank@example.com").await;
    let keys = url(base, "/me/api-keys");
    let create = |name: &str, scopes: Value| {
        c.post(&keys)
            .bearer_auth(&frank.access_token)
            .json(&json!({ "name": name, "scopes": scopes }))
    };

    let resp = create("read-only", json!(["read"])).send().await.unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (status, read) = body(resp).await;
    assert_eq!(status, 201, "{read}");
    let read_key = read["key"].as_str().unwrap().to_string();
    assert!(read_key.starts_with("pbk_"));
    assert_eq!(read["prefix"], &read_key[..8]);
    assert_eq!(read["scopes"], json!(["read"]));
    let (_, write) = send(create("writer", json!(["write", "read", "write"]))).await;
    assert_eq!(write["scopes"], json!(["read", "write"]));
    let write_key = write["key"].as_str().unwrap().to_string();
    let (_, admin) = send(create("admin", json!(["admin"]))).await;
    let admin_key = admin["key"].as_str().unwrap().to_string();

    // Listed without secrets.
    let resp = c
        .get(&keys)
        .bearer_auth(&frank.access_token)
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    for key in [&read_key, &write_key, &admin_key] {
        assert!(!text.contains(key.as_str()), "a key leaked in the list");
    }
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["api_keys"].as_array().unwrap().len(), 3);
    assert!(list["api_keys"][0].get("key").is_none());

    // A key authenticates; its scope bounds what it may do.
    let (status, me) = send(c.get(url(base, "/me")).bearer_auth(&read_key)).await;
    assert_eq!(
        (status, me["id"].as_str()),
        (200, Some(frank.user_id.as_str()))
    );
    assert_eq!(
        send(c.get(url(base, "/workspaces")).bearer_auth(&read_key))
            .await
            .0,
        200
    );
    problem(
        c.post(url(base, "/workspaces"))
            .bearer_auth(&read_key)
            .json(&json!({ "name": "W", "timezone": "UTC" })),
        403,
        "insufficient-scope",
    )
    .await;
    let ws = create_workspace(base, &write_key, "Frank's").await;
    let settings = url(base, &format!("/workspaces/{ws}"));
    problem(
        c.patch(&settings)
            .bearer_auth(&read_key)
            .json(&json!({ "name": "X" })),
        403,
        "insufficient-scope",
    )
    .await;
    problem(
        c.patch(&settings)
            .bearer_auth(&write_key)
            .json(&json!({ "name": "X" })),
        403,
        "insufficient-scope",
    )
    .await;
    let (status, changed) = send(
        c.patch(&settings)
            .bearer_auth(&admin_key)
            .json(&json!({ "name": "X" })),
    )
    .await;
    assert_eq!((status, changed["name"].as_str()), (200, Some("X")));

    // Keys cannot mint keys, revoke keys or sign out.
    problem(
        c.post(&keys)
            .bearer_auth(&admin_key)
            .json(&json!({ "name": "more", "scopes": ["admin"] })),
        403,
        "session-required",
    )
    .await;
    let read_id = read["id"].as_str().unwrap();
    problem(
        c.delete(format!("{keys}/{read_id}"))
            .bearer_auth(&admin_key),
        403,
        "session-required",
    )
    .await;
    problem(
        c.post(url(base, "/auth/logout")).bearer_auth(&admin_key),
        403,
        "session-required",
    )
    .await;

    // Bad input.
    problem(create("none", json!([])), 422, "invalid-field").await;
    problem(create("root", json!(["root"])), 422, "invalid-body").await;
    problem(create("", json!(["read"])), 422, "invalid-field").await;
    problem(
        c.post(&keys)
            .bearer_auth(&frank.access_token)
            .json(&json!({ "name": "k", "scopes": ["read"], "expires": 1 })),
        422,
        "invalid-body",
    )
    .await;

    // Someone else cannot revoke Frank's key; Frank can, and it stops working.
    let gina = signup(base, "gina@example.com").await;
    problem(
        c.delete(format!("{keys}/{read_id}"))
            .bearer_auth(&gina.access_token),
        404,
        "not-found",
    )
    .await;
    let (_, gina_keys) = send(c.get(&keys).bearer_auth(&gina.access_token)).await;
    assert_eq!(gina_keys["api_keys"], json!([]));
    let resp = c
        .delete(format!("{keys}/{read_id}"))
        .bearer_auth(&frank.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    problem(
        c.get(url(base, "/me")).bearer_auth(&read_key),
        401,
        "unauthorized",
    )
    .await;
    problem(
        c.delete(format!("{keys}/{read_id}"))
            .bearer_auth(&frank.access_token),
        404,
        "not-found",
    )
    .await;
    let (_, list) = send(c.get(&keys).bearer_auth(&frank.access_token)).await;
    assert_eq!(list["api_keys"].as_array().unwrap().len(), 2);
}

async fn everything(base: &str) {
    sign_up_and_in(base).await;
    bad_sign_up_input(base).await;
    refresh_rotation_and_theft(base).await;
    sessions_and_logout(base).await;
    api_keys(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_sessions_and_keys_on_sqlite() {
    let server = test_server().await;
    everything(&server.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_sessions_and_keys_on_postgres() {
    let server = pg_server().await;
    everything(&server.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_refused_with_a_hint() {
    let server = test_server().await;
    let base = &server.base;
    let c = client();
    let hal = signup(base, "hal@example.com").await;
    let db = &server.app().db;
    // A literal time: TEXT on SQLite, cast to TIMESTAMPTZ on PostgreSQL.
    let sql = db.sql(
        "UPDATE sessions SET access_expires_at = '2001-01-01T00:00:00+00:00' WHERE user_id = ?",
    );
    on_db!(db, |p| {
        sqlx::query(sql)
            .bind(&hal.user_id)
            .execute(p)
            .await
            .unwrap();
    });
    problem(
        c.get(url(base, "/me")).bearer_auth(&hal.access_token),
        401,
        "token-expired",
    )
    .await;
    let (status, next) = send(
        c.post(url(base, "/auth/refresh"))
            .json(&json!({ "refresh_token": hal.refresh_token })),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    let refresh2 = next["refresh_token"].as_str().unwrap();

    let sql = db.sql(
        "UPDATE sessions SET refresh_expires_at = '2001-01-01T00:00:00+00:00' WHERE user_id = ?",
    );
    on_db!(db, |p| {
        sqlx::query(sql)
            .bind(&hal.user_id)
            .execute(p)
            .await
            .unwrap();
    });
    problem(
        c.post(url(base, "/auth/refresh"))
            .json(&json!({ "refresh_token": refresh2 })),
        401,
        "refresh-token-expired",
    )
    .await;
    let (_, list) = send(
        c.get(url(base, "/auth/sessions"))
            .bearer_auth(next["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        list["sessions"],
        json!([]),
        "an expired session is not listed"
    );
}

/// Seconds since the epoch of an RFC 3339 UTC time as the server writes it
/// (`YYYY-MM-DDTHH:MM:SS…Z`), by the days-from-civil algorithm.
fn unix_seconds(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * m + 2) / 5 + d - 1;
    (era * 146_097 + doe - 719_468) * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Password guessing is slowed down: after ten failed sign-ins for an email within 15
/// minutes the next attempts — the right password included — answer 429 with Retry-After,
/// known and unknown emails alike; other emails are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_are_throttled_per_email() {
    let server = test_server().await;
    let base = server.base.as_str();
    signup(base, "erin@example.com").await;
    signup(base, "frank@example.com").await;
    for email in ["erin@example.com", "nobody@example.com"] {
        for _ in 0..10 {
            let (status, wrong) = signin(base, email, "not the password").await;
            assert_eq!(status, 401, "{wrong}");
        }
    }
    let resp = client()
        .post(url(base, "/auth/signin"))
        .json(&json!({ "email": "ERIN@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let (status, throttled) = body(resp).await;
    assert_eq!(status, 429, "{throttled}");
    assert_eq!(
        throttled["type"],
        "https://plugboard.dev/problems/too-many-attempts"
    );
    let (status, unknown) = signin(base, "nobody@example.com", PASSWORD).await;
    assert_eq!(
        status, 429,
        "an unknown email is throttled the same: {unknown}"
    );
    let (status, other) = signin(base, "frank@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{other}");
}
