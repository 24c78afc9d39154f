//! TikTok (Content Posting API): direct video posts by FILE_UPLOAD (chunked, with
//! `Content-Range`) or PULL_FROM_URL (the host's signed media URL), photo posts (pulled),
//! and inbox drafts the creator finishes in the app.
//!
//! Every publish first queries creator info: the chosen privacy level must be one the
//! creator offers (an unaudited app is offered only SELF_ONLY, which `validate` and
//! `publish` explain) and the video must fit the creator's maximum duration. Processing is
//! asynchronous: `publish` answers *pending* with the publish id and `check-status` fetches
//! the status until PUBLISH_COMPLETE, SEND_TO_USER_INBOX or FAILED. Upload progress is kept
//! in plugin storage per target, so a retried publish continues with the first chunk
//! TikTok has not acknowledged.

mod api;

use plugboard_sdk::prelude::*;
use plugboard_sdk::wit::platform::plugboard::plugin::media;
use serde::{Deserialize, Serialize};

struct TikTok;

const SCOPES: &[&str] = &["user.info.basic", "video.publish", "video.upload"];
const PRIVACY: &[&str] = &[
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
];
const VIDEOS: &[&str] = &["video/mp4", "video/webm", "video/quicktime"];
const PHOTOS: &[&str] = &["image/jpeg", "image/webp"];
const MIN_CHUNK: u64 = 5 * 1024 * 1024;
const DEFAULT_CHUNK: u64 = 10 * 1024 * 1024;
const MAX_CHUNK: u64 = 64 * 1024 * 1024;
const OPTIONS: &[&str] = &[
    "privacy_level",
    "disable_comment",
    "disable_duet",
    "disable_stitch",
    "video_cover_timestamp_ms",
    "brand_content_toggle",
    "brand_organic_toggle",
    "is_aigc",
    "source",
];

fn constraint(mimes: &[&str], max_bytes: u64) -> MediaConstraint {
    MediaConstraint {
        mime_types: mimes.iter().map(|m| m.to_string()).collect(),
        max_bytes,
        min_width: None,
        max_width: None,
        min_height: None,
        max_height: None,
        min_aspect: None,
        max_aspect: None,
        min_duration_ms: None,
        max_duration_ms: None,
        max_frame_rate: None,
    }
}

fn video_rules() -> Option<MediaRules> {
    Some(MediaRules {
        min_count: 1,
        max_count: 1,
        constraints: vec![MediaConstraint {
            min_width: Some(360),
            max_width: Some(4096),
            min_height: Some(360),
            max_height: Some(4096),
            max_duration_ms: Some(600_000),
            max_frame_rate: Some(60.0),
            ..constraint(VIDEOS, 4 * 1024 * 1024 * 1024)
        }],
        allow_mixed: false,
    })
}

fn option<'a>(post: &'a Post, name: &str) -> Option<&'a str> {
    post.options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn problem(field: &str, code: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        code: code.into(),
        message,
    }
}

/// The creator's privacy options and longest video, as stored at connection.
fn creator_limits() -> (Option<Vec<String>>, Option<u64>) {
    let options = secrets::account("privacy_level_options")
        .ok()
        .flatten()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let max = secrets::account("max_video_post_duration_sec")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok());
    (options, max)
}

