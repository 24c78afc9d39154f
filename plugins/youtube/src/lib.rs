//! YouTube: videos and Shorts through the resumable upload protocol.
//!
//! The post's text is the description; the title is the `title` option or the text's
//! first line. The upload session is kept in plugin storage per post target, so a broken
//! transfer continues from the byte YouTube acknowledges — within the call and on the
//! next attempt — and `reconcile` can ask the session whether an interrupted upload
//! completed. A finished upload makes `publish` answer *pending*; `check_status` polls
//! `videos.list` until YouTube has processed the video.

mod api;
mod limits;
mod upload;

use api::Session;
use plugboard_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

struct Youtube;

impl Platform for Youtube {
    fn describe() -> PlatformInfo {
        limits::describe()
    }

    fn validate(post: Post) -> Vec<Problem> {
        let mut problems = describe::check(&limits::describe(), &post);
        problems.extend(limits::check(&post));
        problems
    }

    fn authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        let client_id = secrets::app_required("client_id")?;
        let scopes = if req.scopes.is_empty() {
            limits::SCOPES.join(" ")
        } else {
            req.scopes.join(" ")
        };
        let query = [
            ("client_id", client_id.as_str()),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", scopes.as_str()),
            // Offline access with consent is what makes Google hand out a refresh token.
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("state", req.state.as_str()),
            ("code_challenge", req.code_challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", oauth::percent_encode(v)))
            .collect();
        Ok(Authorization {
            url: format!("{}/o/oauth2/v2/auth?{}", api::oauth_url()?, qs.join("&")),
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
        let Some(code) = param("code") else {
            let why = param("error").unwrap_or_else(|| "no authorization code".into());
            return Err(PluginError::Permanent(format!(
                "Google refused the authorization: {why}"
            )));
        };
        let token: api::Token = token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", req.redirect_uri.as_str()),
                ("code_verifier", req.code_verifier.as_str()),
            ],
            false,
        )?;
        #[derive(Deserialize)]
        struct Channels {
            #[serde(default)]
            items: Vec<Channel>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Channel {
            id: String,
            snippet: ChannelSnippet,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ChannelSnippet {
            title: String,
            custom_url: Option<String>,
            thumbnails: Option<Value>,
        }
        let channels: Channels = api::check(
            http::get(&format!("{}/youtube/v3/channels", api::api_url()?))
                .query(&[("part", "snippet"), ("mine", "true")])
                .bearer(&token.access_token)
                .send()?,
        )?
        .json()?;
        let channel = channels.items.into_iter().next().ok_or_else(|| {
            PluginError::Permanent(
                "this Google account has no YouTube channel; create one first".into(),
            )
        })?;
        let avatar = channel
            .snippet
            .thumbnails
            .as_ref()
            .and_then(|t| t.pointer("/default/url"))
            .and_then(Value::as_str)
            .map(String::from);
        Ok(Connection {
            credentials: token.credentials(),
            accounts: vec![AccountProfile {
                remote_id: channel.id,
                display_name: channel.snippet.title,
                username: channel.snippet.custom_url,
                avatar_url: avatar,
                kind: "channel".into(),
                properties: vec![],
                credentials: None,
            }],
        })
    }

    fn refresh() -> Result<Credentials, PluginError> {
        let refresh_token = secrets::account_required("refresh_token")?;
        let token = token_request(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.as_str()),
            ],
            true,
        )?;
        Ok(token.credentials())
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let problems = Self::validate(post.clone());
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        let session = Session::current()?;
        let video = upload::upload(&session, &post.target_id, &post.media[0], &metadata(&post))?;
        let id = video_id(&video)?;
        pending(
            &Pending {
                target_id: post.target_id,
                video: id,
                short: post.kind == "short",
            },
            "YouTube is processing the video",
        )
    }

    fn check_status(handle: String) -> Result<PublishOutcome, PluginError> {
        let p: Pending = serde_json::from_str(&handle)
            .map_err(|e| PluginError::Permanent(format!("unreadable pending handle: {e}")))?;
        let session = Session::current()?;
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            items: Vec<Value>,
        }
        let list: List = api::check(
            http::get(&format!("{}/youtube/v3/videos", session.api))
                .query(&[
                    ("part", "status,processingDetails"),
                    ("id", p.video.as_str()),
                ])
                .bearer(&session.token)
                .send()?,
        )?
        .json()?;
        let Some(video) = list.items.first() else {
            return Err(PluginError::Permanent(format!(
                "YouTube no longer knows video {} (deleted?)",
                p.video
            )));
        };
        let text = |ptr: &str| {
            video
                .pointer(ptr)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match text("/status/uploadStatus").as_str() {
            "processed" => {
                storage::delete(&upload::key(&p.target_id)).map_err(storage::to_plugin_error)?;
                Ok(published(&p.video, Some(url(&p.video, p.short))))
            }
            "uploaded" => pending(
                &p,
                &format!(
                    "YouTube is processing the video ({})",
                    text("/processingDetails/processingStatus")
                ),
            ),
            other => {
                let why = [
                    text("/status/failureReason"),
                    text("/status/rejectionReason"),
                ]
                .into_iter()
                .find(|r| !r.is_empty())
                .unwrap_or_default();
                Err(PluginError::Permanent(format!(
                    "YouTube did not accept the video: upload status {other} {why}"
                )))
            }
        }
    }

    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        // A video exists only once its upload completed, and the session remembers that.
        let session = Session::current()?;
        Ok(match upload::stored(&session, &post.target_id)? {
            Some((_, _, upload_state)) => match upload_state {
                upload::Progress::Done(video) => {
                    let id = video_id(&video)?;
                    ReconcileOutcome::Published(PublishedPost {
                        url: Some(url(&id, post.kind == "short")),
                        remote_id: id,
                        thread_ids: Vec::new(),
                    })
                }
                upload::Progress::Next(_) => ReconcileOutcome::NotPublished,
            },
            None => ReconcileOutcome::NotPublished,
        })
    }
}

