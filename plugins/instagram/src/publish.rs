//! Publishing through containers: create the container(s) — Instagram fetches the media
//! from short-lived signed URLs, nothing passes through the plugin's memory — poll the
//! container's `status_code` until `FINISHED`, then `media_publish` it.
//!
//! What was done is saved in plugin storage under the target id (a *plan*) as it
//! happens, so a publish that stopped half-way (an expired token, throttling, a lost
//! answer) resumes with the containers it already made instead of making new ones, and
//! `check-status` continues the same plan.

use crate::graph::{self, Auth, Login, check, field, graph_error, url};
use crate::limits;
use plugboard_sdk::prelude::*;
use plugboard_sdk::wit::platform::plugboard::plugin::media as host_media;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long the signed media URLs Instagram fetches from stay valid.
const URL_TTL_SECS: u32 = 3600;
/// Seconds between status polls unless the app sets `status_poll_secs` (Instagram asks
/// for at most one poll a minute).
const DEFAULT_POLL_SECS: u32 = 60;

/// The account being published to.
pub struct Account {
    pub user_id: String,
    pub auth: Auth,
    pub graph: String,
}

impl Account {
    pub fn current() -> Result<Account, PluginError> {
        Ok(Account {
            user_id: secrets::account_required("user_id")?,
            auth: Auth::account()?,
            graph: graph::graph_base(Login::current()?)?,
        })
    }

    pub fn edge(&self, edge: &str) -> String {
        url(&self.graph, &format!("/{}/{edge}", self.user_id))
    }

    pub fn object(&self, id: &str) -> String {
        url(&self.graph, &format!("/{id}"))
    }
}

/// The containers made for one post target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    pub kind: String,
    pub caption: String,
    /// Carousel items made so far, in order.
    pub children: Vec<String>,
    /// The container to publish.
    pub container: Option<String>,
}

fn key(target: &str) -> String {
    format!("plan:{target}")
}

impl Plan {
    pub fn load(target: &str) -> Result<Option<Plan>, PluginError> {
        storage::get_string(&key(target))?
            .map(|s| {
                serde_json::from_str(&s)
                    .map_err(|e| PluginError::Permanent(format!("unreadable saved plan: {e}")))
            })
            .transpose()
    }

    fn save(&self, target: &str) -> Result<(), PluginError> {
        let text = serde_json::to_string(self)
            .map_err(|e| PluginError::Permanent(format!("saving the plan: {e}")))?;
        storage::set_string(&key(target), &text)
    }

    pub fn drop(target: &str) -> Result<(), PluginError> {
        storage::delete(&key(target))
            .map(|_| ())
            .map_err(storage::to_plugin_error)
    }
}

fn option<'a>(post: &'a Post, name: &str) -> Option<&'a str> {
    post.options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn public_url(m: &MediaRef) -> Result<String, PluginError> {
    host_media::public_url(&m.handle, URL_TTL_SECS)
        .map_err(|e| PluginError::Transient(format!("no public URL for the media: {e:?}")))
}

fn is_video(m: &MediaRef) -> bool {
    m.mime_type.starts_with("video/")
}

/// `location_id` and `collaborators` (as Graph's JSON array), where given.
fn common(post: &Post) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(l) = option(post, "location_id") {
        out.push(pair("location_id", l));
    }
    if let Some(c) = option(post, "collaborators") {
        out.push(pair(
            "collaborators",
            serde_json::to_string(&limits::collaborators(c)).unwrap_or_default(),
        ));
    }
    out
}

fn create(account: &Account, form: &[(String, String)]) -> Result<String, PluginError> {
    let borrowed: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    field(&account.auth.post(&account.edge("media"), &borrowed)?, "id")
}

