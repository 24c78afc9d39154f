//! What Facebook Pages accept, for `describe()` and for `validate` without network calls.

use plugboard_sdk::prelude::*;

/// Longest post message, in Unicode scalars.
pub const MAX_TEXT: u32 = 63_206;
const MB: u64 = 1024 * 1024;
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/bmp"];
const VIDEO_TYPES: &[&str] = &["video/mp4", "video/quicktime"];
/// Photos per multi-photo post (attached_media).
pub const MAX_PHOTOS: u32 = 10;

pub const SCOPES: &[&str] = &[
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
    "pages_manage_engagement",
    "read_insights",
];

fn text(min: u32) -> Option<TextRules> {
    Some(TextRules {
        max_length: MAX_TEXT,
        min_length: min,
        counting: TextCounting::UnicodeScalars,
        url_length: None,
    })
}

fn image() -> MediaConstraint {
    MediaConstraint {
        mime_types: IMAGE_TYPES.iter().map(|s| s.to_string()).collect(),
        max_bytes: 10 * MB,
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

fn video(max_bytes: u64, min_ms: Option<u64>, max_ms: u64) -> MediaConstraint {
    MediaConstraint {
        mime_types: VIDEO_TYPES.iter().map(|s| s.to_string()).collect(),
        max_bytes,
        min_duration_ms: min_ms,
        max_duration_ms: Some(max_ms),
        ..image()
    }
}

fn reel_video() -> MediaConstraint {
    MediaConstraint {
        min_width: Some(540),
        min_height: Some(960),
        // 9:16 with 1% tolerance, as Facebook measures it.
        min_aspect: Some(0.5569),
        max_aspect: Some(0.5681),
        max_frame_rate: Some(60.0),
        ..video(1024 * MB, Some(3_000), 90_000)
    }
}

fn media(min: u32, max: u32, constraints: Vec<MediaConstraint>) -> Option<MediaRules> {
    Some(MediaRules {
        min_count: min,
        max_count: max,
        constraints,
        allow_mixed: false,
    })
}

fn kind(
    name: &str,
    text: Option<TextRules>,
    media: Option<MediaRules>,
    options: &[&str],
) -> PostKind {
    PostKind {
        name: name.into(),
        text,
        media,
        max_thread_items: 0,
        options: options.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn describe() -> PlatformInfo {
    PlatformInfo {
        platform: "facebook".into(),
        display_name: "Facebook".into(),
        auth: AuthKind::Oauth2(Oauth2Info {
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            pkce: false,
            refreshable: true,
        }),
        post_kinds: vec![
            kind("text", text(1), None, &["link"]),
            kind("image", text(0), media(1, MAX_PHOTOS, vec![image()]), &[]),
            kind(
                "video",
                text(0),
                media(1, 1, vec![video(10 * 1024 * MB, Some(1_000), 240 * 60_000)]),
                &["title"],
            ),
            kind("reel", text(0), media(1, 1, vec![reel_video()]), &[]),
            kind(
                "story",
                None,
                media(1, 1, vec![image(), video(1024 * MB, Some(3_000), 60_000)]),
                &[],
            ),
        ],
        // Facebook's Page limits are usage-based (X-Business-Use-Case-Usage), not a fixed
        // count; reels are capped at 30 per Page per 24 h, which the platform enforces.
        rate_limits: Vec::new(),
        features: vec![
            Feature::Publish,
            Feature::CheckStatus,
            Feature::Reconcile,
            Feature::Delete,
            Feature::Metrics,
            Feature::Comments,
            Feature::Webhooks,
            Feature::SubAccounts,
        ],
        status_poll_secs: 2,
    }
}

/// Everything `describe::check` does not: media types, sizes, dimensions, durations,
/// story text, the link option.
pub fn check_more(post: &Post) -> Vec<Problem> {
    let info = describe();
    let Some(kind) = info.post_kinds.iter().find(|k| k.name == post.kind) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if post.kind == "story" && !post.text.trim().is_empty() {
        problems.push(problem(
            "text",
            "text-not-supported",
            "Facebook stories published through the API carry no text; remove the text or use a variant without it".into(),
        ));
    }
    for (k, v) in &post.options {
        if !kind.options.iter().any(|o| o == k) {
            problems.push(problem(
                &format!("options.{k}"),
                "unknown-option",
                format!("Facebook '{}' posts take no option '{k}'", post.kind),
            ));
        } else if k == "link" && !(v.starts_with("https://") || v.starts_with("http://")) {
            problems.push(problem(
                "options.link",
                "invalid-link",
                format!("The link '{v}' is not an http(s) URL"),
            ));
        }
    }
    if let Some(rules) = &kind.media {
        for (i, m) in post.media.iter().enumerate() {
            problems.extend(check_media(
                &format!("media[{i}]"),
                m,
                &rules.constraints,
                &post.kind,
            ));
        }
    }
    problems
}

fn check_media(
    field: &str,
    m: &MediaRef,
    constraints: &[MediaConstraint],
    kind: &str,
) -> Vec<Problem> {
    let Some(c) = constraints
        .iter()
        .find(|c| c.mime_types.iter().any(|t| t == &m.mime_type))
    else {
        let accepted: Vec<&str> = constraints
            .iter()
            .flat_map(|c| c.mime_types.iter().map(String::as_str))
            .collect();
        return vec![problem(
            field,
            "unsupported-media-type",
            format!(
                "Facebook '{kind}' posts take {}; this file is {}",
                accepted.join(", "),
                m.mime_type
            ),
        )];
    };
    let mut out = Vec::new();
    if m.size > c.max_bytes {
        out.push(problem(
            field,
            "media-too-large",
            format!(
                "Facebook '{kind}' posts take files up to {} MB; this one is {:.1} MB",
                c.max_bytes / MB,
                m.size as f64 / MB as f64
            ),
        ));
    }
    if let (Some(w), Some(h)) = (m.width, m.height) {
        if c.min_width.is_some_and(|min| w < min) || c.min_height.is_some_and(|min| h < min) {
            out.push(problem(
                field,
                "media-too-small",
                format!(
                    "Facebook '{kind}' posts need at least {}x{} pixels; this one is {w}x{h}",
                    c.min_width.unwrap_or(0),
                    c.min_height.unwrap_or(0)
                ),
            ));
        }
        let aspect = w as f32 / h.max(1) as f32;
        if c.min_aspect.is_some_and(|a| aspect < a) || c.max_aspect.is_some_and(|a| aspect > a) {
            out.push(problem(
                field,
                "wrong-aspect-ratio",
                format!("Facebook '{kind}' posts must be 9:16 (portrait); this one is {w}x{h}"),
            ));
        }
    }
    if let Some(ms) = m.duration_ms
        && (c.min_duration_ms.is_some_and(|min| ms < min)
            || c.max_duration_ms.is_some_and(|max| ms > max))
    {
        out.push(problem(
            field,
            "wrong-duration",
            format!(
                "Facebook '{kind}' videos must last {} to {} seconds; this one lasts {:.1} s",
                c.min_duration_ms.unwrap_or(0) / 1000,
                c.max_duration_ms.unwrap_or(0) / 1000,
                ms as f64 / 1000.0
            ),
        ));
    }
    out
}

fn problem(field: &str, code: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        code: code.into(),
        message,
    }
}
