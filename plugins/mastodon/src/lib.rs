//! Mastodon: statuses with text, images, a video, or a reply thread, on any instance.
//!
//! Instance limits come from `GET /api/v2/instance` at connection time and are kept as
//! account properties, so validation uses the connected instance's own numbers.
//! Media still processing (video: 202) makes `publish` answer *pending*; `check_status`
//! posts the status once every attachment is ready. Each status carries an
//! `Idempotency-Key` derived from the post target, so a retried request cannot post twice.

mod api;
mod engagement;
mod limits;

use api::{Instance, MediaAttachment, Status};
use plugboard_sdk::http::{MediaBody, Part, PartBody};
use plugboard_sdk::prelude::*;
use serde::{Deserialize, Serialize};

struct Mastodon;

const SCOPES: &[&str] = &[
    "read:accounts",
    "read:statuses",
    "write:statuses",
    "write:media",
];

impl Platform for Mastodon {
    fn describe() -> PlatformInfo {
        limits::describe(&limits::InstanceLimits::default())
    }

    fn validate(post: Post) -> Vec<Problem> {
        let limits = limits::InstanceLimits::from_account();
        let mut problems = describe::check(&limits::describe(&limits), &post);
        problems.extend(limits::check_options(&post));
        problems
    }

    fn authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        let app = api::app_credentials(&req.redirect_uri)?;
        let scopes = if req.scopes.is_empty() {
            SCOPES.join(" ")
        } else {
            req.scopes.join(" ")
        };
        let query = [
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
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
        Ok(Authorization {
            url: format!("{}/oauth/authorize?{}", app.instance, qs.join("&")),
            stash: vec![],
        })
    }

    fn exchange_code(req: CodeExchange) -> Result<Connection, PluginError> {
        let code = req
            .params
            .iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| match req.params.iter().find(|(k, _)| k == "error") {
                Some((_, e)) => {
                    PluginError::Permanent(format!("Mastodon refused the authorization: {e}"))
                }
                None => PluginError::Permanent("the callback carries no authorization code".into()),
            })?;
        let app = api::app_credentials(&req.redirect_uri)?;
        let token: api::Token = api::check(
            http::post(&format!("{}/oauth/token", app.instance))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("client_id", app.client_id.as_str()),
                    ("client_secret", app.client_secret.as_str()),
                    ("redirect_uri", req.redirect_uri.as_str()),
                    ("code_verifier", req.code_verifier.as_str()),
                ])
                .send()?,
        )?
        .json()?;
        let me: api::Account = api::check(
            http::get(&format!(
                "{}/api/v1/accounts/verify_credentials",
                app.instance
            ))
            .bearer(&token.access_token)
            .send()?,
        )?
        .json()?;
        let instance: Instance =
            api::check(http::get(&format!("{}/api/v2/instance", app.instance)).send()?)?.json()?;
        let mut properties = vec![
            pair("instance_url", app.instance.clone()),
            pair("account_id", me.id.clone()),
        ];
        properties.extend(limits::InstanceLimits::from_instance(&instance).to_properties());
        Ok(Connection {
            credentials: Credentials {
                values: vec![pair("access_token", token.access_token)],
                // Mastodon tokens do not expire unless revoked.
                expires_at: None,
            },
            accounts: vec![AccountProfile {
                remote_id: me.id,
                display_name: if me.display_name.is_empty() {
                    me.username.clone()
                } else {
                    me.display_name
                },
                username: Some(me.acct),
                avatar_url: me.avatar,
                kind: "user".into(),
                properties,
                credentials: None,
            }],
        })
    }

    fn revoke() -> Result<(), PluginError> {
        let instance = secrets::account_required("instance_url")?;
        let app = api::app_credentials_for(&instance)?;
        let token = secrets::account_required("access_token")?;
        api::check(
            http::post(&format!("{instance}/oauth/revoke"))
                .form(&[
                    ("client_id", app.client_id.as_str()),
                    ("client_secret", app.client_secret.as_str()),
                    ("token", token.as_str()),
                ])
                .send()?,
        )?;
        Ok(())
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let problems = Self::validate(post.clone());
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        let session = api::Session::current()?;
        let mut plan = Plan {
            target_id: post.target_id.clone(),
            items: Vec::new(),
            options: post.options.clone(),
        };
        let mut pending = false;
        let first = std::iter::once((post.text.clone(), post.media.clone()));
        let rest = post
            .thread
            .iter()
            .map(|t| (t.text.clone(), t.media.clone()));
        for (text, media) in first.chain(rest) {
            let mut media_ids = Vec::new();
            for m in &media {
                let uploaded = upload(&session, m)?;
                pending |= uploaded.url.is_none();
                media_ids.push(uploaded.id);
            }
            plan.items.push(PlanItem { text, media_ids });
        }
        if pending {
            return Ok(PublishOutcome::Pending(PendingPost {
                handle: serde_json::to_string(&plan)
                    .map_err(|e| PluginError::Permanent(e.to_string()))?,
                poll_after_secs: 2,
                message: "Mastodon is processing the media".into(),
            }));
        }
        post_statuses(&session, &plan)
    }

    fn check_status(handle: String) -> Result<PublishOutcome, PluginError> {
        let plan: Plan = serde_json::from_str(&handle)
            .map_err(|e| PluginError::Permanent(format!("unreadable pending handle: {e}")))?;
        let session = api::Session::current()?;
        for item in &plan.items {
            for id in &item.media_ids {
                let resp = session.get(&format!("/api/v1/media/{id}"))?;
                if resp.status == 206 {
                    return Ok(PublishOutcome::Pending(PendingPost {
                        handle,
                        poll_after_secs: 2,
                        message: "Mastodon is still processing the media".into(),
                    }));
                }
                api::check(resp)?;
            }
        }
        post_statuses(&session, &plan)
    }

    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        let session = api::Session::current()?;
        let account_id = secrets::account_required("account_id")?;
        let wanted = api::plain_text(&api::html_escape(&post.text));
        // Page back through the account's statuses until they predate the attempt (its due
        // time, with margin), so a busy account's interrupted post is still found.
        let since = post.scheduled_at.map(|s| s.saturating_sub(600));
        let mut max_id: Option<String> = None;
        for _page in 0..10 {
            let mut path = format!("/api/v1/accounts/{account_id}/statuses?limit=40");
            if let Some(m) = &max_id {
                path.push_str(&format!("&max_id={m}"));
            }
            let page: Vec<Status> = api::check(session.get(&path)?)?.json()?;
            if let Some(s) = page.iter().find(|s| api::plain_text(&s.content) == wanted) {
                return Ok(ReconcileOutcome::Published(PublishedPost {
                    remote_id: s.id.clone(),
                    url: s.url.clone(),
                    thread_ids: Vec::new(),
                }));
            }
            let older_than_attempt = match (
                since,
                page.last().and_then(|s| api::iso_to_unix(&s.created_at)),
            ) {
                (Some(since), Some(oldest)) => oldest < since as i64,
                _ => false,
            };
            if page.len() < 40 || older_than_attempt {
                break;
            }
            max_id = page.last().map(|s| s.id.clone());
        }
        Ok(ReconcileOutcome::NotPublished)
    }

    fn delete(remote_id: String) -> Result<(), PluginError> {
        let session = api::Session::current()?;
        api::check(session.delete(&format!("/api/v1/statuses/{remote_id}"))?)?;
        Ok(())
    }

    fn metrics(remote_id: Option<String>) -> Result<Vec<Metric>, PluginError> {
        engagement::metrics(remote_id)
    }

    fn list_comments(
        post_remote_id: Option<String>,
        cursor: Option<String>,
    ) -> Result<CommentPage, PluginError> {
        engagement::list_comments(post_remote_id, cursor)
    }

    fn reply_comment(comment_remote_id: String, text: String) -> Result<String, PluginError> {
        engagement::reply_comment(comment_remote_id, text)
    }
}