/// The parameters of the container for a single-media post.
fn single(post: &Post) -> Result<Vec<(String, String)>, PluginError> {
    let m = post.media.first().ok_or_else(|| {
        invalid(
            "media",
            "too-few-media",
            format!("Instagram '{}' posts need a file", post.kind),
        )
    })?;
    let src = public_url(m)?;
    let mut form = Vec::new();
    match post.kind.as_str() {
        "image" => {
            form.push(pair("image_url", src));
            if let Some(alt) = m.alt_text.as_deref().filter(|a| !a.is_empty()) {
                form.push(pair("alt_text", alt));
            }
        }
        "reel" => {
            form.push(pair("media_type", "REELS"));
            form.push(pair("video_url", src));
            for name in ["share_to_feed", "thumb_offset", "audio_name"] {
                if let Some(v) = option(post, name) {
                    form.push(pair(name, v));
                }
            }
        }
        _ => {
            form.push(pair("media_type", "STORIES"));
            form.push(pair(
                if is_video(m) {
                    "video_url"
                } else {
                    "image_url"
                },
                src,
            ));
        }
    }
    if post.kind != "story" {
        form.push(pair("caption", post.text.as_str()));
        form.extend(common(post));
    }
    Ok(form)
}

/// Makes whatever containers the plan lacks, saving after each.
fn make_containers(account: &Account, post: &Post, plan: &mut Plan) -> Result<(), PluginError> {
    if plan.container.is_some() {
        return Ok(());
    }
    if post.kind != "carousel" {
        plan.container = Some(create(account, &single(post)?)?);
        return plan.save(&post.target_id);
    }
    for m in post.media.iter().skip(plan.children.len()) {
        let src = public_url(m)?;
        let mut form = vec![pair("is_carousel_item", "true")];
        if is_video(m) {
            form.push(pair("media_type", "VIDEO"));
            form.push(pair("video_url", src));
        } else {
            form.push(pair("image_url", src));
            if let Some(alt) = m.alt_text.as_deref().filter(|a| !a.is_empty()) {
                form.push(pair("alt_text", alt));
            }
        }
        plan.children.push(create(account, &form)?);
        plan.save(&post.target_id)?;
    }
    let mut form = vec![
        pair("media_type", "CAROUSEL"),
        pair("children", plan.children.join(",")),
        pair("caption", post.text.as_str()),
    ];
    form.extend(common(post));
    plan.container = Some(create(account, &form)?);
    plan.save(&post.target_id)
}

/// Refuses with the platform's reset time when the 24-hour quota is used up: the oldest
/// post of the window tells when a slot frees.
pub fn check_quota(account: &Account) -> Result<(), PluginError> {
    let v = account.auth.get(
        &account.edge("content_publishing_limit"),
        &[("fields", "quota_usage,config")],
    )?;
    let entry = &v["data"][0];
    let used = entry["quota_usage"].as_u64().unwrap_or(0);
    let total = entry["config"]["quota_total"]
        .as_u64()
        .unwrap_or(u64::from(limits::DAILY_POSTS));
    let window = entry["config"]["quota_duration"]
        .as_u64()
        .unwrap_or(u64::from(limits::DAY_SECS));
    if used < total {
        return Ok(());
    }
    let since = graph::now().saturating_sub(window).to_string();
    let recent = account.auth.get(
        &account.edge("media"),
        &[
            ("fields", "id,timestamp"),
            ("since", since.as_str()),
            ("limit", "100"),
        ],
    )?;
    let oldest = recent["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["timestamp"].as_str().and_then(graph::iso_to_unix))
        .min();
    let retry = oldest
        .map(|t| (t + window).saturating_sub(graph::now()).max(60))
        .unwrap_or(3600);
    Err(PluginError::RateLimited(RateLimit {
        retry_after_secs: u32::try_from(retry).unwrap_or(u32::MAX),
        message: format!(
            "Instagram allows {total} posts per {} hours and {used} are used; the next slot frees in {retry} s",
            window / 3600
        ),
    }))
}

pub fn publish(post: &Post) -> Result<PublishOutcome, PluginError> {
    let account = Account::current()?;
    let mut plan = match Plan::load(&post.target_id)? {
        Some(saved) => saved,
        None => {
            check_quota(&account)?;
            Plan {
                kind: post.kind.clone(),
                caption: post.text.clone(),
                ..Plan::default()
            }
        }
    };
    make_containers(&account, post, &mut plan)?;
    advance(&account, &post.target_id, &plan)
}

pub fn pending(target: &str, message: &str) -> Result<PublishOutcome, PluginError> {
    let poll = secrets::app("status_poll_secs")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_POLL_SECS);
    Ok(PublishOutcome::Pending(PendingPost {
        handle: target.into(),
        poll_after_secs: poll,
        message: message.into(),
    }))
}

