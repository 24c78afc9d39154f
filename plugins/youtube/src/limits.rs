//! What YouTube accepts: videos and Shorts, metadata limits, options, the upload quota.

use plugboard_sdk::prelude::*;

const MAX_TITLE: usize = 100;
const MAX_DESCRIPTION_BYTES: u32 = 5000;
const MAX_TAG_CHARS: usize = 500;
const MAX_VIDEO_BYTES: u64 = 256_000_000_000;
const MAX_VIDEO_MS: u64 = 12 * 3600 * 1000;
/// Shorts are vertical or square and at most three minutes long.
const MAX_SHORT_MS: u64 = 3 * 60 * 1000;
const VIDEO_TYPES: &[&str] = &[
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-msvideo",
    "video/mpeg",
    "video/3gpp",
    "video/x-flv",
];
pub const CATEGORIES: &[&str] = &[
    "1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29",
];
const PRIVACY: &[&str] = &["public", "unlisted", "private"];
const OPTIONS: &[&str] = &[
    "title",
    "tags",
    "category_id",
    "privacy_status",
    "publish_at",
    "made_for_kids",
];
pub const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
];

fn kind(name: &str, max_aspect: Option<f32>, max_ms: u64) -> PostKind {
    PostKind {
        name: name.into(),
        text: Some(TextRules {
            max_length: MAX_DESCRIPTION_BYTES,
            min_length: 0,
            counting: TextCounting::Utf8Bytes,
            url_length: None,
        }),
        media: Some(MediaRules {
            min_count: 1,
            max_count: 1,
            constraints: vec![MediaConstraint {
                mime_types: VIDEO_TYPES.iter().map(|s| s.to_string()).collect(),
                max_bytes: MAX_VIDEO_BYTES,
                min_width: None,
                max_width: None,
                min_height: None,
                max_height: None,
                min_aspect: None,
                max_aspect,
                min_duration_ms: None,
                max_duration_ms: Some(max_ms),
                max_frame_rate: None,
            }],
            allow_mixed: false,
        }),
        max_thread_items: 0,
        options: OPTIONS.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn describe() -> PlatformInfo {
    PlatformInfo {
        platform: "youtube".into(),
        display_name: "YouTube".into(),
        auth: AuthKind::Oauth2(Oauth2Info {
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            pkce: true,
            refreshable: true,
        }),
        post_kinds: vec![
            kind("video", None, MAX_VIDEO_MS),
            kind("short", Some(1.0), MAX_SHORT_MS),
        ],
        rate_limits: vec![RateLimitRule {
            // videos.insert has its own bucket of 100 calls a day per project.
            scope: RateScope::App,
            counts: "posts".into(),
            limit: 100,
            window_secs: 86_400,
        }],
        features: vec![Feature::Publish, Feature::CheckStatus, Feature::Reconcile],
        status_poll_secs: 5,
    }
}

pub fn option<'a>(post: &'a Post, name: &str) -> Option<&'a str> {
    post.options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The title: the `title` option, else the first line of the text.
pub fn title(post: &Post) -> String {
    option(post, "title")
        .map(str::to_string)
        .unwrap_or_else(|| {
            post.text
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
}

pub fn tags(post: &Post) -> Vec<String> {
    option(post, "tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn problem(field: &str, code: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        code: code.into(),
        message,
    }
}

/// Metadata checks the generic check does not cover.
pub fn check(post: &Post) -> Vec<Problem> {
    let mut out = Vec::new();
    let title = title(post);
    let count = title.chars().count();
    if title.is_empty() {
        out.push(problem(
            "options.title",
            "title-missing",
            "YouTube needs a title: set the title option or start the text with it".into(),
        ));
    } else if count > MAX_TITLE {
        out.push(problem("options.title", "title-too-long", format!("YouTube titles take up to {MAX_TITLE} characters; this one has {count} ({} too many)", count - MAX_TITLE)));
    }
    if title.contains(['<', '>']) {
        out.push(problem(
            "options.title",
            "invalid-character",
            "YouTube titles may not contain < or >".into(),
        ));
    }
    if post.text.contains(['<', '>']) {
        out.push(problem(
            "text",
            "invalid-character",
            "YouTube descriptions may not contain < or >".into(),
        ));
    }
    let tags = tags(post);
    // YouTube counts the commas between tags and the quotes around tags with spaces.
    let tag_chars: usize = tags
        .iter()
        .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
        .sum::<usize>()
        + tags.len().saturating_sub(1);
    if tag_chars > MAX_TAG_CHARS {
        out.push(problem("options.tags", "tags-too-long", format!("YouTube tags take up to {MAX_TAG_CHARS} characters in all (commas and quotes around tags with spaces count); these count {tag_chars}")));
    }
    if tags.iter().any(|t| t.contains(['<', '>'])) {
        out.push(problem(
            "options.tags",
            "invalid-character",
            "YouTube tags may not contain < or >".into(),
        ));
    }
    if let Some(c) = option(post, "category_id")
        && !CATEGORIES.contains(&c)
    {
        out.push(problem("options.category_id", "invalid-option", format!("'{c}' is not a YouTube category id (e.g. 22 People & Blogs, 27 Education, 28 Science & Technology)")));
    }
    let privacy = option(post, "privacy_status");
    if let Some(p) = privacy
        && !PRIVACY.contains(&p)
    {
        out.push(problem(
            "options.privacy_status",
            "invalid-option",
            format!("privacy_status is public, unlisted or private, not '{p}'"),
        ));
    }
    if let Some(at) = option(post, "publish_at") {
        if privacy != Some("private") {
            out.push(problem("options.publish_at", "publish-at-needs-private", "YouTube schedules only private videos: set privacy_status to private with publish_at".into()));
        }
        if !looks_like_rfc3339(at) {
            out.push(problem(
                "options.publish_at",
                "invalid-option",
                format!(
                    "publish_at must be an RFC 3339 time such as 2026-12-24T18:00:00Z, not '{at}'"
                ),
            ));
        }
    }
    if let Some(k) = option(post, "made_for_kids")
        && !matches!(k, "true" | "false")
    {
        out.push(problem(
            "options.made_for_kids",
            "invalid-option",
            format!("made_for_kids is true or false, not '{k}'"),
        ));
    }
    if post.kind == "short"
        && let Some(m) = post.media.first()
        && let (Some(w), Some(h)) = (m.width, m.height)
        && w > h
    {
        out.push(problem(
            "media[0]",
            "short-not-vertical",
            format!("Shorts are vertical or square; this video is {w}×{h}"),
        ));
    }
    out
}

fn looks_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (s.ends_with('Z') || s[19..].contains(['+', '-']))
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .into_iter()
            .all(|r| b[r].iter().all(u8::is_ascii_digit))
}
