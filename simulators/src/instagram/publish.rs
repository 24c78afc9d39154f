//! Content publishing: containers (image, reel, story, carousel items and carousels)
//! that fetch their media by URL and process for a while, their status, `media_publish`
//! with the rolling 24-hour quota, `content_publishing_limit`, and reading back the
//! account's media and stories.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::media;
use super::state::{Container, ContainerKind, RecordedMedia, Sim};
use crate::graph::{GraphError, Params, new_id, new_secret};

/// Children a carousel takes.
const CAROUSEL_ITEMS: std::ops::RangeInclusive<usize> = 2..=10;
const MAX_COLLABORATORS: usize = 3;

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// Words starting with `sigil` (`#tag`, `@name`).
fn count_tagged(text: &str, sigil: char) -> usize {
    let mut n = 0;
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let starts_word = prev.is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
        if c == sigil
            && starts_word
            && chars
                .peek()
                .is_some_and(|n| n.is_alphanumeric() || *n == '_')
        {
            n += 1;
        }
        prev = Some(c);
    }
    n
}

fn check_caption(sim: &Sim, caption: &str) -> Result<(), GraphError> {
    let c = &sim.config;
    let chars = caption.chars().count();
    if chars > c.max_caption_chars {
        return Err(GraphError::oauth(
            100,
            Some(2_207_028),
            format!(
                "(#100) The caption is too long: {chars} characters, the limit is {}",
                c.max_caption_chars
            ),
        )
        .with_user_message("Caption too long", "Captions take up to 2,200 characters."));
    }
    let tags = count_tagged(caption, '#');
    if tags > c.max_hashtags {
        return Err(GraphError::oauth(
            100,
            Some(2_207_028),
            format!(
                "(#100) The caption has {tags} hashtags, the limit is {}",
                c.max_hashtags
            ),
        ));
    }
    let mentions = count_tagged(caption, '@');
    if mentions > c.max_mentions {
        return Err(GraphError::oauth(
            100,
            Some(2_207_028),
            format!(
                "(#100) The caption has {mentions} @-mentions, the limit is {}",
                c.max_mentions
            ),
        ));
    }
    Ok(())
}

fn container_kind(params: &Params, carousel_item: bool) -> Result<ContainerKind, GraphError> {
    let kind = match params.get("media_type").unwrap_or_default() {
        "" | "IMAGE" => ContainerKind::Image,
        "VIDEO" if carousel_item => ContainerKind::Video,
        "VIDEO" => {
            return Err(GraphError::invalid(
                "The VIDEO media type is no longer supported for feed posts; publish videos as REELS",
            ));
        }
        "REELS" => ContainerKind::Reels,
        "STORIES" => ContainerKind::Stories,
        "CAROUSEL" => ContainerKind::Carousel,
        other => {
            return Err(GraphError::invalid(format!(
                "Param media_type must be one of {{IMAGE, VIDEO, REELS, STORIES, CAROUSEL}}, got '{other}'"
            )));
        }
    };
    if carousel_item && !matches!(kind, ContainerKind::Image | ContainerKind::Video) {
        return Err(GraphError::invalid(
            "Only images and videos can be carousel items",
        ));
    }
    Ok(kind)
}

/// Reel options Instagram checks at creation.
fn check_reel_options(params: &Params) -> Result<(), GraphError> {
    params.flag("share_to_feed", true)?;
    if let Some(offset) = params.get("thumb_offset")
        && offset.parse::<u64>().is_err()
    {
        return Err(GraphError::invalid(
            "thumb_offset must be a number of milliseconds",
        ));
    }
    if let Some(url) = params.get("cover_url")
        && url::Url::parse(url).is_err()
    {
        return Err(GraphError::invalid(
            "cover_url should represent a valid URL",
        ));
    }
    Ok(())
}

fn check_collaborators(params: &Params) -> Result<(), GraphError> {
    let Some(list) = params.get("collaborators") else {
        return Ok(());
    };
    let names: Vec<String> = match serde_json::from_str::<Value>(list) {
        Ok(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| GraphError::invalid("collaborators must be an array of usernames"))?,
        _ => {
            return Err(GraphError::invalid(
                "collaborators must be an array of usernames",
            ));
        }
    };
    if names.len() > MAX_COLLABORATORS {
        return Err(GraphError::invalid(format!(
            "A post takes at most {MAX_COLLABORATORS} collaborators"
        )));
    }
    Ok(())
}

