//! X (Twitter): posts with text, up to 4 images, a GIF or a video, and threads as reply
//! chains, through API v2.
//!
//! The app settings pick the authorization: `client_id` (+ `client_secret`) → OAuth 2.0
//! with PKCE, whose access tokens expire after 2 hours and whose refresh tokens rotate (each
//! refresh returns the pair that replaces the stored one); `consumer_key` +
//! `consumer_secret` → OAuth 1.0a user context, every request signed with HMAC-SHA1.
//! Video and GIFs are processed by X after upload: `publish` answers *pending* and
//! `check_status` posts once processing succeeded. Upload progress and the ids of thread
//! items already posted are kept in plugin storage per target, so a retry continues where
//! the last attempt stopped and never re-sends acknowledged segments or posts twice.

mod api;
mod limits;
mod upload;

use api::{Consumer, Session};
use base64::Engine;
use plugboard_sdk::http::Method;
use plugboard_sdk::prelude::*;
use serde::{Deserialize, Serialize};

struct X;

/// Posts to create once media is ready; also the pending handle.
#[derive(Serialize, Deserialize)]
struct Plan {
    target_id: String,
    items: Vec<PlanItem>,
    reply_settings: Option<String>,
    /// Media ids X is still processing.
    processing: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct PlanItem {
    text: String,
    media_ids: Vec<String>,
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A request to an OAuth 2.0 endpoint (`token`, `revoke`) with client authentication:
/// HTTP Basic for a confidential client (with a secret), else the client id in the form
/// (public client).
fn client_request(
    endpoint: &str,
    form: &mut Vec<(String, String)>,
) -> Result<http::RequestBuilder, PluginError> {
    let client_id = secrets::app_required("client_id")?;
    let url = format!("{}/2/oauth2/{endpoint}", api::api_url()?);
    let mut builder = http::post(&url);
    match secrets::app("client_secret")? {
        Some(secret) => {
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
            builder = builder.header("Authorization", &format!("Basic {basic}"));
        }
        None => form.push(pair("client_id", client_id)),
    }
    Ok(builder)
}

fn credentials(token: api::Token) -> Credentials {
    let mut values = vec![pair("access_token", token.access_token)];
    if let Some(refresh) = token.refresh_token {
        values.push(pair("refresh_token", refresh));
    }
    Credentials {
        values,
        expires_at: token.expires_in.map(|s| api::now() + s),
    }
}

fn profile(user: api::User) -> AccountProfile {
    AccountProfile {
        remote_id: user.id.clone(),
        display_name: user.name,
        username: Some(user.username.clone()),
        avatar_url: None,
        kind: "user".into(),
        properties: vec![pair("user_id", user.id), pair("username", user.username)],
        credentials: None,
    }
}

fn form_fields(body: &[u8]) -> Result<Vec<(String, String)>, PluginError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| PluginError::Transient(format!("X answered an unreadable form: {e}")))
}

impl Platform for X {
    fn describe() -> PlatformInfo {
        limits::describe()
    }

    fn validate(post: Post) -> Vec<Problem> {
        limits::check(&post)
    }

