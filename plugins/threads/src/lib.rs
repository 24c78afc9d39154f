//! Threads: text, image, video and carousel posts and reply chains through
//! Meta's container flow (create a container that pulls its media by URL, poll
//! it until `FINISHED`, publish it).
//!
//! A post is a *plan* of items (the post, then each reply) kept in plugin
//! storage under the target id. Every step — a container made, a post
//! published — is saved as it happens, so a publish that stopped half-way
//! (processing media, an error, a lost answer) resumes where it stopped and
//! never publishes an item twice. While a container processes, `publish`
//! answers *pending* and `check_status` continues the plan.

mod api;
mod rules;

use api::{ContainerStatus, Id, Page, Quota, Session, ThreadsPost};
use plugboard_sdk::http;
use plugboard_sdk::prelude::*;
use plugboard_sdk::wit::platform::plugboard::plugin::media as host_media;
use serde::{Deserialize, Serialize};

struct Threads;

/// How long the signed media URLs handed to Threads stay valid (capped by the host).
const MEDIA_URL_TTL: u32 = 6 * 3600;
/// Seconds between container status polls.
const POLL_SECS: u32 = 5;

impl Platform for Threads {
    fn describe() -> PlatformInfo {
        rules::describe()
    }

    fn validate(post: Post) -> Vec<Problem> {
        rules::validate(&post)
    }

    fn authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        let client_id = secrets::app_required("client_id")?;
        let base = secrets::app("authorize_url")?.unwrap_or_else(|| api::DEFAULT_AUTHORIZE.into());
        let scopes = if req.scopes.is_empty() {
            "threads_basic,threads_content_publish".to_string()
        } else {
            req.scopes.join(",")
        };
        let query = [
            ("client_id", client_id.as_str()),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("scope", scopes.as_str()),
            ("response_type", "code"),
            ("state", req.state.as_str()),
        ];
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", oauth::percent_encode(v)))
            .collect();
        Ok(Authorization {
            url: format!("{base}?{}", qs.join("&")),
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
            let why = param("error_description")
                .or(param("error"))
                .unwrap_or_default();
            return Err(PluginError::Permanent(format!(
                "Threads refused the authorization: {why}"
            )));
        };
        // Meta appends `#_` to the redirect; a code copied with it must lose it.
        let code = code.trim_end_matches("#_").to_string();
        let graph = api::graph_url()?;
        let client_id = secrets::app_required("client_id")?;
        let client_secret = secrets::app_required("client_secret")?;
        let short: api::ShortToken = api::check(
            http::post(&format!("{graph}/oauth/access_token"))
                .form(&[
                    ("client_id", client_id.as_str()),
                    ("client_secret", client_secret.as_str()),
                    ("code", code.as_str()),
                    ("grant_type", "authorization_code"),
                    ("redirect_uri", req.redirect_uri.as_str()),
                ])
                .send()?,
        )?
        .json()?;
        // The one-hour token is traded at once for a 60-day one.
        let long: api::Token = api::check(
            http::get(&format!("{graph}/access_token"))
                .query(&[
                    ("grant_type", "th_exchange_token"),
                    ("client_secret", client_secret.as_str()),
                    ("access_token", short.access_token.as_str()),
                ])
                .send()?,
        )?
        .json()?;
        let me: api::Me = api::check(
            http::get(&format!("{graph}/{}/me", api::VERSION))
                .query(&[("fields", "id,username,name,threads_profile_picture_url")])
                .bearer(&long.access_token)
                .send()?,
        )?
        .json()?;
        Ok(Connection {
            credentials: credentials(long),
            accounts: vec![AccountProfile {
                remote_id: me.id.clone(),
                display_name: me
                    .name
                    .clone()
                    .or(me.username.clone())
                    .unwrap_or_else(|| me.id.clone()),
                username: me.username,
                avatar_url: me.threads_profile_picture_url,
                kind: "user".into(),
                properties: vec![pair("user_id", me.id)],
                credentials: None,
            }],
        })
    }

    fn refresh() -> Result<Credentials, PluginError> {
        let graph = api::graph_url()?;
        let token = secrets::account_required("access_token")?;
        let fresh: api::Token = api::check(
            http::get(&format!("{graph}/refresh_access_token"))
                .query(&[
                    ("grant_type", "th_refresh_token"),
                    ("access_token", token.as_str()),
                ])
                .send()?,
        )?
        .json()?;
        Ok(credentials(fresh))
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let problems = rules::validate(&post);
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        let session = Session::current()?;
        let mut plan = Plan::from_post(&post)?;
        match Plan::load(&post.target_id)? {
            Some(saved) => plan.resume_from(saved),
            None => check_quota(&session, &plan)?,
        }
        plan.save()?;
        advance(&session, plan)
    }