/// `POST /{ig-user}/media`: a container.
pub(crate) async fn create(
    State(sim): State<Arc<Sim>>,
    Path(user): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.owner(&token, &user)?;
    sim.require_publish(&token)?;
    let carousel_item = params.flag("is_carousel_item", false)?;
    let kind = container_kind(&params, carousel_item)?;
    let caption = params.get("caption").filter(|c| !c.is_empty());
    if let Some(c) = caption {
        if carousel_item {
            return Err(GraphError::invalid(
                "Carousel items take no caption; set it on the carousel",
            ));
        }
        check_caption(&sim, c)?;
    }
    check_collaborators(&params)?;
    let mut children = Vec::new();
    let mut error = None;
    let mut bytes = 0;
    let media_url = match kind {
        ContainerKind::Carousel => {
            children = params
                .required("children")?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if !CAROUSEL_ITEMS.contains(&children.len()) {
                return Err(GraphError::invalid(format!(
                    "A carousel takes 2 to 10 children; got {}",
                    children.len()
                )));
            }
            let state = sim.lock();
            for id in &children {
                match state.containers.get(id) {
                    Some(c) if c.is_carousel_item && c.published.is_none() => {}
                    Some(_) => {
                        return Err(GraphError::invalid(format!(
                            "Container {id} is not an unpublished carousel item"
                        )));
                    }
                    None => return Err(GraphError::unknown_object(id)),
                }
            }
            None
        }
        ContainerKind::Image => {
            let url = params.required("image_url")?.to_string();
            bytes = media::image(&url, &sim.config, true)
                .await
                .map_err(|r| GraphError::oauth(r.code, Some(r.subcode), r.message))?;
            Some(url)
        }
        ContainerKind::Reels | ContainerKind::Video => {
            if kind == ContainerKind::Reels {
                check_reel_options(&params)?;
            }
            let url = params.required("video_url")?.to_string();
            match media::video(&url, &sim.config, kind).await {
                Ok(n) => bytes = n,
                Err(r) => error = Some(r.status()),
            }
            Some(url)
        }
        ContainerKind::Stories => match (params.get("image_url"), params.get("video_url")) {
            (Some(url), None) => {
                bytes = media::image(url, &sim.config, false)
                    .await
                    .map_err(|r| GraphError::oauth(r.code, Some(r.subcode), r.message))?;
                Some(url.to_string())
            }
            (None, Some(url)) => {
                match media::video(url, &sim.config, kind).await {
                    Ok(n) => bytes = n,
                    Err(r) => error = Some(r.status()),
                }
                Some(url.to_string())
            }
            _ => {
                return Err(GraphError::invalid(
                    "A story takes exactly one of image_url and video_url",
                ));
            }
        },
    };
    let video = matches!(kind, ContainerKind::Reels | ContainerKind::Video)
        || (kind == ContainerKind::Stories && params.get("video_url").is_some());
    let processing = Duration::from_millis(if video {
        sim.config.video_processing_ms
    } else {
        sim.config.image_processing_ms
    });
    let id = new_id();
    let recorded: BTreeMap<String, String> = params.values.clone();
    sim.lock().containers.insert(
        id.clone(),
        Container {
            id: id.clone(),
            kind,
            is_carousel_item: carousel_item,
            caption: caption.map(str::to_string),
            children,
            media_url,
            bytes,
            params: recorded,
            created_time: Utc::now(),
            error,
            published: None,
            created_at: Instant::now(),
            processing,
        },
    );
    Ok(Json(json!({ "id": id })))
}

/// `GET /{id}`: a container's status, a media object, or the account.
pub(crate) async fn object(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let user = sim.lock().user_id.clone();
    sim.owner(&token, &user)?;
    let state = sim.lock();
    let ttl = sim.config.container_ttl_secs;
    if let Some(c) = state.containers.get(&id) {
        let code = state.status_code(c, ttl);
        let status = match code {
            "ERROR" => c.error.clone().unwrap_or_else(|| {
                let failed = c
                    .children
                    .iter()
                    .filter_map(|ch| state.containers.get(ch))
                    .find_map(|ch| ch.error.as_ref().map(|e| format!("{e} (child {})", ch.id)));
                failed.unwrap_or_else(|| "Error".into())
            }),
            "EXPIRED" => {
                "Error: the container was not published within 24 hours (subcode 2207008)".into()
            }
            other => other.to_string(),
        };
        return Ok(Json(
            json!({"id": c.id, "status_code": code, "status": status}),
        ));
    }
    if let Some(m) = state.media.iter().find(|m| m.id == id) {
        return Ok(Json(media_json(&sim, &state, m)));
    }
    if id == state.user_id {
        return Ok(Json(json!({
            "id": state.user_id,
            "username": sim.config.username,
            "media_count": state.media.len(),
        })));
    }
    Err(GraphError::unknown_object(&id))
}

fn media_json(sim: &Sim, state: &super::state::State, m: &RecordedMedia) -> Value {
    let mut v = json!({
        "id": m.id,
        "media_type": m.media_type,
        "media_product_type": m.media_product_type,
        "permalink": m.permalink,
        "timestamp": iso(m.timestamp),
        "username": sim.config.username,
        "comments_count": state.comments.iter().filter(|c| c.media_id == m.id).count(),
        "like_count": state.insights.get(&(m.id.clone(), "likes".to_string())).copied().unwrap_or(0.0),
    });
    if let Some(c) = &m.caption {
        v["caption"] = c.clone().into();
    }
    v
}