    fn authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        if let Some(client_id) = secrets::app("client_id")? {
            let scopes = if req.scopes.is_empty() {
                limits::SCOPES.join(" ")
            } else {
                req.scopes.join(" ")
            };
            let query = [
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", req.redirect_uri.as_str()),
                ("scope", scopes.as_str()),
                ("state", req.state.as_str()),
                ("code_challenge", req.code_challenge.as_str()),
                ("code_challenge_method", "S256"),
            ];
            let qs: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", oauth::percent_encode(v)))
                .collect();
            return Ok(Authorization {
                url: format!("{}/i/oauth2/authorize?{}", api::web_url()?, qs.join("&")),
                stash: vec![],
            });
        }
        let consumer = Consumer::configured()?.ok_or_else(|| {
            PluginError::Permanent(
                "the X app needs either a client_id (OAuth 2.0) or a consumer_key and consumer_secret (OAuth 1.0a)"
                    .into(),
            )
        })?;
        // OAuth 1.0a has no state parameter: the host's state rides in the callback URL.
        let separator = if req.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        let callback = format!(
            "{}{separator}state={}",
            req.redirect_uri,
            oauth::percent_encode(&req.state)
        );
        let url = format!("{}/oauth/request_token", api::api_url()?);
        let auth = consumer.sign("POST", &url, &[], None, &[("oauth_callback", &callback)]);
        let resp = api::check(http::post(&url).header("Authorization", &auth).send()?)?;
        let fields = form_fields(&resp.body)?;
        let token = param(&fields, "oauth_token");
        let secret = param(&fields, "oauth_token_secret");
        let (Some(token), Some(secret), Some("true")) =
            (token, secret, param(&fields, "oauth_callback_confirmed"))
        else {
            return Err(PluginError::Permanent(
                "X did not confirm the OAuth 1.0a callback".into(),
            ));
        };
        Ok(Authorization {
            url: format!(
                "{}/oauth/authorize?oauth_token={}",
                api::api_url()?,
                oauth::percent_encode(token)
            ),
            stash: vec![
                pair("oauth_token", token),
                pair("oauth_token_secret", secret),
            ],
        })
    }

    fn exchange_code(req: CodeExchange) -> Result<Connection, PluginError> {
        if let Some(error) = param(&req.params, "error") {
            return Err(PluginError::Permanent(format!(
                "X refused the authorization: {error}"
            )));
        }
        let base = api::api_url()?;
        if let Some(verifier) = param(&req.params, "oauth_verifier") {
            let consumer = Consumer::configured()?.ok_or_else(|| {
                PluginError::Permanent("the X app has no consumer_key for OAuth 1.0a".into())
            })?;
            let stashed = param(&req.stash, "oauth_token").unwrap_or_default();
            if param(&req.params, "oauth_token") != Some(stashed) {
                return Err(PluginError::Permanent(
                    "the callback's oauth_token is not the one this connection started with".into(),
                ));
            }
            let secret = param(&req.stash, "oauth_token_secret").unwrap_or_default();
            let url = format!("{base}/oauth/access_token");
            let auth = consumer.sign(
                "POST",
                &url,
                &[],
                Some((stashed, secret)),
                &[("oauth_verifier", verifier)],
            );
            let resp = api::check(http::post(&url).header("Authorization", &auth).send()?)?;
            let fields = form_fields(&resp.body)?;
            let (Some(token), Some(token_secret)) = (
                param(&fields, "oauth_token"),
                param(&fields, "oauth_token_secret"),
            ) else {
                return Err(PluginError::Permanent(
                    "X's access-token answer has no token".into(),
                ));
            };
            let session = Session::OAuth1 {
                consumer,
                token: token.into(),
                secret: token_secret.into(),
            };
            let me: api::Data<api::User> =
                api::check(session.get(&format!("{base}/2/users/me"))?)?.json()?;
            return Ok(Connection {
                // OAuth 1.0a user tokens do not expire.
                credentials: Credentials {
                    values: vec![
                        pair("oauth_token", token),
                        pair("oauth_token_secret", token_secret),
                    ],
                    expires_at: None,
                },
                accounts: vec![profile(me.data)],
            });
        }
        let code = param(&req.params, "code").ok_or_else(|| {
            PluginError::Permanent("the callback carries no authorization code".into())
        })?;
        let mut form = vec![
            pair("grant_type", "authorization_code"),
            pair("code", code),
            pair("redirect_uri", req.redirect_uri.as_str()),
            pair("code_verifier", req.code_verifier.as_str()),
        ];
        let builder = client_request("token", &mut form)?;
        let token: api::Token = api::check(builder.form(&form).send()?)?.json()?;
        let session = Session::Bearer(token.access_token.clone());
        let me: api::Data<api::User> =
            api::check(session.get(&format!("{base}/2/users/me"))?)?.json()?;
        Ok(Connection {
            credentials: credentials(token),
            accounts: vec![profile(me.data)],
        })
    }

    fn refresh() -> Result<Credentials, PluginError> {
        if secrets::account("oauth_token_secret")?.is_some() {
            return Err(PluginError::Permanent(
                "OAuth 1.0a tokens do not expire; X refused this one, so reconnect the account"
                    .into(),
            ));
        }
        let refresh = secrets::account_required("refresh_token")?;
        let mut form = vec![
            pair("grant_type", "refresh_token"),
            pair("refresh_token", refresh),
        ];
        let builder = client_request("token", &mut form)?;
        let resp = builder.form(&form).send()?;
        if resp.status == 400 {
            // A spent or revoked refresh token: only a new authorization helps.
            return Err(PluginError::AuthExpired(format!(
                "X refused the refresh token: {}",
                resp.text()
            )));
        }
        Ok(credentials(api::check(resp)?.json()?))
    }

    fn revoke() -> Result<(), PluginError> {
        if secrets::account("oauth_token_secret")?.is_some() {
            return Err(unsupported(
                "revoking OAuth 1.0a tokens through the API (remove the app under X's connected apps)",
            ));
        }
        let token = secrets::account_required("access_token")?;
        let mut form = vec![
            pair("token", token),
            pair("token_type_hint", "access_token"),
        ];
        let request = client_request("revoke", &mut form)?;
        api::check(request.form(&form).send()?)?;
        Ok(())
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let problems = limits::check(&post);
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        let session = Session::current()?;
        let mut plan = Plan {
            target_id: post.target_id.clone(),
            items: Vec::new(),
            reply_settings: post
                .options
                .iter()
                .find(|(k, _)| k == "reply_settings")
                .map(|(_, v)| v.clone()),
            processing: Vec::new(),
        };
        let mut wait = 0;
        let first = std::iter::once((post.text.clone(), post.media.clone()));
        let rest = post
            .thread
            .iter()
            .map(|t| (t.text.clone(), t.media.clone()));
        for (i, (text, media)) in first.chain(rest).enumerate() {
            let mut media_ids = Vec::new();
            for (j, m) in media.iter().enumerate() {
                let uploaded = upload::upload(&session, &post.target_id, i, j, m)?;
                if let Some(after) = uploaded.processing {
                    wait = wait.max(after);
                    plan.processing.push(uploaded.id.clone());
                }
                media_ids.push(uploaded.id);
            }
            plan.items.push(PlanItem { text, media_ids });
        }
        if !plan.processing.is_empty() {
            return pending(&plan, wait, "X is processing the media");
        }
        post_items(&session, &plan)
    }

    fn check_status(handle: String) -> Result<PublishOutcome, PluginError> {
        let mut plan: Plan = serde_json::from_str(&handle)
            .map_err(|e| PluginError::Permanent(format!("unreadable pending handle: {e}")))?;
        let session = Session::current()?;
        let mut still = Vec::new();
        let mut wait = 0;
        for id in &plan.processing {
            if let Some(after) = upload::status(&session, id)? {
                wait = wait.max(after);
                still.push(id.clone());
            }
        }
        plan.processing = still;
        if !plan.processing.is_empty() {
            return pending(&plan, wait, "X is still processing the media");
        }
        post_items(&session, &plan)
    }

    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        let stored = posted_ids(&post.target_id, 1 + post.thread.len())?;
        if let Some(first) = stored.first().and_then(Clone::clone) {
            if stored.iter().all(Option::is_some) {
                return Ok(ReconcileOutcome::Published(PublishedPost {
                    url: status_url(&first)?,
                    remote_id: first,
                    thread_ids: stored.into_iter().skip(1).flatten().collect(),
                }));
            }
            // Part of the thread is up; publishing again continues after the last posted
            // item without repeating any.
            return Ok(ReconcileOutcome::NotPublished);
        }
        let session = Session::current()?;
        let user = secrets::account_required("user_id")?;
        let url = format!("{}/2/users/{user}/tweets?max_results=100", api::api_url()?);
        let timeline: api::Timeline = api::check(session.get(&url)?)?.json()?;
        Ok(
            match timeline.data.into_iter().find(|t| t.text == post.text) {
                Some(tweet) => ReconcileOutcome::Published(PublishedPost {
                    url: status_url(&tweet.id)?,
                    remote_id: tweet.id,
                    thread_ids: Vec::new(),
                }),
                None => ReconcileOutcome::NotPublished,
            },
        )
    }

    fn delete(remote_id: String) -> Result<(), PluginError> {
        let session = Session::current()?;
        let url = format!("{}/2/tweets/{remote_id}", api::api_url()?);
        api::check(session.send(Method::Delete, &url, &[], |b| b)?)?;
        Ok(())
    }
}

