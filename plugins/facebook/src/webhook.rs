//! Meta webhooks for Pages: the `hub.challenge` handshake and signed `feed` changes.
//! Pure functions of the request and two app settings — no network calls.

use plugboard_sdk::prelude::*;
use serde_json::Value;

/// `verify_token` is the app's `webhook_verify_token`, `app_secret` its `client_secret`.
pub fn handle(req: &WebhookRequest, verify_token: Option<&str>, app_secret: &str) -> WebhookReply {
    metagraph::webhook::handle(req, verify_token, app_secret, events)
}

/// One event per change: `feed` comments (add, edited) as comments, the rest as `other`.
/// Keys name the entry time, so Meta's retries of a delivery are recognised as replays.
pub fn events(payload: &Value) -> Vec<(String, WebhookEvent)> {
    let mut out = Vec::new();
    let Some(entries) = payload["entry"].as_array() else {
        return out;
    };
    for entry in entries {
        let page = entry["id"].as_str().unwrap_or_default();
        let time = entry["time"].as_u64().unwrap_or_default();
        for (i, change) in entry["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let v = &change["value"];
            let field = change["field"].as_str().unwrap_or_default();
            let is_comment = field == "feed" && v["item"] == "comment";
            match (is_comment, v["verb"].as_str(), v["comment_id"].as_str()) {
                (true, Some(verb @ ("add" | "edited")), Some(comment_id)) => {
                    let post_id = v["post_id"].as_str().map(str::to_string);
                    let parent = v["parent_id"]
                        .as_str()
                        .map(str::to_string)
                        .filter(|p| Some(p) != post_id.as_ref());
                    out.push((
                        format!("facebook:{page}:comment:{comment_id}:{verb}:{time}"),
                        WebhookEvent::Comment(Comment {
                            remote_id: comment_id.into(),
                            post_remote_id: post_id,
                            parent_remote_id: parent,
                            author_name: v["from"]["name"].as_str().unwrap_or_default().into(),
                            author_id: v["from"]["id"].as_str().map(str::to_string),
                            text: v["message"].as_str().unwrap_or_default().into(),
                            created_at: v["created_time"].as_u64().unwrap_or(time),
                        }),
                    ));
                }
                _ => out.push((
                    format!("facebook:{page}:{field}:{time}:{i}"),
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
    fn signed_comment_changes_become_comment_events() {
        let body = br#"{"object":"page","entry":[{"id":"42","time":1700000000,"changes":[{"field":"feed","value":{"item":"comment","verb":"add","comment_id":"9_1","post_id":"42_9","parent_id":"42_9","from":{"id":"7","name":"Bob"},"message":"Nice","created_time":1700000000}}]}]}"#;
        let sig = format!("sha256={}", oauth::hmac_sha256_hex(b"secret", body));
        let got = handle(
            &req("POST", &[], &[("X-Hub-Signature-256", &sig)], body),
            None,
            "secret",
        );
        assert_eq!(got.status, 200);
        assert_eq!(got.account_remote_id.as_deref(), Some("42"));
        assert_eq!(got.events.len(), 1);
        let (key, WebhookEvent::Comment(c)) = &got.events[0] else {
            panic!("not a comment")
        };
        assert_eq!(key, "facebook:42:comment:9_1:add:1700000000");
        assert_eq!(
            (c.text.as_str(), c.parent_remote_id.as_deref()),
            ("Nice", None)
        );
        let tampered = handle(
            &req("POST", &[], &[("X-Hub-Signature-256", &sig)], b"{}"),
            None,
            "secret",
        );
        assert_eq!((tampered.status, tampered.events.len()), (401, 0));
    }
}