/// Polls the container; publishes it once `FINISHED`.
pub fn advance(
    account: &Account,
    target: &str,
    plan: &Plan,
) -> Result<PublishOutcome, PluginError> {
    let container = plan
        .container
        .as_deref()
        .ok_or_else(|| PluginError::Permanent("the plan has no container".into()))?;
    let v = account.auth.get(
        &account.object(container),
        &[("fields", "status_code,status")],
    )?;
    let status = v["status"].as_str().unwrap_or_default();
    match v["status_code"].as_str().unwrap_or_default() {
        "FINISHED" => media_publish(account, target, container),
        "IN_PROGRESS" => pending(target, "Instagram is processing the media"),
        "PUBLISHED" => match find_published(account, &plan.kind, &plan.caption, None)? {
            Some(done) => {
                Plan::drop(target)?;
                Ok(PublishOutcome::Published(done))
            }
            None => Err(PluginError::Transient(
                "the container is published but the post is not listed yet".into(),
            )),
        },
        "ERROR" => {
            Plan::drop(target)?;
            Err(invalid(
                "media",
                "processing-failed",
                format!("Instagram could not process the media: {status}"),
            ))
        }
        "EXPIRED" => {
            Plan::drop(target)?;
            Err(PluginError::Permanent(
                "the Instagram container expired before it was published (24 hours)".into(),
            ))
        }
        other => Err(PluginError::Transient(format!(
            "Instagram reported an unknown container status '{other}': {v}"
        ))),
    }
}

fn media_publish(
    account: &Account,
    target: &str,
    container: &str,
) -> Result<PublishOutcome, PluginError> {
    let resp = account.auth.post_response(
        &account.edge("media_publish"),
        &[("creation_id", container)],
    )?;
    if !resp.is_success()
        && graph_error(&resp).is_some_and(|e| e.code == 9007 && e.error_subcode == Some(2_207_027))
    {
        return pending(target, "Instagram is not ready to publish the media yet");
    }
    let id = field(&check(resp)?.json::<Value>()?, "id")?;
    Plan::drop(target)?;
    let v = account
        .auth
        .get(&account.object(&id), &[("fields", "id,permalink")])?;
    Ok(published(id, v["permalink"].as_str().map(str::to_string)))
}

/// A recent post of this kind whose caption is `caption`, published since `since` (Unix
/// seconds; the last day when none). Stories are looked up among the current stories.
pub fn find_published(
    account: &Account,
    kind: &str,
    caption: &str,
    since: Option<u64>,
) -> Result<Option<PublishedPost>, PluginError> {
    let since = since
        .unwrap_or_else(|| graph::now().saturating_sub(u64::from(limits::DAY_SECS)))
        .to_string();
    let edge = if kind == "story" { "stories" } else { "media" };
    let list = account.auth.get(
        &account.edge(edge),
        &[
            (
                "fields",
                "id,caption,permalink,timestamp,media_product_type",
            ),
            ("since", since.as_str()),
            ("limit", "100"),
        ],
    )?;
    let found = list["data"].as_array().into_iter().flatten().find(|m| {
        kind == "story" || m["caption"].as_str().unwrap_or_default().trim() == caption.trim()
    });
    found
        .map(|m| {
            Ok(PublishedPost {
                remote_id: field(m, "id")?,
                url: m["permalink"].as_str().map(str::to_string),
                thread_ids: Vec::new(),
            })
        })
        .transpose()
}