/// Privacy and duration against the creator's options (`options` none: not known yet).
fn check_creator(post: &Post, options: Option<&[String]>, max_secs: Option<u64>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if post.kind != "draft" {
        match option(post, "privacy_level") {
            None => problems.push(problem(
                "options.privacy_level",
                "privacy-required",
                format!("TikTok needs a privacy_level: one of {}", PRIVACY.join(", ")),
            )),
            Some(p) if !PRIVACY.contains(&p) => problems.push(problem(
                "options.privacy_level",
                "invalid-option",
                format!("privacy_level must be one of {}; got '{p}'", PRIVACY.join(", ")),
            )),
            Some(p) => match options {
                Some(o) if o.len() == 1 && o[0] == "SELF_ONLY" && p != "SELF_ONLY" => problems.push(problem(
                    "options.privacy_level",
                    "unaudited-app",
                    "This TikTok app is not audited yet, so TikTok only accepts posts visible to the creator alone (privacy_level SELF_ONLY)".into(),
                )),
                Some(o) if !o.iter().any(|x| x == p) => problems.push(problem(
                    "options.privacy_level",
                    "privacy-not-allowed",
                    format!("This creator can post with privacy {}; not {p}", o.join(", ")),
                )),
                _ => {}
            },
        }
    }
    if let (Some(max), Some(ms)) = (max_secs, post.media.first().and_then(|m| m.duration_ms))
        && post.kind != "photo"
        && ms > max * 1000
    {
        problems.push(problem(
            "media[0]",
            "video-too-long",
            format!(
                "This creator can post videos up to {max} s; this one lasts {:.1} s",
                ms as f64 / 1000.0
            ),
        ));
    }
    if let Some(source) = option(post, "source")
        && !matches!(source, "FILE_UPLOAD" | "PULL_FROM_URL")
    {
        problems.push(problem(
            "options.source",
            "invalid-option",
            format!("source must be FILE_UPLOAD or PULL_FROM_URL; got '{source}'"),
        ));
    }
    problems
}

/// Upload progress of a target, kept between attempts.
#[derive(Serialize, Deserialize)]
struct Progress {
    publish_id: String,
    upload_url: Option<String>,
    chunk_size: u64,
    chunks: u64,
    next_chunk: u64,
}

fn progress_key(target: &str) -> String {
    format!("tt/{target}")
}

fn load(target: &str) -> Result<Option<Progress>, PluginError> {
    Ok(storage::get_string(&progress_key(target))?.and_then(|s| serde_json::from_str(&s).ok()))
}

fn save(target: &str, p: &Progress) -> Result<(), PluginError> {
    storage::set_string(
        &progress_key(target),
        &serde_json::to_string(p).map_err(|e| PluginError::Permanent(e.to_string()))?,
    )
}

/// Chunk size and count by TikTok's rules: under the minimum, one piece; else
/// `floor(size / chunk)` chunks with the remainder in the last.
fn plan_chunks(size: u64) -> Result<(u64, u64), PluginError> {
    let min = secrets::app("min_chunk_bytes")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(MIN_CHUNK);
    let wanted = secrets::app("upload_chunk_bytes")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CHUNK)
        .clamp(min, MAX_CHUNK);
    if size < min {
        return Ok((size, 1));
    }
    let chunk = wanted.min(size);
    Ok((chunk, size / chunk))
}

fn post_info(post: &Post) -> serde_json::Value {
    let mut info = serde_json::json!({ "title": post.text });
    for (k, v) in &post.options {
        match k.as_str() {
            "privacy_level" => info[k] = v.clone().into(),
            "video_cover_timestamp_ms" => {
                info[k] = v.parse::<u64>().unwrap_or(0).into();
            }
            "disable_comment"
            | "disable_duet"
            | "disable_stitch"
            | "brand_content_toggle"
            | "brand_organic_toggle"
            | "is_aigc" => info[k] = (v == "true").into(),
            _ => {}
        }
    }
    info
}

fn pending(publish_id: &str) -> PublishOutcome {
    PublishOutcome::Pending(PendingPost {
        handle: publish_id.into(),
        poll_after_secs: 2,
        message: "TikTok is processing the post".into(),
    })
}