/// Statuses to post once media is ready; also the pending handle.
#[derive(Serialize, Deserialize)]
struct Plan {
    target_id: String,
    items: Vec<PlanItem>,
    options: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct PlanItem {
    text: String,
    media_ids: Vec<String>,
}

fn upload(session: &api::Session, m: &MediaRef) -> Result<MediaAttachment, PluginError> {
    let mut parts = vec![Part {
        name: "file".into(),
        filename: Some(format!("upload.{}", extension(&m.mime_type))),
        content_type: Some(m.mime_type.clone()),
        body: PartBody::Media(MediaBody {
            handle: m.handle.clone(),
            offset: 0,
            length: None,
        }),
    }];
    if let Some(alt) = &m.alt_text {
        parts.push(Part {
            name: "description".into(),
            filename: None,
            content_type: None,
            body: PartBody::Text(alt.clone()),
        });
    }
    api::check(
        session
            .request(http::post(&format!("{}/api/v2/media", session.instance)).multipart(parts))?,
    )?
    .json()
}

fn extension(mime: &str) -> &str {
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/quicktime" => "mov",
        _ => "bin",
    }
}

fn post_statuses(session: &api::Session, plan: &Plan) -> Result<PublishOutcome, PluginError> {
    let mut ids: Vec<String> = Vec::new();
    let mut first_url = None;
    for (i, item) in plan.items.iter().enumerate() {
        let mut body = serde_json::json!({ "status": item.text, "media_ids": item.media_ids });
        for (k, v) in &plan.options {
            match k.as_str() {
                "visibility" | "spoiler_text" | "language" => body[k] = v.clone().into(),
                "sensitive" => body[k] = (v == "true").into(),
                _ => {}
            }
        }
        if let Some(parent) = ids.last() {
            body["in_reply_to_id"] = parent.clone().into();
        }
        // Stable per target and thread position: a repeated request returns the status
        // already created instead of posting it twice.
        let key = format!("{}-{i}", plan.target_id);
        let status: Status = api::check(
            session.request(
                http::post(&format!("{}/api/v1/statuses", session.instance))
                    .header("Idempotency-Key", &key)
                    .json(&body),
            )?,
        )?
        .json()?;
        if i == 0 {
            first_url = status.url.clone();
        }
        ids.push(status.id);
    }
    let mut ids = ids.into_iter();
    let first = ids
        .next()
        .ok_or_else(|| PluginError::Permanent("nothing to post".into()))?;
    Ok(PublishOutcome::Published(PublishedPost {
        remote_id: first,
        url: first_url,
        thread_ids: ids.collect(),
    }))
}

plugboard_sdk::export_platform!(
    Mastodon,
    manifest = r#"
name = "Mastodon"
description = "Publish statuses with images, video and threads to any Mastodon instance."
hosts = ["https://*", "http://127.0.0.1:*", "http://localhost:*"]
secrets = ["client_id", "client_secret", "instance_url"]
storage-quota = 1048576
"#
);