/// `POST /{ig-user}/media_publish creation_id=…`.
pub(crate) async fn publish(
    State(sim): State<Arc<Sim>>,
    Path(user): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.owner(&token, &user)?;
    sim.require_publish(&token)?;
    let creation = params.required("creation_id")?.to_string();
    let ttl = sim.config.container_ttl_secs;
    let mut state = sim.lock();
    let container = state
        .containers
        .get(&creation)
        .cloned()
        .ok_or_else(|| GraphError::unknown_object(&creation))?;
    if container.is_carousel_item {
        return Err(GraphError::invalid(
            "A carousel item cannot be published on its own; publish the carousel",
        ));
    }
    match state.status_code(&container, ttl) {
        "FINISHED" => {}
        "IN_PROGRESS" => {
            return Err(
                GraphError::oauth(9007, Some(2_207_027), "Media ID is not available")
                    .with_user_message(
                        "Media not ready",
                        "The media is not ready for publishing, please wait for a moment",
                    ),
            );
        }
        "PUBLISHED" => {
            return Err(GraphError::invalid(format!(
                "Container {creation} has been published already"
            )));
        }
        "EXPIRED" => {
            return Err(GraphError::oauth(
                9007,
                Some(2_207_008),
                "The media container expired: containers must be published within 24 hours",
            ));
        }
        _ => {
            return Err(GraphError::oauth(
                9007,
                Some(2_207_032),
                "Media upload has failed: the container is in ERROR",
            ));
        }
    }
    if state.published_within(sim.config.quota_duration_secs) >= sim.config.quota_total {
        return Err(GraphError::oauth(
            9,
            Some(2_207_042),
            "(#9) Application request limit reached",
        )
        .with_user_message(
            "Max posts reached",
            "The maximum number of posts that can be published in 24 hours has been reached.",
        ));
    }
    let id = new_id();
    let (media_type, product) = match container.kind {
        ContainerKind::Image => ("IMAGE", "FEED"),
        ContainerKind::Video | ContainerKind::Reels => ("VIDEO", "REELS"),
        ContainerKind::Carousel => ("CAROUSEL_ALBUM", "FEED"),
        ContainerKind::Stories if container.params.contains_key("video_url") => ("VIDEO", "STORY"),
        ContainerKind::Stories => ("IMAGE", "STORY"),
    };
    let permalink = if product == "STORY" {
        format!(
            "https://www.instagram.com/stories/{}/{id}/",
            sim.config.username
        )
    } else {
        let short = new_secret("");
        format!("https://www.instagram.com/p/{}/", &short[..11])
    };
    for c in container.children.iter().chain(std::iter::once(&creation)) {
        if let Some(c) = state.containers.get_mut(c) {
            c.published = Some(id.clone());
        }
    }
    state.media.push(RecordedMedia {
        id: id.clone(),
        media_type: media_type.into(),
        media_product_type: product.into(),
        caption: container.caption.clone(),
        container_id: creation,
        children: container.children.clone(),
        permalink,
        timestamp: Utc::now(),
    });
    Ok(Json(json!({ "id": id })))
}

/// `GET /{ig-user}/content_publishing_limit?fields=quota_usage,config`.
pub(crate) async fn publishing_limit(
    State(sim): State<Arc<Sim>>,
    Path(user): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.owner(&token, &user)?;
    sim.require_publish(&token)?;
    let used = sim.lock().published_within(sim.config.quota_duration_secs);
    Ok(Json(json!({"data": [{
        "quota_usage": used,
        "config": {
            "quota_total": sim.config.quota_total,
            "quota_duration": sim.config.quota_duration_secs,
        },
    }]})))
}

/// `GET /{ig-user}/media` (feed posts and reels) and `GET /{ig-user}/stories` (stories
/// of the last 24 h): newest first, `since`/`until` in Unix seconds, `limit` ≤ 100.
fn listing(sim: &Sim, params: &Params, stories: bool) -> Value {
    let bound = |name: &str| params.get(name).and_then(|s| s.parse::<i64>().ok());
    let (since, until) = (bound("since"), bound("until"));
    let limit: usize = params
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let day_ago = Utc::now() - chrono::Duration::hours(24);
    let state = sim.lock();
    let data: Vec<Value> = state
        .media
        .iter()
        .rev()
        .filter(|m| (m.media_product_type == "STORY") == stories)
        .filter(|m| !stories || m.timestamp > day_ago)
        .filter(|m| since.is_none_or(|s| m.timestamp.timestamp() >= s))
        .filter(|m| until.is_none_or(|u| m.timestamp.timestamp() <= u))
        .take(limit)
        .map(|m| media_json(sim, &state, m))
        .collect();
    json!({ "data": data })
}

pub(crate) async fn media_list(
    State(sim): State<Arc<Sim>>,
    Path(user): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.owner(&token, &user)?;
    Ok(Json(listing(&sim, &params, false)))
}

pub(crate) async fn stories(
    State(sim): State<Arc<Sim>>,
    Path(user): Path<String>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    sim.owner(&token, &user)?;
    Ok(Json(listing(&sim, &params, true)))
}

#[cfg(test)]
mod tests {
    use super::count_tagged;

    #[test]
    fn hashtags_and_mentions_are_counted_as_words() {
        assert_eq!(count_tagged("#a #b c#d #", '#'), 2);
        assert_eq!(count_tagged("hi @bob and mail@example.com", '@'), 1);
    }
}