/// A processed-video wait: the handle `check_status` gets back.
#[derive(Serialize, Deserialize)]
struct Pending {
    target_id: String,
    video: String,
    short: bool,
}

fn pending(p: &Pending, message: &str) -> Result<PublishOutcome, PluginError> {
    Ok(PublishOutcome::Pending(PendingPost {
        handle: serde_json::to_string(p).map_err(|e| PluginError::Permanent(e.to_string()))?,
        poll_after_secs: 3,
        message: message.into(),
    }))
}

fn url(id: &str, short: bool) -> String {
    if short {
        format!("https://www.youtube.com/shorts/{id}")
    } else {
        format!("https://www.youtube.com/watch?v={id}")
    }
}

fn video_id(video: &Value) -> Result<String, PluginError> {
    video["id"].as_str().map(String::from).ok_or_else(|| {
        PluginError::Transient("YouTube finished the upload but named no video id".into())
    })
}

fn metadata(post: &Post) -> Value {
    let mut status = json!({
        "privacyStatus": limits::option(post, "privacy_status").unwrap_or("public"),
        "selfDeclaredMadeForKids": limits::option(post, "made_for_kids") == Some("true"),
    });
    if let Some(at) = limits::option(post, "publish_at") {
        status["publishAt"] = at.into();
    }
    json!({
        "snippet": {
            "title": limits::title(post),
            "description": post.text,
            "tags": limits::tags(post),
            "categoryId": limits::option(post, "category_id").unwrap_or("22"),
        },
        "status": status,
    })
}

/// `POST /token`; a refused refresh (`invalid_grant`) means reconnecting.
fn token_request(params: &[(&str, &str)], refreshing: bool) -> Result<api::Token, PluginError> {
    let client_id = secrets::app_required("client_id")?;
    let client_secret = secrets::app_required("client_secret")?;
    let mut form: Vec<(&str, &str)> =
        vec![("client_id", &client_id), ("client_secret", &client_secret)];
    form.extend_from_slice(params);
    let resp = http::post(&format!("{}/token", api::token_url()?))
        .form(&form)
        .send()?;
    if resp.is_success() {
        return resp.json();
    }
    let (reason, message) = api::reason(&resp);
    Err(match resp.status {
        400 | 401 if refreshing => PluginError::AuthExpired(format!(
            "Google refused the refresh ({reason}); reconnect the account"
        )),
        400 | 401 => PluginError::Permanent(format!(
            "Google refused the token request ({reason}: {message})"
        )),
        _ => http::status_error(&resp, &format!("Google: {message}")),
    })
}

plugboard_sdk::export_platform!(
    Youtube,
    manifest = r#"
name = "YouTube"
description = "Upload videos and Shorts to a YouTube channel with resumable uploads."
hosts = ["https://accounts.google.com", "https://oauth2.googleapis.com", "https://www.googleapis.com", "http://127.0.0.1:*"]
secrets = ["client_id", "client_secret", "oauth_url", "token_url", "api_url", "chunk_bytes"]
storage-quota = 1048576
"#
);
