//! Media uploads, their asynchronous processing, and the files they serve.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::auth::{require, scope_or_parent};
use super::error::ApiError;
use super::params::{Part, multipart};
use super::state::{Media, MediaKind, Sim};

/// The types Mastodon 4.3 accepts, as advertised in `/api/v2/instance`.
pub(crate) const SUPPORTED_MIME_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/heic",
    "image/heif",
    "image/webp",
    "image/avif",
    "video/webm",
    "video/mp4",
    "video/quicktime",
    "video/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wave",
    "audio/vnd.wave",
    "audio/ogg",
    "audio/vorbis",
    "audio/mpeg",
    "audio/mp3",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "audio/m4a",
    "audio/x-m4a",
    "audio/mp4",
    "audio/3gpp",
    "video/x-ms-asf",
];

const DESCRIPTION_LIMIT: usize = 1500;

/// `POST /api/v2/media`: images are ready at once (200); video, audio and
/// GIFs (which Mastodon turns into `gifv` video) are answered 202 with a null
/// `url` and become ready after the configured processing time.
pub(crate) async fn upload(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let account_id = {
        let state = sim.lock();
        let caller = require(&state, &headers, scope_or_parent("write:media"))?;
        caller.user()?.to_owned()
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let parts = multipart(content_type, body)
        .await
        .map_err(|_| ApiError::bad_parameters())?
        .unwrap_or_default();
    let text = |name: &str| {
        parts
            .iter()
            .find(|part| part.name == name && part.file_name.is_none())
            .map(|part| String::from_utf8_lossy(&part.data).into_owned())
    };
    // A field without a file name is a plain string to Rails, not an upload.
    let file = parts
        .iter()
        .find(|part| part.name == "file" && part.file_name.is_some())
        .ok_or_else(|| ApiError::validation("File can't be blank"))?;
    let mime = mime_type(file)
        .ok_or_else(|| ApiError::validation("File content type is invalid, File is invalid"))?;
    let kind = kind_of(&mime);
    let limit = if kind == MediaKind::Image || mime == "image/gif" {
        sim.config.image_size_limit
    } else {
        sim.config.video_size_limit
    };
    if file.data.len() as u64 > limit {
        return Err(ApiError::validation(format!(
            "File file size must be less than {}",
            human_size(limit)
        )));
    }
    let description = text("description").filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > DESCRIPTION_LIMIT)
    {
        return Err(ApiError::validation(format!(
            "Description is too long (maximum is {DESCRIPTION_LIMIT} characters)"
        )));
    }
    let mut state = sim.lock();
    let ready_at = if kind == MediaKind::Image {
        Instant::now()
    } else {
        Instant::now() + state.media_processing
    };
    let media = Media {
        id: state.next_id(),
        account_id,
        kind,
        dimensions: dimensions(&file.data),
        mime,
        data: file.data.clone(),
        description,
        focus: text("focus").as_deref().and_then(parse_focus),
        ready_at,
        status_id: None,
    };
    let status = if media.processed() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let body = render(&sim.base_url, &media);
    state.media.insert(media.id.clone(), media);
    Ok((status, Json(body)).into_response())
}

/// `GET /api/v1/media/:id`: 206 while processing, 200 once ready. Only the
/// uploader sees it, and only until it is attached to a status.
pub(crate) async fn show(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let state = sim.lock();
    let caller = require(&state, &headers, scope_or_parent("write:media"))?;
    let account_id = caller.user()?;
    let media = state
        .media
        .get(&id)
        .filter(|media| media.account_id == account_id && media.status_id.is_none())
        .ok_or_else(ApiError::not_found)?;
    let status = if media.processed() {
        StatusCode::OK
    } else {
        StatusCode::PARTIAL_CONTENT
    };
    Ok((status, Json(render(&sim.base_url, media))).into_response())
}

