//! Instagram professional accounts through the Graph API.
//!
//! Two logins, chosen by the app setting `login`:
//! - `instagram` (default), Instagram Login: the authorize page on www.instagram.com, the
//!   code exchanged on api.instagram.com for a one-hour token, traded at once for a 60-day
//!   token (`ig_exchange_token`) that `refresh` renews with `ig_refresh_token`; the API host
//!   is graph.instagram.com. The connected account is the professional account itself.
//! - `facebook`, Facebook Login: the dialog on www.facebook.com, a 60-day user token
//!   (`fb_exchange_token`, which `refresh` repeats — Facebook has no refresh tokens), and
//!   the Instagram accounts linked to the user's Pages offered as sub-accounts that act
//!   with the user token; the API host is graph.facebook.com.
//!
//! Publishing is the same for both (see [`publish`]). Every call carries
//! `appsecret_proof`. Hosts come from the app settings `graph_url`, `api_url` and
//! `www_url` (defaults: the real hosts).

mod graph;
mod limits;
mod publish;
mod webhook;

use graph::{Auth, Login, field, url};
use plugboard_sdk::prelude::*;
use publish::{Account, Plan};
use serde_json::Value;

struct Instagram;

impl Platform for Instagram {
    fn describe() -> PlatformInfo {
        limits::describe()
    }

    fn validate(post: Post) -> Vec<Problem> {
        let mut problems = describe::check(&limits::describe(), &post);
        problems.extend(limits::check_more(&post));
        problems
    }

    fn authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        let login = Login::current()?;
        let client_id = secrets::app_required("client_id")?;
        let defaults = match login {
            Login::Instagram => limits::INSTAGRAM_SCOPES,
            Login::Facebook => limits::FACEBOOK_SCOPES,
        };
        let scopes = if req.scopes.is_empty() {
            defaults.join(",")
        } else {
            req.scopes.join(",")
        };
        let query = [
            ("client_id", client_id.as_str()),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", scopes.as_str()),
            ("state", req.state.as_str()),
        ];
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", oauth::percent_encode(v)))
            .collect();
        let base = graph::www_base(login)?;
        let page = match login {
            Login::Instagram => format!("{base}/oauth/authorize"),
            Login::Facebook => url(&base, "/dialog/oauth"),
        };
        Ok(Authorization {
            url: format!("{page}?{}", qs.join("&")),
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
        let code = param("code").ok_or_else(|| {
            let why = param("error_description")
                .or(param("error_reason"))
                .or(param("error"))
                .unwrap_or_else(|| "the callback carries no authorization code".into());
            PluginError::Permanent(format!("Instagram refused the authorization: {why}"))
        })?;
        // Instagram appends `#_` to the redirect; a code copied with it must lose it.
        let code = code.trim_end_matches("#_");
        match Login::current()? {
            Login::Instagram => instagram_connect(code, &req.redirect_uri),
            Login::Facebook => facebook_connect(code, &req.redirect_uri),
        }
    }

    /// Instagram Login: `ig_refresh_token` (the token must be unexpired and a day old).
    /// Facebook Login: the user token exchanged again for a long-lived one.
    fn refresh() -> Result<Credentials, PluginError> {
        let login = Login::current()?;
        let base = graph::graph_base(login)?;
        let token = secrets::account_required("access_token")?;
        let v = match login {
            Login::Instagram => graph::check(
                http::get(&format!("{base}/refresh_access_token"))
                    .query(&[
                        ("grant_type", "ig_refresh_token"),
                        ("access_token", token.as_str()),
                    ])
                    .send()?,
            )?
            .json()?,
            Login::Facebook => fb_long_lived(&base, &token)?,
        };
        credentials(&v)
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let problems = Self::validate(post.clone());
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        publish::publish(&post)
    }

    fn check_status(handle: String) -> Result<PublishOutcome, PluginError> {
        let account = Account::current()?;
        let plan = Plan::load(&handle)?.ok_or_else(|| {
            PluginError::Permanent(format!("no publishing plan is stored for {handle}"))
        })?;
        publish::advance(&account, &handle, &plan)
    }

    /// With a saved plan, the container tells: `PUBLISHED` is looked up among the recent
    /// posts, anything else was not published (publishing again resumes the plan).
    /// Without one, recent posts are searched by caption since shortly before the post was
    /// due; a story has no caption to recognise it by, so it answers `unknown`.
    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        let account = Account::current()?;
        let since = post.scheduled_at.map(|t| t.saturating_sub(600));
        if let Some(plan) = Plan::load(&post.target_id)? {
            let Some(container) = plan.container.as_deref() else {
                return Ok(ReconcileOutcome::NotPublished);
            };
            let v = account
                .auth
                .get(&account.object(container), &[("fields", "status_code")])?;
            if v["status_code"] != "PUBLISHED" {
                return Ok(ReconcileOutcome::NotPublished);
            }
            return Ok(
                match publish::find_published(&account, &post.kind, &post.text, since)? {
                    Some(found) => {
                        Plan::drop(&post.target_id)?;
                        ReconcileOutcome::Published(found)
                    }
                    None => ReconcileOutcome::Unknown(
                        "Instagram reports the container published but the post is not listed yet"
                            .into(),
                    ),
                },
            );
        }
        if post.kind == "story" {
            return Ok(ReconcileOutcome::Unknown(
                "an Instagram story has no caption to recognise it by among the account's stories"
                    .into(),
            ));
        }
        if post.text.trim().is_empty() {
            return Ok(ReconcileOutcome::Unknown(
                "the post has no caption to recognise it by among the account's media".into(),
            ));
        }
        Ok(
            match publish::find_published(&account, &post.kind, &post.text, since)? {
                Some(found) => ReconcileOutcome::Published(found),
                None => ReconcileOutcome::NotPublished,
            },
        )
    }

