//! Meta webhooks for Instagram: the `hub.challenge` handshake and signed `comments` /
//! `mentions` changes. Pure functions of the request and two app settings — no network.

use plugboard_sdk::prelude::*;
use serde_json::Value;

/// `verify_token` is the app's `webhook_verify_token`, `app_secret` its `client_secret`.
pub fn handle(req: &WebhookRequest, verify_token: Option<&str>, app_secret: &str) -> WebhookReply {
    metagraph::webhook::handle(req, verify_token, app_secret, events)
}

/// One event per change: `comments` as comments, `mentions` as mentions, the rest as
/// `other`. Comment keys are the comment ids (unique per comment), so Meta's retries of a
/// delivery are recognised as replays.
pub fn events(payload: &Value) -> Vec<(String, WebhookEvent)> {
    let mut out = Vec::new();
    for entry in payload["entry"].as_array().into_iter().flatten() {
        let account = entry["id"].as_str().unwrap_or_default();
        let time = entry["time"].as_u64().unwrap_or_default();
        for (i, change) in entry["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let v = &change["value"];
            let field = change["field"].as_str().unwrap_or_default();
            match (field, v["id"].as_str(), v["comment_id"].as_str()) {
                ("comments" | "live_comments", Some(id), _) => out.push((
                    format!("instagram:{account}:comment:{id}"),
                    WebhookEvent::Comment(Comment {
                        remote_id: id.into(),
                        post_remote_id: v["media"]["id"].as_str().map(str::to_string),
                        parent_remote_id: v["parent_id"].as_str().map(str::to_string),
                        author_name: v["from"]["username"].as_str().unwrap_or_default().into(),
                        author_id: v["from"]["id"].as_str().map(str::to_string),
                        text: v["text"].as_str().unwrap_or_default().into(),
                        created_at: time,
                    }),
                )),
                ("mentions", _, Some(comment)) => out.push((
                    format!("instagram:{account}:mention:{comment}"),
                    WebhookEvent::Mention(Comment {
                        remote_id: comment.into(),
                        post_remote_id: v["media_id"].as_str().map(str::to_string),
                        parent_remote_id: None,
                        author_name: String::new(),
                        author_id: None,
                        text: String::new(),
                        created_at: time,
                    }),
                )),
                _ => out.push((
                    format!("instagram:{account}:{field}:{time}:{i}"),
                    WebhookEvent::Other(format!("{field}: {v}")),
                )),
            }
        }
    }
    out
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

    #[test]
    fn signed_comments_become_comment_events() {
        let body = br#"{"object":"instagram","entry":[{"id":"1784","time":1700000000,"changes":[{"field":"comments","value":{"id":"179","from":{"id":"7","username":"bob"},"media":{"id":"555"},"text":"Nice"}}]}]}"#;
        let sig = format!("sha256={}", oauth::hmac_sha256_hex(b"secret", body));
        let got = handle(
            &req("POST", &[], &[("X-Hub-Signature-256", &sig)], body),
            None,
            "secret",
        );
        assert_eq!(got.status, 200);
        let (key, WebhookEvent::Comment(c)) = &got.events[0] else {
            panic!("not a comment")
        };
        assert_eq!(key, "instagram:1784:comment:179");
        assert_eq!(
            (c.text.as_str(), c.post_remote_id.as_deref()),
            ("Nice", Some("555"))
        );
        let tampered = handle(
            &req("POST", &[], &[("X-Hub-Signature-256", &sig)], b"{}"),
            None,
            "secret",
        );
        assert_eq!((tampered.status, tampered.events.len()), (401, 0));
    }
}
