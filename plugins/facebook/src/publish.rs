//! The publishing flows, one per post kind. Media goes by handle: photos and stories are
//! pulled by Facebook from a short-lived signed URL, videos and reels are streamed from
//! the host in byte ranges — never through the plugin's memory.

use crate::graph::{self, Auth, check, field, url};
use plugboard_sdk::http;
use plugboard_sdk::prelude::*;
use serde_json::Value;

/// How long the signed media URLs Facebook pulls from stay valid.
const URL_TTL_SECS: u32 = 3600;
/// Bytes per resumable-upload request unless the app sets `upload_chunk_bytes`.
const DEFAULT_CHUNK: u64 = 4 * 1024 * 1024;
/// Upload requests retried (from the offset Facebook acknowledged) before giving up.
const UPLOAD_RETRIES: u32 = 5;

pub struct Page {
    pub id: String,
    pub auth: Auth,
    pub graph: String,
}

impl Page {
    pub fn current() -> Result<Page, PluginError> {
        Ok(Page {
            id: secrets::account_required("page_id")?,
            auth: Auth::account()?,
            graph: graph::graph_base()?,
        })
    }

    fn edge(&self, edge: &str) -> String {
        url(&self.graph, &format!("/{}/{edge}", self.id))
    }
}

fn option<'a>(post: &'a Post, name: &str) -> Option<&'a str> {
    post.options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn permalink(id: &str) -> String {
    format!("https://www.facebook.com/{id}")
}

pub fn text(page: &Page, post: &Post) -> Result<PublishOutcome, PluginError> {
    let mut form = vec![("message", post.text.as_str())];
    if let Some(link) = option(post, "link") {
        form.push(("link", link));
    }
    let created = page.auth.post(&page.edge("feed"), &form)?;
    let id = field(&created, "id")?;
    Ok(published(id.clone(), Some(permalink(&id))))
}

fn public_url(m: &MediaRef) -> Result<String, PluginError> {
    plugboard_sdk::wit::platform::plugboard::plugin::media::public_url(&m.handle, URL_TTL_SECS)
        .map_err(|e| PluginError::Transient(format!("no public URL for the media: {e:?}")))
}

/// An unpublished photo (for multi-photo posts and stories); its id.
fn unpublished_photo(page: &Page, m: &MediaRef) -> Result<String, PluginError> {
    let src = public_url(m)?;
    let created = page.auth.post(
        &page.edge("photos"),
        &[("url", src.as_str()), ("published", "false")],
    )?;
    field(&created, "id")
}

pub fn image(page: &Page, post: &Post) -> Result<PublishOutcome, PluginError> {
    if let [only] = post.media.as_slice() {
        let src = public_url(only)?;
        let created = page.auth.post(
            &page.edge("photos"),
            &[("url", src.as_str()), ("caption", post.text.as_str())],
        )?;
        let id = field(&created, "post_id")?;
        return Ok(published(id.clone(), Some(permalink(&id))));
    }
    let mut ids = Vec::new();
    for m in &post.media {
        ids.push(unpublished_photo(page, m)?);
    }
    let attached: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                format!("attached_media[{i}]"),
                serde_json::json!({ "media_fbid": id }).to_string(),
            )
        })
        .collect();
    let mut form: Vec<(&str, &str)> = vec![("message", post.text.as_str())];
    form.extend(attached.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let created = page.auth.post(&page.edge("feed"), &form)?;
    let id = field(&created, "id")?;
    Ok(published(id.clone(), Some(permalink(&id))))
}

/// A video through the Resumable Upload API, then `POST /{page}/videos` with the handle.
/// The session id is kept in plugin storage per target, so a later attempt resumes the
/// same upload from the offset Facebook acknowledged instead of sending it all again.
pub fn video(page: &Page, post: &Post) -> Result<PublishOutcome, PluginError> {
    let m = one_media(post)?;
    let user = Auth::user()?;
    let app_id = secrets::app_required("client_id")?;
    let key = format!("upload:{}:{}", post.target_id, m.handle);
    let session = match storage::get_string(&key)? {
        Some(s) => s,
        None => {
            let length = m.size.to_string();
            let started = user.post(
                &url(&page.graph, &format!("/{app_id}/uploads")),
                &[
                    ("file_name", file_name(m).as_str()),
                    ("file_length", length.as_str()),
                    ("file_type", m.mime_type.as_str()),
                ],
            )?;
            let id = field(&started, "id")?;
            storage::set_string(&key, &id)?;
            id
        }
    };
    let handle = upload(&page.graph, &user, &session, m)?;
    let mut form = vec![
        ("fbuploader_video_file_chunk", handle.as_str()),
        ("description", post.text.as_str()),
    ];
    if let Some(title) = option(post, "title") {
        form.push(("title", title));
    }
    let video_base = graph::video_base()?;
    let created = page
        .auth
        .post(&url(&video_base, &format!("/{}/videos", page.id)), &form)?;
    storage::delete(&key).map_err(storage::to_plugin_error)?;
    let id = field(&created, "id")?;
    Ok(pending(
        &format!("video:{id}"),
        "Facebook is processing the video",
    ))
}

