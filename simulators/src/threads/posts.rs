//! The profile, media containers, publishing, reading posts back and the
//! publishing quota.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::api::{Call, authorize};
use super::error::GraphError;
use super::media;
use super::state::{Container, MediaType, Sim, State, ThreadsPost};
use super::text;

const PUBLISH: &str = "threads_content_publish";
const BASIC: &str = "threads_basic";
const REPLY_CONTROLS: &[&str] = &[
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
];
const MAX_ALT_TEXT: usize = 1000;
const MIN_CHILDREN: usize = 2;
const MAX_CHILDREN: usize = 20;

fn graph_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// The requested `fields` (default: `id`).
fn fields(call: &Call) -> Vec<String> {
    call.get("fields")
        .unwrap_or("id")
        .split(',')
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect()
}

fn pick(all: Value, wanted: &[String]) -> Value {
    let mut out = Map::new();
    if let Value::Object(all) = all {
        for f in wanted {
            if let Some(v) = all.get(f).filter(|v| !v.is_null()) {
                out.insert(f.clone(), v.clone());
            }
        }
        if let Some(id) = all.get("id") {
            out.insert("id".into(), id.clone());
        }
    }
    Value::Object(out)
}

/// Only the token's own user exists here: `me` or its id.
fn check_user(sim: &Sim, user: &str) -> Result<(), GraphError> {
    if user == "me" || user == sim.config.user_id {
        Ok(())
    } else {
        Err(GraphError::not_found(user))
    }
}

/// `GET /me`.
pub(crate) fn me(sim: &Arc<Sim>, call: &Call) -> Result<Value, GraphError> {
    authorize(&sim.lock(), call, BASIC)?;
    let c = &sim.config;
    Ok(pick(
        json!({
            "id": c.user_id,
            "username": c.username,
            "name": c.username,
            "threads_profile_picture_url": format!("{}/pictures/{}.jpg", sim.base_url, c.user_id),
            "threads_biography": "",
        }),
        &fields(call),
    ))
}