/// Sends every chunk from the first unacknowledged one.
fn upload_chunks(
    target: &str,
    media: &MediaRef,
    progress: &mut Progress,
) -> Result<(), PluginError> {
    let url = progress
        .upload_url
        .clone()
        .ok_or_else(|| PluginError::Permanent("TikTok gave no upload_url".into()))?;
    for index in progress.next_chunk..progress.chunks {
        let first = index * progress.chunk_size;
        let last = if index + 1 == progress.chunks {
            media.size - 1
        } else {
            first + progress.chunk_size - 1
        };
        let resp = http::put(&url)
            .header("Content-Type", &media.mime_type)
            .header(
                "Content-Range",
                &format!("bytes {first}-{last}/{}", media.size),
            )
            .media_body(&media.handle, first, Some(last - first + 1))
            .send()?;
        if !matches!(resp.status, 200 | 201 | 206) {
            return Err(api::error(&resp, "", &resp.text()));
        }
        progress.next_chunk = index + 1;
        save(target, progress)?;
    }
    Ok(())
}

impl Platform for TikTok {
    fn describe() -> PlatformInfo {
        let text = Some(TextRules {
            max_length: 2200,
            min_length: 0,
            counting: TextCounting::Utf16Units,
            url_length: None,
        });
        let kind = |name: &str, media: Option<MediaRules>| PostKind {
            name: name.into(),
            text,
            media,
            max_thread_items: 0,
            options: OPTIONS.iter().map(|s| s.to_string()).collect(),
        };
        PlatformInfo {
            platform: "tiktok".into(),
            display_name: "TikTok".into(),
            auth: AuthKind::Oauth2(Oauth2Info {
                scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
                pkce: true,
                refreshable: true,
            }),
            post_kinds: vec![
                kind("video", video_rules()),
                kind(
                    "photo",
                    Some(MediaRules {
                        min_count: 1,
                        max_count: 35,
                        constraints: vec![MediaConstraint {
                            max_width: Some(1920),
                            max_height: Some(1920),
                            ..constraint(PHOTOS, 20 * 1024 * 1024)
                        }],
                        allow_mixed: false,
                    }),
                ),
                kind("draft", video_rules()),
            ],
            rate_limits: vec![RateLimitRule {
                scope: RateScope::Account,
                counts: "posts".into(),
                limit: 6,
                window_secs: 60,
            }],
            features: vec![
                Feature::Publish,
                Feature::CheckStatus,
                Feature::Reconcile,
                Feature::Webhooks,
            ],
            status_poll_secs: 5,
        }
    }

    fn validate(post: Post) -> Vec<Problem> {
        let mut problems = describe::check(&Self::describe(), &post);
        let (options, max) = creator_limits();
        problems.extend(check_creator(&post, options.as_deref(), max));
        problems
    }