    fn check_status(handle: String) -> Result<PublishOutcome, PluginError> {
        let session = Session::current()?;
        let plan = Plan::load(&handle)?.ok_or_else(|| {
            PluginError::Permanent(format!("no publishing plan is stored for {handle}"))
        })?;
        advance(&session, plan)
    }

    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        let session = Session::current()?;
        let Some(mut plan) = Plan::load(&post.target_id)? else {
            // Nothing was saved (the plan is dropped once every item is out): look
            // for the post among the account's recent ones.
            return Ok(
                match find_published(&session, &post.text, post.scheduled_at)? {
                    Some(found) => ReconcileOutcome::Published(PublishedPost {
                        remote_id: found.id,
                        url: found.permalink,
                        thread_ids: Vec::new(),
                    }),
                    None => ReconcileOutcome::NotPublished,
                },
            );
        };
        settle_lost_publish(&session, &mut plan)?;
        plan.save()?;
        if plan.items.iter().all(|i| i.post_id.is_some()) {
            return Ok(match finish(&session, &plan)? {
                PublishOutcome::Published(p) => ReconcileOutcome::Published(p),
                PublishOutcome::Pending(_) => ReconcileOutcome::NotPublished,
            });
        }
        // Items already out are recorded in the plan: publishing again resumes after them.
        Ok(ReconcileOutcome::NotPublished)
    }
}

fn credentials(token: api::Token) -> Credentials {
    Credentials {
        expires_at: token.expires_in.map(|s| api::now() + s),
        values: vec![pair("access_token", token.access_token)],
    }
}