/// Sends the rest of `m` to the session from the offset Facebook holds, in chunks; a
/// chunk cut off is resumed from the offset Facebook then reports. Returns the handle.
fn upload(
    graph_base: &str,
    user: &Auth,
    session: &str,
    m: &MediaRef,
) -> Result<String, PluginError> {
    let session_url = url(graph_base, &format!("/{session}"));
    let chunk = secrets::app("upload_chunk_bytes")?
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CHUNK);
    let mut offset = remote_offset(&session_url, user)?;
    let mut handle = None;
    let mut failures = 0;
    while offset < m.size || handle.is_none() {
        let length = chunk.min(m.size - offset);
        let sent = user
            .oauth_header(http::post(&session_url))
            .header("file_offset", &offset.to_string())
            .header("Content-Type", "application/octet-stream")
            .media_body(&m.handle, offset, Some(length))
            .send()
            .and_then(check);
        match sent {
            Ok(resp) => {
                handle = Some(field(&resp.json()?, "h")?);
                offset += length;
            }
            Err(PluginError::Transient(why)) if failures < UPLOAD_RETRIES => {
                failures += 1;
                log::warn(&format!(
                    "upload chunk at {offset} failed ({why}); resuming"
                ));
                offset = remote_offset(&session_url, user)?;
            }
            Err(e) => return Err(e),
        }
    }
    handle.ok_or_else(|| PluginError::Transient("Facebook returned no upload handle".into()))
}

fn remote_offset(session_url: &str, user: &Auth) -> Result<u64, PluginError> {
    let resp = check(user.oauth_header(http::get(session_url)).send()?)?;
    let v: Value = resp.json()?;
    v["file_offset"]
        .as_u64()
        .or_else(|| v["file_offset"].as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| PluginError::Transient(format!("Facebook reported no file_offset: {v}")))
}

/// Start → rupload → finish, for reels (`video_reels`) and video stories (`video_stories`).
fn phased(
    page: &Page,
    edge: &str,
    m: &MediaRef,
    finish: &[(&str, &str)],
) -> Result<(String, Value), PluginError> {
    let started = page
        .auth
        .post(&page.edge(edge), &[("upload_phase", "start")])?;
    let video_id = field(&started, "video_id")?;
    let upload_url = field(&started, "upload_url")?;
    check(
        page.auth
            .oauth_header(http::post(&upload_url))
            .header("offset", "0")
            .header("file_size", &m.size.to_string())
            .header("Content-Type", "application/octet-stream")
            .media_body(&m.handle, 0, None)
            .send()?,
    )?;
    let mut form = vec![("upload_phase", "finish"), ("video_id", video_id.as_str())];
    form.extend_from_slice(finish);
    let done = page.auth.post(&page.edge(edge), &form)?;
    if done["success"] != Value::Bool(true) {
        return Err(PluginError::Transient(format!(
            "Facebook did not confirm the finish: {done}"
        )));
    }
    Ok((video_id, done))
}

pub fn reel(page: &Page, post: &Post) -> Result<PublishOutcome, PluginError> {
    let m = one_media(post)?;
    let (video_id, _) = phased(
        page,
        "video_reels",
        m,
        &[
            ("video_state", "PUBLISHED"),
            ("description", post.text.as_str()),
        ],
    )?;
    Ok(pending(
        &format!("reel:{video_id}"),
        "Facebook is processing the reel",
    ))
}

pub fn story(page: &Page, post: &Post) -> Result<PublishOutcome, PluginError> {
    let m = one_media(post)?;
    if m.mime_type.starts_with("image/") {
        let photo_id = unpublished_photo(page, m)?;
        let done = page.auth.post(
            &page.edge("photo_stories"),
            &[("photo_id", photo_id.as_str())],
        )?;
        let id = field(&done, "post_id")?;
        return Ok(published(id.clone(), Some(permalink(&id))));
    }
    let (video_id, _) = phased(page, "video_stories", m, &[])?;
    Ok(pending(
        &format!("story:{video_id}"),
        "Facebook is processing the story",
    ))
}

fn one_media(post: &Post) -> Result<&MediaRef, PluginError> {
    post.media.first().ok_or_else(|| {
        invalid(
            "media",
            "too-few-media",
            format!("Facebook '{}' posts need a file", post.kind),
        )
    })
}

fn file_name(m: &MediaRef) -> String {
    let ext = if m.mime_type == "video/quicktime" {
        "mov"
    } else {
        "mp4"
    };
    format!("video.{ext}")
}

pub fn pending(handle: &str, message: &str) -> PublishOutcome {
    PublishOutcome::Pending(PendingPost {
        handle: handle.into(),
        poll_after_secs: 2,
        message: message.into(),
    })
}

/// Polls a video, reel or story: `ready` is published, `error` is refused content.
pub fn status(handle: &str) -> Result<PublishOutcome, PluginError> {
    let (kind, id) = handle
        .split_once(':')
        .ok_or_else(|| PluginError::Permanent(format!("unreadable pending handle {handle}")))?;
    let page = Page::current()?;
    let v = page.auth.get(
        &url(&page.graph, &format!("/{id}")),
        &[("fields", "status,permalink_url")],
    )?;
    let status = &v["status"];
    match status["video_status"].as_str() {
        Some("ready") if status["publishing_phase"]["status"] == "complete" => {
            let link = v["permalink_url"]
                .as_str()
                .map(str::to_string)
                .or_else(|| Some(permalink(id)));
            Ok(published(id.to_string(), link))
        }
        Some("error") => {
            let why = status["processing_phase"]["errors"][0]["message"]
                .as_str()
                .unwrap_or("Facebook could not process the video");
            Err(invalid(
                "media[0]",
                "processing-failed",
                format!("Facebook refused the {kind}: {why}"),
            ))
        }
        _ => Ok(pending(
            handle,
            &format!("Facebook is processing the {kind}"),
        )),
    }
}
