//! Meta webhooks: the `hub.challenge` handshake and `X-Hub-Signature-256` verification.
//! Pure functions of the request and two app settings — no network calls. What the
//! verified payload means is the plugin's: it passes its own `events`.

use plugboard_sdk::prelude::*;
use serde_json::Value;

/// The events of a verified payload, each with its replay key.
pub type Events = fn(&Value) -> Vec<(String, WebhookEvent)>;

fn reply(status: u16, body: &str) -> WebhookReply {
    WebhookReply {
        status,
        headers: vec![pair("Content-Type", "text/plain")],
        body: body.as_bytes().to_vec(),
        events: Vec::new(),
        account_remote_id: None,
    }
}

fn header<'a>(req: &'a WebhookRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `verify_token` is the app's `webhook_verify_token`, `app_secret` its `client_secret`.
/// The signature is checked over the raw body bytes, in constant time.
pub fn handle(
    req: &WebhookRequest,
    verify_token: Option<&str>,
    app_secret: &str,
    events: Events,
) -> WebhookReply {
    if req.method.eq_ignore_ascii_case("GET") {
        return handshake(req, verify_token);
    }
    let Some(signature) =
        header(req, "x-hub-signature-256").and_then(|s| s.strip_prefix("sha256="))
    else {
        return reply(401, "missing X-Hub-Signature-256");
    };
    if !oauth::verify_hmac_sha256_hex(app_secret.as_bytes(), &req.body, signature) {
        return reply(401, "bad signature");
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&req.body) else {
        return reply(400, "the body is not JSON");
    };
    let mut out = reply(200, "EVENT_RECEIVED");
    out.events = events(&payload);
    out.account_remote_id = payload["entry"][0]["id"].as_str().map(str::to_string);
    out
}

fn handshake(req: &WebhookRequest, verify_token: Option<&str>) -> WebhookReply {
    let q = |name: &str| {
        req.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match (
        q("hub.mode"),
        q("hub.verify_token"),
        q("hub.challenge"),
        verify_token,
    ) {
        (Some("subscribe"), Some(given), Some(challenge), Some(expected))
            if same(given, expected) =>
        {
            reply(200, challenge)
        }
        _ => reply(403, "verification failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(
        method: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> WebhookRequest {
        WebhookRequest {
            method: method.into(),
            query: query.iter().map(|(k, v)| pair(*k, *v)).collect(),
            headers: headers.iter().map(|(k, v)| pair(*k, *v)).collect(),
            body: body.to_vec(),
        }
    }

    fn one_event(payload: &Value) -> Vec<(String, WebhookEvent)> {
        vec![(
            "key".into(),
            WebhookEvent::Other(payload["object"].to_string()),
        )]
    }

    #[test]
    fn handshake_answers_the_challenge_only_for_our_token() {
        let q = [
            ("hub.mode", "subscribe"),
            ("hub.verify_token", "tok"),
            ("hub.challenge", "1158201444"),
        ];
        let get = req("GET", &q, &[], b"");
        let ok = handle(&get, Some("tok"), "s", one_event);
        assert_eq!((ok.status, ok.body), (200, b"1158201444".to_vec()));
        assert_eq!(handle(&get, Some("other"), "s", one_event).status, 403);
        assert_eq!(handle(&get, None, "s", one_event).status, 403);
    }

    #[test]
    fn only_signed_json_bodies_reach_the_events() {
        let body = br#"{"object":"page","entry":[{"id":"42"}]}"#;
        let sig = format!("sha256={}", oauth::hmac_sha256_hex(b"secret", body));
        let signed = handle(
            &req("POST", &[], &[("X-Hub-Signature-256", &sig)], body),
            None,
            "secret",
            one_event,
        );
        assert_eq!((signed.status, signed.events.len()), (200, 1));
        assert_eq!(signed.account_remote_id.as_deref(), Some("42"));
        let tampered = handle(
            &req("POST", &[], &[("X-Hub-Signature-256", &sig)], b"{}"),
            None,
            "secret",
            one_event,
        );
        assert_eq!((tampered.status, tampered.events.len()), (401, 0));
        let unsigned = handle(&req("POST", &[], &[], body), None, "secret", one_event);
        assert_eq!(unsigned.status, 401);
        let not_json_sig = format!("sha256={}", oauth::hmac_sha256_hex(b"secret", b"nope"));
        let not_json = handle(
            &req(
                "POST",
                &[],
                &[("X-Hub-Signature-256", &not_json_sig)],
                b"nope",
            ),
            None,
            "secret",
            one_event,
        );
        assert_eq!(not_json.status, 400);
    }
}
