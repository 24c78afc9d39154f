//! HTTP helpers for end-to-end tests: sign up users, create workspaces, add members with a
//! role. They drive the real API and panic with the server's answer when it refuses.

use serde_json::{Value, json};

/// The password every helper-made user has (long enough for the sign-up rules).
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// Sends the request; answers the status and the JSON body (Null when there is none).
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends the request and asserts a problem+json answer with this status and `type` slug
/// (e.g. `not-found`); returns the problem.
pub async fn problem(req: reqwest::RequestBuilder, status: u16, kind: &str) -> Value {
    let resp = req.send().await.expect("request");
    let got = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "{text}");
    assert_eq!(content_type, "application/problem+json", "{text}");
    let v: Value = serde_json::from_str(&text).expect("a JSON problem");
    assert_eq!(
        v["type"],
        format!("https://plugboard.dev/problems/{kind}"),
        "{text}"
    );
    v
}

async fn expect(resp: reqwest::Response, status: u16, what: &str) -> Value {
    let got = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn session(body: &Value) -> Session {
    Session {
        access_token: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string(),
        refresh_token: body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string(),
        user_id: body["user"]["id"].as_str().expect("user.id").to_string(),
    }
}

/// Signs up `email` (name derived from it, password [`PASSWORD`]) and returns the session.
pub async fn signup(base: &str, email: &str) -> Session {
    let name = email.split('@').next().unwrap_or(email);
    let resp = client()
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({ "email": email, "name": name, "password": PASSWORD }))
        .send()
        .await
        .expect("sign-up request");
    session(&expect(resp, 201, "sign-up").await)
}

/// Creates a workspace (time zone UTC) owned by the holder of `token`; returns its id.
pub async fn create_workspace(base: &str, token: &str, name: &str) -> String {
    let resp = client()
        .post(format!("{base}/api/v1/workspaces"))
        .bearer_auth(token)
        .json(&json!({ "name": name, "timezone": "UTC" }))
        .send()
        .await
        .expect("create-workspace request");
    let body = expect(resp, 201, "creating a workspace").await;
    body["id"].as_str().expect("workspace id").to_string()
}

/// Invites `email` with `role` (`admin`, `editor` or `viewer`), signs them up (the email
/// must not have an account yet) and accepts the invitation; returns the new member's
/// session.
pub async fn invite_and_join(
    base: &str,
    owner_token: &str,
    workspace_id: &str,
    role: &str,
    email: &str,
) -> Session {
    let resp = client()
        .post(format!(
            "{base}/api/v1/workspaces/{workspace_id}/invitations"
        ))
        .bearer_auth(owner_token)
        .json(&json!({ "email": email, "role": role }))
        .send()
        .await
        .expect("invite request");
    let invitation = expect(resp, 201, "inviting").await;
    let token = invitation["token"].as_str().expect("invitation token");
    let member = signup(base, email).await;
    let resp = client()
        .post(format!("{base}/api/v1/invitations/accept"))
        .bearer_auth(&member.access_token)
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("accept request");
    expect(resp, 200, "accepting the invitation").await;
    member
}

/// HMAC-SHA256 of `body` with `key` as lowercase hex, written out here (RFC 2104) so tests
/// check plugins' webhook signatures against an independent computation.
pub fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}