/// `POST /{user}/threads`: a media container (or, with `auto_publish_text`,
/// a published text post).
pub(crate) async fn create(sim: &Arc<Sim>, user: &str, call: &Call) -> Result<Value, GraphError> {
    let spec = {
        let state = sim.lock();
        authorize(&state, call, PUBLISH)?;
        check_user(sim, user)?;
        check_container(sim, &state, call)?
    };
    let fetched = match (&spec.media_type, &spec.url) {
        (MediaType::Image | MediaType::Video, Some(url)) => {
            Some(media::fetch(sim, url, spec.media_type).await)
        }
        _ => None,
    };
    let mut state = sim.lock();
    let processing = match spec.media_type {
        MediaType::Video => state.video_processing,
        MediaType::Image => state.image_processing,
        _ => std::time::Duration::ZERO,
    };
    let id = state.next_id();
    let (media, error) = match fetched {
        Some(Ok(m)) => (Some(m), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let container = Container {
        id: id.clone(),
        media_type: spec.media_type,
        text: call.get("text").map(str::to_owned),
        is_carousel_item: spec.carousel_item,
        children: spec.children,
        reply_to_id: call.get("reply_to_id").map(str::to_owned),
        reply_control: call.get("reply_control").map(str::to_owned),
        link_attachment: call.get("link_attachment").map(str::to_owned),
        alt_text: call.get("alt_text").map(str::to_owned),
        media,
        error,
        ready_at: Instant::now() + processing,
        created: Utc::now(),
        used: false,
        published_id: None,
    };
    state.containers.insert(id.clone(), container);
    if spec.auto_publish {
        let post = publish_container(sim, &mut state, &id)?;
        return Ok(json!({ "id": post }));
    }
    Ok(json!({ "id": id }))
}

struct Spec {
    media_type: MediaType,
    url: Option<String>,
    carousel_item: bool,
    children: Vec<String>,
    auto_publish: bool,
}

fn flag(call: &Call, name: &str) -> Result<bool, GraphError> {
    match call.get(name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(GraphError::param(format!(
            "Param {name} must be a boolean, got '{other}'"
        ))),
    }
}

fn check_container(sim: &Sim, state: &State, call: &Call) -> Result<Spec, GraphError> {
    let media_type = MediaType::parse(call.require("media_type")?).ok_or_else(|| {
        GraphError::param("Param media_type must be one of {TEXT, IMAGE, VIDEO, CAROUSEL}")
    })?;
    let carousel_item = flag(call, "is_carousel_item")?;
    let auto_publish = flag(call, "auto_publish_text")?;
    if auto_publish && media_type != MediaType::Text {
        return Err(GraphError::param(
            "auto_publish_text is only supported for TEXT posts",
        ));
    }
    if carousel_item && !matches!(media_type, MediaType::Image | MediaType::Video) {
        return Err(GraphError::param(
            "Only IMAGE and VIDEO containers can be carousel items",
        ));
    }
    if let Some(text) = call.get("text") {
        let n = text::length(text);
        if n > sim.config.max_text {
            return Err(GraphError::param(format!(
                "Param text must be at most {} characters long.",
                sim.config.max_text
            ))
            .user_msg(format!(
                "The text is {n} characters long; the limit is {}",
                sim.config.max_text
            )));
        }
    } else if media_type == MediaType::Text {
        return Err(GraphError::param(
            "The parameter text is required for TEXT posts",
        ));
    }
    if let Some(rc) = call.get("reply_control")
        && !REPLY_CONTROLS.contains(&rc)
    {
        return Err(GraphError::param(format!(
            "Param reply_control must be one of {{{}}}",
            REPLY_CONTROLS.join(", ")
        )));
    }
    if let Some(link) = call.get("link_attachment") {
        if media_type != MediaType::Text {
            return Err(GraphError::param(
                "link_attachment is only supported for TEXT posts",
            ));
        }
        let ok = url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(GraphError::param(
                "Param link_attachment must be a valid URL",
            ));
        }
    }
    if call
        .get("alt_text")
        .is_some_and(|a| a.chars().count() > MAX_ALT_TEXT)
    {
        return Err(GraphError::param(format!(
            "Param alt_text must be at most {MAX_ALT_TEXT} characters long."
        )));
    }
    if let Some(parent) = call.get("reply_to_id")
        && !state.posts.iter().any(|p| p.id == parent)
    {
        return Err(GraphError::param(format!(
            "Param reply_to_id '{parent}' is not a published post"
        )));
    }
    let url = match media_type {
        MediaType::Image => Some(call.require("image_url")?.to_owned()),
        MediaType::Video => Some(call.require("video_url")?.to_owned()),
        _ => None,
    };
    let mut children = Vec::new();
    if media_type == MediaType::Carousel {
        children = call
            .require("children")?
            .split(',')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        if !(MIN_CHILDREN..=MAX_CHILDREN).contains(&children.len()) {
            return Err(GraphError::param(format!(
                "A carousel takes {MIN_CHILDREN} to {MAX_CHILDREN} children; got {}",
                children.len()
            ))
            .subcode(4279008));
        }
        for child in &children {
            let ok = state
                .containers
                .get(child)
                .is_some_and(|c| c.is_carousel_item && !c.used);
            if !ok {
                return Err(GraphError::param(format!(
                    "Child '{child}' is not an unused carousel item container"
                )));
            }
        }
    } else if call.get("children").is_some() {
        return Err(GraphError::param(
            "children is only supported for CAROUSEL containers",
        ));
    }
    Ok(Spec {
        media_type,
        url,
        carousel_item,
        children,
        auto_publish,
    })
}

/// A container's state: `IN_PROGRESS`, `FINISHED`, `PUBLISHED`, `ERROR` or
/// `EXPIRED`, with the error message.
fn status(state: &State, c: &Container) -> (&'static str, Option<&'static str>) {
    if c.published_id.is_some() {
        return ("PUBLISHED", None);
    }
    if Utc::now() - c.created > chrono::Duration::hours(24) {
        return ("EXPIRED", None);
    }
    if let Some(e) = c.error {
        return ("ERROR", Some(e));
    }
    if c.media_type == MediaType::Carousel {
        let mut in_progress = false;
        for child in c.children.iter().filter_map(|id| state.containers.get(id)) {
            match status(state, child) {
                ("ERROR", e) => return ("ERROR", e),
                ("IN_PROGRESS", _) => in_progress = true,
                _ => {}
            }
        }
        return if in_progress {
            ("IN_PROGRESS", None)
        } else {
            ("FINISHED", None)
        };
    }
    if Instant::now() < c.ready_at {
        ("IN_PROGRESS", None)
    } else {
        ("FINISHED", None)
    }
}

/// `POST /{user}/threads_publish`.
pub(crate) fn publish(sim: &Arc<Sim>, user: &str, call: &Call) -> Result<Value, GraphError> {
    let mut state = sim.lock();
    authorize(&state, call, PUBLISH)?;
    check_user(sim, user)?;
    let creation_id = call.require("creation_id")?.to_owned();
    let id = publish_container(sim, &mut state, &creation_id)?;
    Ok(json!({ "id": id }))
}

fn publish_container(
    sim: &Sim,
    state: &mut State,
    creation_id: &str,
) -> Result<String, GraphError> {
    let container = state.containers.get(creation_id).cloned().ok_or_else(|| {
        GraphError::new(24, "The requested resource does not exist").subcode(4279009)
    })?;
    if container.is_carousel_item {
        return Err(GraphError::param(
            "A carousel item cannot be published on its own",
        ));
    }
    match status(state, &container) {
        ("FINISHED", _) => {}
        ("IN_PROGRESS", _) => {
            return Err(GraphError::new(9007, "Media ID is not available")
                .subcode(2207027)
                .user_msg("The media is not ready for publishing, please wait for a moment"));
        }
        ("PUBLISHED", _) => {
            return Err(
                GraphError::param("The container has already been published").subcode(4279007),
            );
        }
        (other, error) => {
            return Err(GraphError::param(format!(
                "The container cannot be published: {other} {}",
                error.unwrap_or_default()
            ))
            .subcode(4279006));
        }
    }
    let reply = container.reply_to_id.is_some();
    let (used, limit) = if reply {
        (state.published_in_day(true), sim.config.replies_per_day)
    } else {
        (state.published_in_day(false), sim.config.posts_per_day)
    };
    if used >= limit {
        return Err(GraphError::new(
            9,
            format!(
                "You have reached the limit of {limit} published {} per 24 hours",
                if reply { "replies" } else { "posts" }
            ),
        )
        .subcode(2207042));
    }
    let (media, alt_texts) = match container.media_type {
        MediaType::Carousel => container
            .children
            .iter()
            .filter_map(|id| state.containers.get(id))
            .map(|c| (c.media.clone(), c.alt_text.clone()))
            .filter_map(|(m, a)| m.map(|m| (m, a)))
            .unzip(),
        _ => (
            container.media.clone().into_iter().collect(),
            container
                .media
                .iter()
                .map(|_| container.alt_text.clone())
                .collect(),
        ),
    };
    let id = state.next_id();
    let shortcode = URL_SAFE_NO_PAD.encode(id.as_bytes())[..11].to_owned();
    state.posts.push(ThreadsPost {
        id: id.clone(),
        container_id: container.id.clone(),
        media_type: container.media_type,
        text: container.text.clone(),
        reply_to_id: container.reply_to_id.clone(),
        reply_control: container.reply_control.clone(),
        link_attachment: container.link_attachment.clone(),
        media,
        alt_texts,
        timestamp: Utc::now(),
        permalink: format!(
            "https://www.threads.net/@{}/post/{shortcode}",
            sim.config.username
        ),
    });
    for child in &container.children {
        if let Some(c) = state.containers.get_mut(child) {
            c.used = true;
        }
    }
    if let Some(c) = state.containers.get_mut(creation_id) {
        c.published_id = Some(id.clone());
        c.used = true;
    }
    Ok(id)
}

fn post_json(sim: &Sim, p: &ThreadsPost) -> Value {
    json!({
        "id": p.id,
        "media_product_type": "THREADS",
        "media_type": p.media_type.post_name(),
        "text": p.text,
        "permalink": p.permalink,
        "timestamp": graph_time(p.timestamp),
        "username": sim.config.username,
        "shortcode": p.permalink.rsplit('/').next(),
        "is_reply": p.reply_to_id.is_some(),
        "link_attachment_url": p.link_attachment,
    })
}

/// `GET /{id}`: a container's status or a published post.
pub(crate) fn show(sim: &Arc<Sim>, id: &str, call: &Call) -> Result<Value, GraphError> {
    let state = sim.lock();
    authorize(&state, call, BASIC)?;
    if let Some(c) = state.containers.get(id) {
        let (status, error) = status(&state, c);
        return Ok(pick(
            json!({ "id": c.id, "status": status, "error_message": error }),
            &fields(call),
        ));
    }
    let post = state
        .posts
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| GraphError::not_found(id))?;
    Ok(pick(post_json(sim, post), &fields(call)))
}