fn pending(plan: &Plan, wait: u32, message: &str) -> Result<PublishOutcome, PluginError> {
    Ok(PublishOutcome::Pending(PendingPost {
        handle: serde_json::to_string(plan).map_err(|e| PluginError::Permanent(e.to_string()))?,
        poll_after_secs: wait.max(1),
        message: message.into(),
    }))
}

fn posted_key(target: &str, item: usize) -> String {
    format!("tw/{target}/{item}")
}

/// The ids of the items of `target` already posted, by position.
fn posted_ids(target: &str, count: usize) -> Result<Vec<Option<String>>, PluginError> {
    (0..count)
        .map(|i| storage::get_string(&posted_key(target, i)))
        .collect()
}

fn status_url(id: &str) -> Result<Option<String>, PluginError> {
    Ok(secrets::account("username")?.map(|u| format!("https://x.com/{u}/status/{id}")))
}

/// Posts every item not yet posted, each replying to the one before.
fn post_items(session: &Session, plan: &Plan) -> Result<PublishOutcome, PluginError> {
    let url = format!("{}/2/tweets", api::api_url()?);
    let mut ids: Vec<String> = Vec::new();
    for (i, item) in plan.items.iter().enumerate() {
        let key = posted_key(&plan.target_id, i);
        if let Some(id) = storage::get_string(&key)? {
            ids.push(id);
            continue;
        }
        let mut body = serde_json::json!({ "text": item.text });
        if !item.media_ids.is_empty() {
            body["media"] = serde_json::json!({ "media_ids": item.media_ids });
        }
        if let Some(parent) = ids.last() {
            body["reply"] = serde_json::json!({ "in_reply_to_tweet_id": parent });
        }
        if let Some(settings) = &plan.reply_settings {
            body["reply_settings"] = settings.clone().into();
        }
        let created: api::Data<api::Tweet> = api::check(session.post_json(&url, &body)?)?.json()?;
        storage::set_string(&key, &created.data.id)?;
        ids.push(created.data.id);
    }
    upload::forget(&plan.target_id)?;
    let mut ids = ids.into_iter();
    let first = ids
        .next()
        .ok_or_else(|| PluginError::Permanent("nothing to post".into()))?;
    Ok(PublishOutcome::Published(PublishedPost {
        url: status_url(&first)?,
        remote_id: first,
        thread_ids: ids.collect(),
    }))
}

plugboard_sdk::export_platform!(
    X,
    manifest = r#"
name = "X"
description = "Publish posts with images, GIFs, video and threads to X (Twitter)."
hosts = ["https://api.x.com", "https://x.com", "http://127.0.0.1:*"]
secrets = ["client_id", "client_secret", "consumer_key", "consumer_secret", "api_url", "web_url", "media_chunk_bytes"]
storage-quota = 1048576
"#
);