/// One post and its replies, with what has been done so far.
#[derive(Serialize, Deserialize)]
struct Plan {
    target_id: String,
    reply_control: Option<String>,
    link_attachment: Option<String>,
    auto_publish_text: bool,
    items: Vec<Item>,
    url: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Item {
    text: String,
    media: Vec<MediaSpec>,
    /// The carousel's children, once created.
    children: Vec<String>,
    container: Option<String>,
    post_id: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
struct MediaSpec {
    url: String,
    video: bool,
    alt_text: Option<String>,
}

impl Plan {
    fn from_post(post: &Post) -> Result<Plan, PluginError> {
        let option = |name: &str| {
            post.options
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut items = vec![Item::new(&post.text, &post.media)?];
        for t in &post.thread {
            items.push(Item::new(&t.text, &t.media)?);
        }
        Ok(Plan {
            target_id: post.target_id.clone(),
            reply_control: option("reply_control"),
            link_attachment: option("link_attachment"),
            auto_publish_text: option("auto_publish_text").as_deref() == Some("true"),
            items,
            url: None,
        })
    }

    /// Keeps the progress of an earlier attempt (same items), with fresh media URLs.
    fn resume_from(&mut self, saved: Plan) {
        if saved.items.len() != self.items.len() {
            return;
        }
        self.url = saved.url;
        for (item, old) in self.items.iter_mut().zip(saved.items) {
            item.children = old.children;
            item.container = old.container;
            item.post_id = old.post_id;
        }
    }

    fn key(target_id: &str) -> String {
        format!("plan:{target_id}")
    }

    fn load(target_id: &str) -> Result<Option<Plan>, PluginError> {
        let Some(raw) = storage::get_string(&Plan::key(target_id))? else {
            return Ok(None);
        };
        serde_json::from_str(&raw)
            .map(Some)
            .map_err(|e| PluginError::Permanent(format!("unreadable stored plan: {e}")))
    }

    fn save(&self) -> Result<(), PluginError> {
        let raw = serde_json::to_string(self).map_err(|e| PluginError::Permanent(e.to_string()))?;
        storage::set_string(&Plan::key(&self.target_id), &raw)
    }

    fn forget(&self) -> Result<(), PluginError> {
        storage::delete(&Plan::key(&self.target_id)).map_err(storage::to_plugin_error)?;
        Ok(())
    }
}

impl Item {
    fn new(text: &str, media: &[MediaRef]) -> Result<Item, PluginError> {
        let media = media
            .iter()
            .map(|m| {
                let url = host_media::public_url(&m.handle, MEDIA_URL_TTL).map_err(|e| {
                    PluginError::Permanent(format!("no public URL for the media: {e:?}"))
                })?;
                Ok(MediaSpec {
                    url,
                    video: m.mime_type.starts_with("video/"),
                    alt_text: m.alt_text.clone(),
                })
            })
            .collect::<Result<Vec<_>, PluginError>>()?;
        Ok(Item {
            text: text.to_string(),
            media,
            children: Vec::new(),
            container: None,
            post_id: None,
        })
    }
}

/// Refuses up front what the 24-hour quotas would refuse at publishing.
fn check_quota(session: &Session, plan: &Plan) -> Result<(), PluginError> {
    let page: Page<Quota> = session.get(
        &format!("{}/threads_publishing_limit", session.user_id),
        &[(
            "fields",
            "quota_usage,config,reply_quota_usage,reply_config",
        )],
    )?;
    let Some(q) = page.data.first() else {
        return Ok(());
    };
    let replies = (plan.items.len() - 1) as u32;
    if let Some(c) = &q.config
        && q.quota_usage >= c.quota_total
    {
        return Err(PluginError::RateLimited(RateLimit {
            retry_after_secs: c.quota_duration / 24,
            message: format!(
                "Threads' quota of {} posts per {} hours is used up ({} published)",
                c.quota_total,
                c.quota_duration / 3600,
                q.quota_usage
            ),
        }));
    }
    if let Some(c) = &q.reply_config
        && q.reply_quota_usage + replies > c.quota_total
    {
        return Err(PluginError::RateLimited(RateLimit {
            retry_after_secs: c.quota_duration / 24,
            message: format!(
                "Threads' quota of {} replies per {} hours leaves {} replies; this thread needs {replies}",
                c.quota_total,
                c.quota_duration / 3600,
                c.quota_total.saturating_sub(q.reply_quota_usage)
            ),
        }));
    }
    Ok(())
}

/// Takes the plan as far as it can go now.
fn advance(session: &Session, mut plan: Plan) -> Result<PublishOutcome, PluginError> {
    for i in 0..plan.items.len() {
        if plan.items[i].post_id.is_some() {
            continue;
        }
        let reply_to = if i == 0 {
            None
        } else {
            plan.items[i - 1].post_id.clone()
        };
        if plan.items[i].container.is_none() {
            let made = create_containers(session, &mut plan, i, reply_to.as_deref());
            plan.save()?;
            made?;
            if plan.items[i].post_id.is_some() {
                continue;
            }
        }
        let container = plan.items[i].container.clone().unwrap_or_default();
        let status: ContainerStatus =
            session.get(&container, &[("fields", "status,error_message")])?;
        match status.status.as_str() {
            "FINISHED" => {}
            "IN_PROGRESS" => return Ok(pending(&plan, i)),
            "PUBLISHED" => {
                settle_lost_publish(session, &mut plan)?;
                plan.save()?;
                if plan.items[i].post_id.is_some() {
                    continue;
                }
                return Err(PluginError::Permanent(
                    "Threads published this reply but its id was lost".into(),
                ));
            }
            "ERROR" => {
                plan.forget()?;
                return Err(container_error(i, status.error_message.as_deref()));
            }
            other => {
                // EXPIRED: a fresh container on the next attempt.
                plan.items[i].container = None;
                plan.items[i].children.clear();
                plan.save()?;
                return Err(PluginError::Transient(format!(
                    "the Threads container is {other}"
                )));
            }
        }
        let resp = session.send_unchecked(
            http::post(&session.url(&format!("{}/threads_publish", session.user_id)))
                .form(&[("creation_id", container.as_str())]),
        )?;
        if !resp.is_success() && api::graph_error(&resp).is_some_and(|e| api::is_not_ready(&e)) {
            return Ok(pending(&plan, i));
        }
        let published: Id = api::check(resp)?.json()?;
        plan.items[i].post_id = Some(published.id);
        plan.save()?;
    }
    finish(session, &plan)
}

fn pending(plan: &Plan, i: usize) -> PublishOutcome {
    let what = if i == 0 {
        "the post".to_string()
    } else {
        format!("reply {i}")
    };
    PublishOutcome::Pending(PendingPost {
        handle: plan.target_id.clone(),
        poll_after_secs: POLL_SECS,
        message: format!("Threads is processing the media of {what}"),
    })
}

fn container_error(i: usize, message: Option<&str>) -> PluginError {
    let field = if i == 0 {
        "media".to_string()
    } else {
        format!("thread[{}].media", i - 1)
    };
    let code = message.unwrap_or("UNKNOWN");
    let words = match code {
        "FAILED_DOWNLOADING_VIDEO" | "FAILED_DOWNLOADING_IMAGE" => {
            "Threads could not download the file"
        }
        "FAILED_PROCESSING_VIDEO" => "Threads could not process the video",
        "INVALID_DURATION" => "the video is longer than Threads allows (5 minutes)",
        "INVALID_ASPEC_RATIO" => "the aspect ratio is not one Threads accepts",
        "INVALID_BIT_RATE" => "the video's bit rate is not one Threads accepts",
        "INVALID_FRAME_RATE" => "the video's frame rate is not one Threads accepts",
        _ => "Threads could not use the media",
    };
    invalid(&field, "media-rejected", format!("{words} ({code})"))
}

/// Creates item `i`'s container (and a carousel's children first).
fn create_containers(
    session: &Session,
    plan: &mut Plan,
    i: usize,
    reply_to: Option<&str>,
) -> Result<(), PluginError> {
    let path = format!("{}/threads", session.user_id);
    let media = plan.items[i].media.clone();
    let mut form: Vec<(&str, String)> = Vec::new();
    if media.len() > 1 {
        // Children made by an earlier attempt are kept; the rest are made now.
        for m in media.iter().skip(plan.items[i].children.len()) {
            let mut child = media_form(m);
            child.push(("is_carousel_item", "true".into()));
            let made: Id = session.post(&path, &as_refs(&child))?;
            plan.items[i].children.push(made.id);
            plan.save()?;
        }
        form.push(("media_type", "CAROUSEL".into()));
        form.push(("children", plan.items[i].children.join(",")));
    } else if let Some(m) = media.first() {
        form.extend(media_form(m));
    } else {
        form.push(("media_type", "TEXT".into()));
    }
    let item = &plan.items[i];
    if !item.text.is_empty() {
        form.push(("text", item.text.clone()));
    }
    if let Some(rc) = &plan.reply_control {
        form.push(("reply_control", rc.clone()));
    }
    if let Some(parent) = reply_to {
        form.push(("reply_to_id", parent.to_string()));
    }
    let text_only = media.is_empty();
    if i == 0
        && text_only
        && let Some(link) = &plan.link_attachment
    {
        form.push(("link_attachment", link.clone()));
    }
    let auto = text_only && plan.auto_publish_text;
    if auto {
        form.push(("auto_publish_text", "true".into()));
    }
    let made: Id = session.post(&path, &as_refs(&form))?;
    if auto {
        plan.items[i].post_id = Some(made.id);
    } else {
        plan.items[i].container = Some(made.id);
    }
    Ok(())
}

fn media_form(m: &MediaSpec) -> Vec<(&'static str, String)> {
    let mut form = if m.video {
        vec![
            ("media_type", "VIDEO".to_string()),
            ("video_url", m.url.clone()),
        ]
    } else {
        vec![
            ("media_type", "IMAGE".to_string()),
            ("image_url", m.url.clone()),
        ]
    };
    if let Some(alt) = &m.alt_text {
        form.push(("alt_text", alt.clone()));
    }
    form
}

fn as_refs<'a>(form: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Every item is out: the answer, and the plan is no longer needed.
fn finish(session: &Session, plan: &Plan) -> Result<PublishOutcome, PluginError> {
    let mut ids = plan.items.iter().filter_map(|i| i.post_id.clone());
    let first = ids
        .next()
        .ok_or_else(|| PluginError::Permanent("nothing was published".into()))?;
    let url = match &plan.url {
        Some(u) => Some(u.clone()),
        None => session
            .get::<ThreadsPost>(&first, &[("fields", "id,permalink")])
            .ok()
            .and_then(|p| p.permalink),
    };
    plan.forget()?;
    Ok(PublishOutcome::Published(PublishedPost {
        remote_id: first,
        url,
        thread_ids: ids.collect(),
    }))
}

/// A `threads_publish` whose answer was lost: the first item's container says
/// PUBLISHED but the plan has no post id. Threads lists the account's posts, so
/// the post is found by its text.
fn settle_lost_publish(session: &Session, plan: &mut Plan) -> Result<(), PluginError> {
    let Some(first) = plan.items.first() else {
        return Ok(());
    };
    if first.post_id.is_some() {
        return Ok(());
    }
    let Some(container) = first.container.clone() else {
        return Ok(());
    };
    let status: ContainerStatus = session.get(&container, &[("fields", "status")])?;
    if status.status != "PUBLISHED" {
        return Ok(());
    }
    if let Some(found) = find_published(session, &first.text, None)? {
        plan.url = found.permalink;
        plan.items[0].post_id = Some(found.id);
    }
    Ok(())
}

/// The account's post with exactly this text, published within the last day.
fn find_published(
    session: &Session,
    text: &str,
    since: Option<u64>,
) -> Result<Option<ThreadsPost>, PluginError> {
    let since = since
        .map(|s| s.saturating_sub(600))
        .unwrap_or_else(|| api::now().saturating_sub(86_400))
        .to_string();
    let page: Page<ThreadsPost> = session.get(
        &format!("{}/threads", session.user_id),
        &[
            ("fields", "id,text,permalink,timestamp"),
            ("since", since.as_str()),
            ("limit", "100"),
        ],
    )?;
    Ok(page
        .data
        .into_iter()
        .find(|p| p.text.as_deref().unwrap_or_default() == text))
}

plugboard_sdk::export_platform!(
    Threads,
    manifest = r#"
name = "Threads"
description = "Publish text, image, video, carousel posts and reply chains to Threads."
hosts = ["https://graph.threads.net", "https://threads.net", "http://127.0.0.1:*"]
secrets = ["client_id", "client_secret", "graph_url", "authorize_url"]
storage-quota = 4194304
"#
);