/// `GET /{user}/threads`: the user's posts (replies excluded), newest first.
pub(crate) fn list(sim: &Arc<Sim>, user: &str, call: &Call) -> Result<Value, GraphError> {
    let state = sim.lock();
    authorize(&state, call, BASIC)?;
    check_user(sim, user)?;
    let number = |name: &str| -> Result<Option<i64>, GraphError> {
        call.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| GraphError::param(format!("Param {name} must be a number")))
            })
            .transpose()
    };
    let since = number("since")?;
    let until = number("until")?;
    let limit = number("limit")?.unwrap_or(25).clamp(1, 100) as usize;
    let offset = number("after")?.unwrap_or(0).max(0) as usize;
    let matching: Vec<&ThreadsPost> = state
        .posts
        .iter()
        .rev()
        .filter(|p| p.reply_to_id.is_none())
        .filter(|p| since.is_none_or(|s| p.timestamp.timestamp() >= s))
        .filter(|p| until.is_none_or(|u| p.timestamp.timestamp() <= u))
        .collect();
    let wanted = fields(call);
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|p| pick(post_json(sim, p), &wanted))
        .collect();
    let mut body = json!({ "data": page });
    if offset + limit < matching.len() {
        body["paging"] = json!({ "cursors": { "after": (offset + limit).to_string() } });
    }
    Ok(body)
}

/// `GET /{user}/threads_publishing_limit`.
pub(crate) fn quota(sim: &Arc<Sim>, user: &str, call: &Call) -> Result<Value, GraphError> {
    let state = sim.lock();
    authorize(&state, call, BASIC)?;
    check_user(sim, user)?;
    let all = json!({
        "quota_usage": state.published_in_day(false),
        "config": { "quota_total": sim.config.posts_per_day, "quota_duration": 86_400 },
        "reply_quota_usage": state.published_in_day(true),
        "reply_config": { "quota_total": sim.config.replies_per_day, "quota_duration": 86_400 },
    });
    let wanted = call
        .get("fields")
        .map(|_| fields(call))
        .unwrap_or_else(|| vec!["quota_usage".into()]);
    let mut out = Map::new();
    for f in &wanted {
        if let Some(v) = all.get(f) {
            out.insert(f.clone(), v.clone());
        }
    }
    Ok(json!({ "data": [Value::Object(out)] }))
}
