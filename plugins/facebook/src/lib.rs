//! Facebook Pages through the Graph API.
//!
//! Connecting: Facebook Login (no PKCE in the server flow) → short-lived user token →
//! long-lived user token (about 60 days) → the Pages from `/me/accounts`, offered as
//! sub-accounts with their own Page tokens (which do not expire). A Page keeps the user
//! token too: uploads through the Resumable Upload API need it, and refreshing a Page
//! derives a fresh Page token from it. Facebook has no refresh tokens: once the user token
//! ends, the user logs in again.
//!
//! Every call carries `appsecret_proof`. Base URLs come from the app settings
//! `graph_url`, `graph_video_url` and `www_url` (defaults: the real hosts).

mod graph;
mod limits;
mod publish;
mod webhook;

use graph::{Auth, field, url};
use plugboard_sdk::prelude::*;
use publish::Page;
use serde_json::Value;

struct Facebook;

impl Platform for Facebook {
    fn describe() -> PlatformInfo {
        limits::describe()
    }

    fn validate(post: Post) -> Vec<Problem> {
        let mut problems = describe::check(&limits::describe(), &post);
        problems.extend(limits::check_more(&post));
        problems
    }

    fn authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        let client_id = secrets::app_required("client_id")?;
        let scopes = if req.scopes.is_empty() {
            limits::SCOPES.join(",")
        } else {
            req.scopes.join(",")
        };
        let query = [
            ("client_id", client_id.as_str()),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("state", req.state.as_str()),
            ("scope", scopes.as_str()),
            ("response_type", "code"),
        ];
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", oauth::percent_encode(v)))
            .collect();
        Ok(Authorization {
            url: format!(
                "{}?{}",
                url(&graph::www_base()?, "/dialog/oauth"),
                qs.join("&")
            ),
            stash: vec![],
        })
    }

    fn exchange_code(req: CodeExchange) -> Result<Connection, PluginError> {
        let param = |name: &str| {
            req.params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let code =
            param("code").ok_or_else(|| match param("error_description").or(param("error")) {
                Some(e) => {
                    PluginError::Permanent(format!("Facebook refused the authorization: {e}"))
                }
                None => PluginError::Permanent("the callback carries no authorization code".into()),
            })?;
        let base = graph::graph_base()?;
        let client_id = secrets::app_required("client_id")?;
        let client_secret = secrets::app_required("client_secret")?;
        let short: Value = graph::json(graph::check(
            http::get(&url(&base, "/oauth/access_token"))
                .query(&[
                    ("client_id", client_id.as_str()),
                    ("redirect_uri", req.redirect_uri.as_str()),
                    ("client_secret", client_secret.as_str()),
                    ("code", code.as_str()),
                ])
                .send()?,
        )?)?;
        let (user_token, expires_at) = long_lived(&base, &field(&short, "access_token")?)?;
        let user = Auth::new(user_token.clone())?;
        let me = user.get(&url(&base, "/me"), &[("fields", "id,name")])?;
        let user_id = field(&me, "id")?;
        let pages = user.get(
            &url(&base, "/me/accounts"),
            &[("fields", "id,name,access_token,category,tasks")],
        )?;
        let mut accounts = vec![AccountProfile {
            remote_id: user_id.clone(),
            display_name: field(&me, "name")?,
            username: None,
            avatar_url: None,
            kind: "user".into(),
            properties: vec![pair("user_id", user_id.clone())],
            credentials: None,
        }];
        for p in pages["data"].as_array().into_iter().flatten() {
            let can_post = p["tasks"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "CREATE_CONTENT"));
            if !can_post {
                continue;
            }
            let page_id = field(p, "id")?;
            accounts.push(AccountProfile {
                remote_id: page_id.clone(),
                display_name: field(p, "name")?,
                username: None,
                avatar_url: None,
                kind: "page".into(),
                properties: vec![
                    pair("page_id", page_id),
                    pair("user_id", user_id.clone()),
                    pair("category", p["category"].as_str().unwrap_or_default()),
                ],
                credentials: Some(Credentials {
                    values: vec![
                        pair("access_token", field(p, "access_token")?),
                        pair("user_access_token", user_token.clone()),
                    ],
                    expires_at: None,
                }),
            });
        }
        Ok(Connection {
            credentials: Credentials {
                values: vec![pair("access_token", user_token)],
                expires_at,
            },
            accounts,
        })
    }

    /// A Page: a fresh Page token derived from the stored user token. The user: the
    /// long-lived token exchanged again (Facebook has no refresh tokens).
    fn refresh() -> Result<Credentials, PluginError> {
        let base = graph::graph_base()?;
        if let Some(page_id) = secrets::account("page_id")? {
            let user = Auth::user()?;
            let pages = user.get(
                &url(&base, "/me/accounts"),
                &[("fields", "id,access_token")],
            )?;
            let page = pages["data"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["id"].as_str() == Some(page_id.as_str()))
                .ok_or_else(|| {
                    PluginError::AuthExpired(format!(
                        "the user no longer manages Page {page_id}; reconnect"
                    ))
                })?;
            return Ok(Credentials {
                values: vec![pair("access_token", field(page, "access_token")?)],
                expires_at: None,
            });
        }
        let (token, expires_at) = long_lived(&base, &secrets::account_required("access_token")?)?;
        Ok(Credentials {
            values: vec![pair("access_token", token)],
            expires_at,
        })
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let problems = Self::validate(post.clone());
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        let page = Page::current()?;
        match post.kind.as_str() {
            "text" => publish::text(&page, &post),
            "image" => publish::image(&page, &post),
            "video" => publish::video(&page, &post),
            "reel" => publish::reel(&page, &post),
            "story" => publish::story(&page, &post),
            other => Err(invalid(
                "kind",
                "unknown-kind",
                format!("Facebook has no '{other}' posts"),
            )),
        }
    }

    fn check_status(handle: String) -> Result<PublishOutcome, PluginError> {
        publish::status(&handle)
    }

    /// Looks for the post in the Page's feed since shortly before it was due, by its
    /// text. Stories never appear in the feed, and a post without text cannot be told
    /// apart: those answer `unknown`. Videos and reels show in the feed only once
    /// processed, so not finding one is `unknown` too.
    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        if post.kind == "story" {
            return Ok(ReconcileOutcome::Unknown(
                "Facebook stories do not appear in the Page feed, so an interrupted story cannot be looked up".into(),
            ));
        }
        if post.text.trim().is_empty() {
            return Ok(ReconcileOutcome::Unknown(
                "the post has no text to recognise it by in the Page feed".into(),
            ));
        }
        let page = Page::current()?;
        let since = post
            .scheduled_at
            .unwrap_or_else(graph::now)
            .saturating_sub(600)
            .to_string();
        let feed = page.auth.get(
            &url(&page.graph, &format!("/{}/feed", page.id)),
            &[
                ("fields", "id,message,created_time"),
                ("since", since.as_str()),
                ("limit", "100"),
            ],
        )?;
        let found = feed["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["message"].as_str().map(str::trim) == Some(post.text.trim()));
        Ok(match found {
            Some(p) => {
                let id = field(p, "id")?;
                ReconcileOutcome::Published(PublishedPost {
                    url: p["permalink_url"].as_str().map(str::to_string),
                    remote_id: id,
                    thread_ids: Vec::new(),
                })
            }
            None if matches!(post.kind.as_str(), "video" | "reel") => ReconcileOutcome::Unknown(
                "a video still processing does not show in the Page feed yet".into(),
            ),
            None => ReconcileOutcome::NotPublished,
        })
    }

    fn delete(remote_id: String) -> Result<(), PluginError> {
        let page = Page::current()?;
        page.auth
            .delete(&url(&page.graph, &format!("/{remote_id}")))?;
        Ok(())
    }

    fn metrics(remote_id: Option<String>) -> Result<Vec<Metric>, PluginError> {
        let page = Page::current()?;
        let (object, metrics) = match &remote_id {
            Some(id) => (
                id.as_str(),
                "post_impressions,post_impressions_unique,post_clicks,post_reactions_like_total",
            ),
            None => (
                page.id.as_str(),
                "page_impressions,page_impressions_unique,page_post_engagements,page_follows",
            ),
        };
        let v = page.auth.get(
            &url(&page.graph, &format!("/{object}/insights")),
            &[("metric", metrics)],
        )?;
        Ok(metagraph::graph::metrics(&v))
    }

    fn list_comments(
        post_remote_id: Option<String>,
        cursor: Option<String>,
    ) -> Result<CommentPage, PluginError> {
        // Facebook lists comments per post only; `unsupported` makes the host poll each
        // recent post instead.
        let post_id = post_remote_id.ok_or_else(|| {
            PluginError::Unsupported(
                "Facebook lists comments per post, not for the whole Page".into(),
            )
        })?;
        let page = Page::current()?;
        let mut query = vec![
            ("fields", "id,message,from,created_time"),
            ("limit", "25"),
            ("order", "chronological"),
        ];
        if let Some(c) = &cursor {
            query.push(("after", c.as_str()));
        }
        let v = page
            .auth
            .get(&url(&page.graph, &format!("/{post_id}/comments")), &query)?;
        let comments = v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                Ok(Comment {
                    remote_id: field(c, "id")?,
                    post_remote_id: Some(post_id.clone()),
                    parent_remote_id: None,
                    author_name: c["from"]["name"].as_str().unwrap_or_default().into(),
                    author_id: c["from"]["id"].as_str().map(str::to_string),
                    text: c["message"].as_str().unwrap_or_default().into(),
                    created_at: c["created_time"]
                        .as_str()
                        .and_then(graph::iso_to_unix)
                        .unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, PluginError>>()?;
        Ok(CommentPage {
            comments,
            next_cursor: metagraph::graph::next_cursor(&v),
        })
    }

    fn reply_comment(comment_remote_id: String, text: String) -> Result<String, PluginError> {
        let page = Page::current()?;
        let v = page.auth.post(
            &url(&page.graph, &format!("/{comment_remote_id}/comments")),
            &[("message", text.as_str())],
        )?;
        field(&v, "id")
    }

    fn handle_webhook(req: WebhookRequest) -> Result<WebhookReply, PluginError> {
        let verify = secrets::app("webhook_verify_token")?;
        let secret = secrets::app_required("client_secret")?;
        Ok(webhook::handle(&req, verify.as_deref(), &secret))
    }
}

/// Exchanges a user token for a long-lived one; with its expiry (Unix seconds).
fn long_lived(base: &str, token: &str) -> Result<(String, Option<u64>), PluginError> {
    let client_id = secrets::app_required("client_id")?;
    let client_secret = secrets::app_required("client_secret")?;
    let v = graph::json(graph::check(
        http::get(&url(base, "/oauth/access_token"))
            .query(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
                ("fb_exchange_token", token),
            ])
            .send()?,
    )?)?;
    let expires_at = v["expires_in"].as_u64().map(|s| graph::now() + s);
    Ok((field(&v, "access_token")?, expires_at))
}

plugboard_sdk::export_platform!(
    Facebook,
    manifest = r#"
name = "Facebook"
description = "Publish to Facebook Pages: text, links, photos, videos, reels and stories; comments, insights and webhooks."
hosts = ["https://graph.facebook.com", "https://graph-video.facebook.com", "https://rupload.facebook.com", "https://www.facebook.com", "http://127.0.0.1:*"]
secrets = ["client_id", "client_secret", "graph_url", "graph_video_url", "www_url", "webhook_verify_token", "upload_chunk_bytes"]
storage-quota = 1048576
"#
);