    fn authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        let client_key = secrets::app_required("client_key")?;
        let scopes = if req.scopes.is_empty() {
            SCOPES.join(",")
        } else {
            req.scopes.join(",")
        };
        let query = [
            ("client_key", client_key.as_str()),
            ("scope", scopes.as_str()),
            ("response_type", "code"),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("state", req.state.as_str()),
            ("code_challenge", req.code_challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", oauth::percent_encode(v)))
            .collect();
        Ok(Authorization {
            url: format!("{}/v2/auth/authorize/?{}", api::auth_url()?, qs.join("&")),
            stash: vec![],
        })
    }

    fn exchange_code(req: CodeExchange) -> Result<Connection, PluginError> {
        let code = req
            .params
            .iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| PluginError::Permanent("TikTok sent no authorization code".into()))?;
        let token = token(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("code_verifier", req.code_verifier.as_str()),
        ])?;
        let info: api::CreatorInfo = {
            let resp = http::post(&format!(
                "{}/v2/post/publish/creator_info/query/",
                api::api_url()?
            ))
            .bearer(&token.access_token)
            .bytes("application/json; charset=UTF-8", b"{}".to_vec())
            .send()?;
            api::unwrap(resp)?
        };
        Ok(Connection {
            credentials: credentials(&token),
            accounts: vec![AccountProfile {
                remote_id: token.open_id.clone(),
                display_name: info.creator_nickname,
                username: Some(info.creator_username),
                avatar_url: info.creator_avatar_url,
                kind: "user".into(),
                properties: vec![
                    pair(
                        "privacy_level_options",
                        info.privacy_level_options.join(","),
                    ),
                    pair(
                        "max_video_post_duration_sec",
                        info.max_video_post_duration_sec.to_string(),
                    ),
                ],
                credentials: None,
            }],
        })
    }

    fn refresh() -> Result<Credentials, PluginError> {
        let refresh = secrets::account_required("refresh_token")?;
        let token = token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])?;
        Ok(credentials(&token))
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let mut problems = describe::check(&Self::describe(), &post);
        let info: api::CreatorInfo = api::call(
            "/v2/post/publish/creator_info/query/",
            &serde_json::json!({}),
        )?;
        problems.extend(check_creator(
            &post,
            Some(&info.privacy_level_options),
            Some(info.max_video_post_duration_sec),
        ));
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        if post.kind == "photo" {
            let mut urls = Vec::new();
            for m in &post.media {
                urls.push(media::public_url(&m.handle, 3600).map_err(|e| {
                    PluginError::Transient(format!("no public URL for the photo: {e:?}"))
                })?);
            }
            let init: api::Init = api::call(
                "/v2/post/publish/content/init/",
                &serde_json::json!({
                    "post_info": post_info(&post),
                    "source_info": {"source": "PULL_FROM_URL", "photo_images": urls, "photo_cover_index": 0},
                    "post_mode": "DIRECT_POST",
                    "media_type": "PHOTO",
                }),
            )?;
            return Ok(pending(&init.publish_id));
        }
        let video = post
            .media
            .first()
            .ok_or_else(|| invalid("media", "too-few-media", "TikTok needs a video"))?;
        let path = if post.kind == "draft" {
            "/v2/post/publish/inbox/video/init/"
        } else {
            "/v2/post/publish/video/init/"
        };
        let mut progress = match load(&post.target_id)? {
            Some(p) => p,
            None if option(&post, "source") == Some("PULL_FROM_URL") => {
                let url = media::public_url(&video.handle, 3600).map_err(|e| {
                    PluginError::Transient(format!("no public URL for the video: {e:?}"))
                })?;
                let init: api::Init = api::call(
                    path,
                    &serde_json::json!({
                        "post_info": post_info(&post),
                        "source_info": {"source": "PULL_FROM_URL", "video_url": url},
                    }),
                )?;
                return Ok(pending(&init.publish_id));
            }
            None => {
                let (chunk_size, chunks) = plan_chunks(video.size)?;
                let mut body = serde_json::json!({
                    "source_info": {
                        "source": "FILE_UPLOAD",
                        "video_size": video.size,
                        "chunk_size": chunk_size,
                        "total_chunk_count": chunks,
                    },
                });
                if post.kind != "draft" {
                    body["post_info"] = post_info(&post);
                }
                let init: api::Init = api::call(path, &body)?;
                let p = Progress {
                    publish_id: init.publish_id,
                    upload_url: init.upload_url,
                    chunk_size,
                    chunks,
                    next_chunk: 0,
                };
                save(&post.target_id, &p)?;
                p
            }
        };
        upload_chunks(&post.target_id, video, &mut progress)?;
        storage::delete(&progress_key(&post.target_id)).map_err(storage::to_plugin_error)?;
        Ok(pending(&progress.publish_id))
    }

    fn check_status(handle: String) -> Result<PublishOutcome, PluginError> {
        let status: api::Status = api::call(
            "/v2/post/publish/status/fetch/",
            &serde_json::json!({ "publish_id": handle }),
        )?;
        match status.status.as_str() {
            "PUBLISH_COMPLETE" | "SEND_TO_USER_INBOX" => {
                // Private posts have no public id: the publish id stands for them.
                let id = status
                    .publicaly_available_post_id
                    .first()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .unwrap_or(handle);
                Ok(published(id, None))
            }
            "FAILED" => Err(invalid(
                "",
                "publish-failed",
                format!(
                    "TikTok could not publish the post: {}",
                    status.fail_reason.unwrap_or_default()
                ),
            )),
            _ => Ok(pending(&handle)),
        }
    }

    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        Ok(match load(&post.target_id)? {
            // The upload never completed, so TikTok cannot publish it: a retry continues it.
            Some(_) => ReconcileOutcome::NotPublished,
            None => ReconcileOutcome::Unknown(
                "TikTok offers no lookup of posts by content; check the creator's profile".into(),
            ),
        })
    }

    fn handle_webhook(req: WebhookRequest) -> Result<WebhookReply, PluginError> {
        let secret = secrets::app_required("client_secret")?;
        let header = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("tiktok-signature"))
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let field = |name: &str| {
            header
                .split(',')
                .find_map(|p| p.trim().strip_prefix(name).map(str::to_owned))
        };
        let (Some(t), Some(s)) = (field("t="), field("s=")) else {
            return Ok(reply(401, Vec::new(), None));
        };
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(&req.body);
        if !oauth::verify_hmac_sha256_hex(secret.as_bytes(), &signed, &s) {
            return Ok(reply(401, Vec::new(), None));
        }
        let body: serde_json::Value = serde_json::from_slice(&req.body)
            .map_err(|e| PluginError::Permanent(format!("unreadable webhook body: {e}")))?;
        let event = body["event"].as_str().unwrap_or("").to_string();
        let content: serde_json::Value =
            serde_json::from_str(body["content"].as_str().unwrap_or("{}")).unwrap_or_default();
        let publish_id = content["publish_id"].as_str().unwrap_or("").to_string();
        let key = format!("{event}:{publish_id}:{}", body["create_time"]);
        let parsed = match event.as_str() {
            "post.publish.complete" | "post.publish.publicly_available" => {
                WebhookEvent::StatusChanged(StatusChange {
                    remote_id: publish_id,
                    state: "published".into(),
                })
            }
            "post.publish.failed" => WebhookEvent::StatusChanged(StatusChange {
                remote_id: publish_id,
                state: "failed".into(),
            }),
            _ => WebhookEvent::Other(event),
        };
        Ok(reply(
            200,
            vec![(key, parsed)],
            body["user_openid"].as_str().map(str::to_owned),
        ))
    }
}