/// `GET /system/media/:id/:style`: the uploaded bytes, once processed.
pub(crate) async fn file(
    State(sim): State<Arc<Sim>>,
    Path((id, style)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let state = sim.lock();
    let media = state
        .media
        .get(&id)
        .filter(|media| media.processed() && matches!(style.as_str(), "original" | "small"))
        .ok_or_else(ApiError::not_found)?;
    let content_type = HeaderValue::from_str(&media.mime).map_err(|_| ApiError::not_found())?;
    Ok(([(header::CONTENT_TYPE, content_type)], media.data.clone()).into_response())
}

/// The MediaAttachment entity. `url` and `preview_url` stay null until the
/// file is processed, which is how clients tell processing is over.
pub(crate) fn render(base_url: &str, media: &Media) -> Value {
    let ready = media.processed();
    let file_url =
        |style: &str| ready.then(|| format!("{base_url}/system/media/{}/{style}", media.id));
    let mut meta = Map::new();
    if let Some((width, height)) = media.dimensions {
        let size = json!({
            "width": width,
            "height": height,
            "size": format!("{width}x{height}"),
            "aspect": f64::from(width) / f64::from(height.max(1)),
        });
        meta.insert("original".to_owned(), size.clone());
        meta.insert("small".to_owned(), size);
    }
    if let Some((x, y)) = media.focus {
        meta.insert("focus".to_owned(), json!({ "x": x, "y": y }));
    }
    json!({
        "id": media.id,
        "type": media.kind.as_str(),
        "url": file_url("original"),
        "preview_url": file_url("small"),
        "remote_url": null,
        "preview_remote_url": null,
        "text_url": null,
        "meta": meta,
        "description": media.description,
        "blurhash": null,
    })
}

/// The declared type when Mastodon supports it, otherwise what the bytes
/// look like (clients often send `application/octet-stream`).
fn mime_type(file: &Part) -> Option<String> {
    let declared = file
        .content_type
        .as_deref()
        .map(super::params::media_type)
        .filter(|declared| SUPPORTED_MIME_TYPES.contains(&declared.as_str()));
    declared.or_else(|| sniff(&file.data).map(str::to_owned))
}

fn sniff(data: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if starts(b"RIFF") && data.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else if data.get(4..8) == Some(b"ftyp") {
        let brand = data.get(8..12).unwrap_or_default();
        Some(match brand {
            b"qt  " => "video/quicktime",
            b"M4A " => "audio/mp4",
            b"avif" => "image/avif",
            b"heic" | b"heix" => "image/heic",
            _ => "video/mp4",
        })
    } else if starts(b"\x1A\x45\xDF\xA3") {
        Some("video/webm")
    } else if starts(b"OggS") {
        Some("audio/ogg")
    } else if starts(b"ID3") || starts(b"\xFF\xFB") || starts(b"\xFF\xF3") {
        Some("audio/mpeg")
    } else if starts(b"fLaC") {
        Some("audio/flac")
    } else if starts(b"RIFF") && data.get(8..12) == Some(b"WAVE") {
        Some("audio/wav")
    } else {
        None
    }
}

fn kind_of(mime: &str) -> MediaKind {
    match mime {
        "image/gif" => MediaKind::Gifv,
        image if image.starts_with("image/") => MediaKind::Image,
        audio if audio.starts_with("audio/") => MediaKind::Audio,
        _ => MediaKind::Video,
    }
}

/// Rails' `number_to_human_size`: binary units named KB, MB…, three
/// significant digits, insignificant zeros dropped ("16 MB", "1.5 MB").
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} Bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text} {}", UNITS[unit])
}

/// Mastodon's `focus` parameter: `"x,y"`, each within -1..=1.
fn parse_focus(text: &str) -> Option<(f64, f64)> {
    let (x, y) = text.split_once(',')?;
    let x: f64 = x.trim().parse().ok()?;
    let y: f64 = y.trim().parse().ok()?;
    let valid = |v: f64| (-1.0..=1.0).contains(&v);
    (valid(x) && valid(y)).then_some((x, y))
}

/// Width and height of PNG, GIF and JPEG images, for `meta`.
fn dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let be16 = |at: usize| {
        Some(u32::from(u16::from_be_bytes(
            data.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let le16 = |at: usize| {
        Some(u32::from(u16::from_le_bytes(
            data.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let be32 = |at: usize| Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?));
    match sniff(data)? {
        "image/png" => Some((be32(16)?, be32(20)?)),
        "image/gif" => Some((le16(6)?, le16(8)?)),
        "image/jpeg" => {
            // Walk the segments to the first start-of-frame marker.
            let mut at = 2;
            loop {
                if *data.get(at)? != 0xFF {
                    return None;
                }
                let marker = *data.get(at + 1)?;
                let is_frame =
                    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
                if is_frame {
                    return Some((be16(at + 7)?, be16(at + 5)?));
                }
                at += 2 + usize::try_from(be16(at + 2)?).ok()?;
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_formats() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"\0\0\0\x18ftypisom"), Some("video/mp4"));
        assert_eq!(sniff(b"\0\0\0\x18ftypqt  "), Some("video/quicktime"));
        assert_eq!(sniff(b"GIF89a"), Some("image/gif"));
        assert_eq!(sniff(b"plain text"), None);
    }

    #[test]
    fn reads_png_gif_and_jpeg_dimensions() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(dimensions(&png), Some((640, 480)));

        let gif = b"GIF89a\x20\x03\x58\x02";
        assert_eq!(dimensions(gif), Some((800, 600)));

        // SOI, an APP0 segment of length 4, then SOF0 with height 2, width 3.
        let jpeg = b"\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xC0\x00\x11\x08\x00\x02\x00\x03";
        assert_eq!(dimensions(jpeg), Some((3, 2)));
    }

    #[test]
    fn limits_read_like_rails() {
        assert_eq!(human_size(16 * 1024 * 1024), "16 MB");
        assert_eq!(human_size(103_809_024), "99 MB");
        assert_eq!(human_size(1536 * 1024), "1.5 MB");
        assert_eq!(human_size(512), "512 Bytes");
    }

    #[test]
    fn focus_must_be_two_numbers_in_range() {
        assert_eq!(parse_focus("0.5,-0.25"), Some((0.5, -0.25)));
        assert_eq!(parse_focus("2,0"), None);
        assert_eq!(parse_focus("nope"), None);
    }
}