    fn metrics(remote_id: Option<String>) -> Result<Vec<Metric>, PluginError> {
        let account = Account::current()?;
        let v = match &remote_id {
            Some(id) => account.auth.get(
                &url(&account.graph, &format!("/{id}/insights")),
                &[(
                    "metric",
                    "views,reach,likes,comments,shares,saved,total_interactions",
                )],
            )?,
            None => account.auth.get(
                &account.edge("insights"),
                &[
                    (
                        "metric",
                        "views,reach,accounts_engaged,total_interactions,follower_count",
                    ),
                    ("period", "day"),
                ],
            )?,
        };
        Ok(metagraph::graph::metrics(&v))
    }

    fn list_comments(
        post_remote_id: Option<String>,
        cursor: Option<String>,
    ) -> Result<CommentPage, PluginError> {
        let media = post_remote_id.ok_or_else(|| {
            invalid(
                "post",
                "post-required",
                "Instagram lists comments per post; name the post",
            )
        })?;
        let account = Account::current()?;
        let mut query = vec![
            ("fields", "id,text,username,from,timestamp"),
            ("limit", "50"),
        ];
        if let Some(c) = &cursor {
            query.push(("after", c.as_str()));
        }
        let v = account
            .auth
            .get(&url(&account.graph, &format!("/{media}/comments")), &query)?;
        let comments = v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                Ok(Comment {
                    remote_id: field(c, "id")?,
                    post_remote_id: Some(media.clone()),
                    parent_remote_id: None,
                    author_name: c["username"].as_str().unwrap_or_default().into(),
                    author_id: c["from"]["id"].as_str().map(str::to_string),
                    text: c["text"].as_str().unwrap_or_default().into(),
                    created_at: c["timestamp"]
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
        let account = Account::current()?;
        let v = account.auth.post(
            &url(&account.graph, &format!("/{comment_remote_id}/replies")),
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

/// `{access_token, expires_in}` as credentials with an absolute expiry.
fn credentials(v: &Value) -> Result<Credentials, PluginError> {
    Ok(Credentials {
        values: vec![pair("access_token", field(v, "access_token")?)],
        expires_at: v["expires_in"].as_u64().map(|s| graph::now() + s),
    })
}

fn instagram_connect(code: &str, redirect_uri: &str) -> Result<Connection, PluginError> {
    let client_id = secrets::app_required("client_id")?;
    let client_secret = secrets::app_required("client_secret")?;
    let short: Value = graph::check(
        http::post(&format!("{}/oauth/access_token", graph::api_base()?))
            .form(&[
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", redirect_uri),
                ("code", code),
            ])
            .send()?,
    )?
    .json()?;
    // The documented answer is `{"data":[{…}]}`; older apps saw the object alone.
    let short = if short["data"].is_array() {
        short["data"][0].clone()
    } else {
        short
    };
    let base = graph::graph_base(Login::Instagram)?;
    let long: Value = graph::check(
        http::get(&format!("{base}/access_token"))
            .query(&[
                ("grant_type", "ig_exchange_token"),
                ("client_secret", client_secret.as_str()),
                ("access_token", field(&short, "access_token")?.as_str()),
            ])
            .send()?,
    )?
    .json()?;
    let creds = credentials(&long)?;
    let auth = Auth::new(field(&long, "access_token")?)?;
    let me = auth.get(
        &url(&base, "/me"),
        &[(
            "fields",
            "user_id,username,name,account_type,profile_picture_url",
        )],
    )?;
    let user_id = field(&me, "user_id").or_else(|_| field(&me, "id"))?;
    let username = field(&me, "username")?;
    Ok(Connection {
        credentials: creds,
        accounts: vec![AccountProfile {
            remote_id: user_id.clone(),
            display_name: me["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(&username)
                .to_string(),
            username: Some(username),
            avatar_url: me["profile_picture_url"].as_str().map(str::to_string),
            kind: "user".into(),
            properties: vec![
                pair("user_id", user_id),
                pair(
                    "account_type",
                    me["account_type"].as_str().unwrap_or_default(),
                ),
            ],
            credentials: None,
        }],
    })
}

fn fb_long_lived(base: &str, token: &str) -> Result<Value, PluginError> {
    let client_id = secrets::app_required("client_id")?;
    let client_secret = secrets::app_required("client_secret")?;
    graph::check(
        http::get(&url(base, "/oauth/access_token"))
            .query(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
                ("fb_exchange_token", token),
            ])
            .send()?,
    )?
    .json()
}

/// Facebook Login: the user, then the Instagram accounts linked to the user's Pages as
/// sub-accounts acting with the user token.
fn facebook_connect(code: &str, redirect_uri: &str) -> Result<Connection, PluginError> {
    let base = graph::graph_base(Login::Facebook)?;
    let client_id = secrets::app_required("client_id")?;
    let client_secret = secrets::app_required("client_secret")?;
    let short: Value = graph::check(
        http::get(&url(&base, "/oauth/access_token"))
            .query(&[
                ("client_id", client_id.as_str()),
                ("redirect_uri", redirect_uri),
                ("client_secret", client_secret.as_str()),
                ("code", code),
            ])
            .send()?,
    )?
    .json()?;
    let long = fb_long_lived(&base, &field(&short, "access_token")?)?;
    let creds = credentials(&long)?;
    let auth = Auth::new(field(&long, "access_token")?)?;
    let me = auth.get(&url(&base, "/me"), &[("fields", "id,name")])?;
    let pages = auth.get(
        &url(&base, "/me/accounts"),
        &[("fields", "id,name,instagram_business_account{id,username}")],
    )?;
    let mut accounts = vec![AccountProfile {
        remote_id: field(&me, "id")?,
        display_name: field(&me, "name")?,
        username: None,
        avatar_url: None,
        kind: "user".into(),
        properties: vec![],
        credentials: None,
    }];
    for p in pages["data"].as_array().into_iter().flatten() {
        let ig = &p["instagram_business_account"];
        let Ok(ig_id) = field(ig, "id") else {
            continue;
        };
        let username = ig["username"].as_str().map(str::to_string);
        accounts.push(AccountProfile {
            remote_id: ig_id.clone(),
            display_name: username.clone().unwrap_or_else(|| ig_id.clone()),
            username,
            avatar_url: None,
            kind: "instagram".into(),
            properties: vec![pair("user_id", ig_id), pair("page_id", field(p, "id")?)],
            credentials: None,
        });
    }
    Ok(Connection {
        credentials: creds,
        accounts,
    })
}

plugboard_sdk::export_platform!(
    Instagram,
    manifest = r#"
name = "Instagram"
description = "Publish to Instagram professional accounts: images, reels, stories and carousels; comments, insights and webhooks."
hosts = ["https://graph.instagram.com", "https://api.instagram.com", "https://www.instagram.com", "https://graph.facebook.com", "https://www.facebook.com", "http://127.0.0.1:*"]
secrets = ["client_id", "client_secret", "login", "graph_url", "api_url", "www_url", "webhook_verify_token", "status_poll_secs"]
storage-quota = 1048576
"#
);