fn reply(
    status: u16,
    events: Vec<(String, WebhookEvent)>,
    account: Option<String>,
) -> WebhookReply {
    WebhookReply {
        status,
        headers: Vec::new(),
        body: Vec::new(),
        events,
        account_remote_id: account,
    }
}

fn token(grant: &[(&str, &str)]) -> Result<api::Token, PluginError> {
    let client_key = secrets::app_required("client_key")?;
    let client_secret = secrets::app_required("client_secret")?;
    let mut form = vec![
        ("client_key", client_key.as_str()),
        ("client_secret", client_secret.as_str()),
    ];
    form.extend_from_slice(grant);
    let resp = http::post(&format!("{}/v2/oauth/token/", api::api_url()?))
        .form(&form)
        .send()?;
    if !resp.is_success() {
        let text = resp.text();
        return Err(if resp.status == 400 {
            PluginError::AuthExpired(format!("TikTok refused the grant: {text}"))
        } else {
            http::status_error(&resp, &text)
        });
    }
    resp.json()
}

fn credentials(token: &api::Token) -> Credentials {
    let mut values = vec![pair("access_token", token.access_token.clone())];
    if let Some(r) = &token.refresh_token {
        values.push(pair("refresh_token", r.clone()));
    }
    Credentials {
        values,
        expires_at: Some(api::now() + token.expires_in),
    }
}

plugboard_sdk::export_platform!(
    TikTok,
    manifest = r#"
name = "TikTok"
description = "Publish videos and photo posts to TikTok, or send drafts to the creator's inbox."
hosts = ["https://open.tiktokapis.com", "https://open-upload.tiktokapis.com", "https://www.tiktok.com", "http://127.0.0.1:*"]
secrets = ["client_key", "client_secret", "api_url", "auth_url", "upload_chunk_bytes", "min_chunk_bytes"]
storage-quota = 1048576
"#
);
