//! What Instagram accepts, for `describe()` and for `validate` without network calls.

use plugboard_sdk::prelude::*;

/// Longest caption, in Unicode scalars.
pub const MAX_CAPTION: u32 = 2_200;
pub const MAX_HASHTAGS: usize = 30;
pub const MAX_MENTIONS: usize = 20;
pub const MAX_COLLABORATORS: usize = 3;
/// Carousel items.
pub const MIN_CAROUSEL: u32 = 2;
pub const MAX_CAROUSEL: u32 = 10;
/// Published posts per account per rolling 24 h.
pub const DAILY_POSTS: u32 = 50;
pub const DAY_SECS: u32 = 86_400;
const MB: u64 = 1024 * 1024;
const VIDEO_TYPES: &[&str] = &["video/mp4", "video/quicktime"];

pub const INSTAGRAM_SCOPES: &[&str] = &[
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
    "instagram_business_manage_insights",
];

pub const FACEBOOK_SCOPES: &[&str] = &[
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
];

fn caption() -> Option<TextRules> {
    Some(TextRules {
        max_length: MAX_CAPTION,
        min_length: 0,
        counting: TextCounting::UnicodeScalars,
        url_length: None,
    })
}

/// A JPEG; feed images (and carousel images) 4:5 to 1.91:1.
fn image(feed: bool) -> MediaConstraint {
    MediaConstraint {
        mime_types: vec!["image/jpeg".into()],
        max_bytes: 8 * MB,
        min_width: Some(320),
        max_width: None,
        min_height: None,
        max_height: None,
        min_aspect: feed.then_some(0.8),
        max_aspect: feed.then_some(1.91),
        min_duration_ms: None,
        max_duration_ms: None,
        max_frame_rate: None,
    }
}

fn video(max_bytes: u64, max_ms: u64) -> MediaConstraint {
    MediaConstraint {
        mime_types: VIDEO_TYPES.iter().map(|s| s.to_string()).collect(),
        max_bytes,
        min_width: None,
        max_width: None,
        min_height: None,
        max_height: None,
        min_aspect: None,
        max_aspect: None,
        min_duration_ms: Some(3_000),
        max_duration_ms: Some(max_ms),
        max_frame_rate: Some(60.0),
    }
}

fn media(min: u32, max: u32, constraints: Vec<MediaConstraint>, mixed: bool) -> Option<MediaRules> {
    Some(MediaRules {
        min_count: min,
        max_count: max,
        constraints,
        allow_mixed: mixed,
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
        platform: "instagram".into(),
        display_name: "Instagram".into(),
        auth: AuthKind::Oauth2(Oauth2Info {
            scopes: INSTAGRAM_SCOPES.iter().map(|s| s.to_string()).collect(),
            pkce: false,
            refreshable: true,
        }),
        post_kinds: vec![
            kind(
                "image",
                caption(),
                media(1, 1, vec![image(true)], false),
                &["location_id", "collaborators"],
            ),
            kind(
                "reel",
                caption(),
                media(1, 1, vec![video(300 * MB, 15 * 60_000)], false),
                &[
                    "share_to_feed",
                    "thumb_offset",
                    "audio_name",
                    "location_id",
                    "collaborators",
                ],
            ),
            kind(
                "story",
                None,
                media(1, 1, vec![image(false), video(100 * MB, 60_000)], false),
                &[],
            ),
            kind(
                "carousel",
                caption(),
                media(
                    MIN_CAROUSEL,
                    MAX_CAROUSEL,
                    vec![image(true), video(100 * MB, 60_000)],
                    true,
                ),
                &["location_id", "collaborators"],
            ),
        ],
        rate_limits: vec![RateLimitRule {
            scope: RateScope::Account,
            counts: "posts".into(),
            limit: DAILY_POSTS,
            window_secs: DAY_SECS,
        }],
        features: vec![
            Feature::Publish,
            Feature::CheckStatus,
            Feature::Reconcile,
            Feature::Metrics,
            Feature::Comments,
            Feature::Webhooks,
        ],
        // Instagram asks for container status polls at most once a minute.
        status_poll_secs: 60,
    }
}

/// Words starting with `sigil` (`#tag`, `@name`), as Instagram counts them.
pub fn count_tagged(text: &str, sigil: char) -> usize {
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

/// The `collaborators` option: comma-separated usernames.
pub fn collaborators(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().trim_start_matches('@').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Everything `describe::check` does not: hashtags, mentions, story text, options, media
/// types, sizes, widths, aspect ratios and durations.
pub fn check_more(post: &Post) -> Vec<Problem> {
    let info = describe();
    let Some(kind) = info.post_kinds.iter().find(|k| k.name == post.kind) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if kind.text.is_none() && !post.text.trim().is_empty() {
        problems.push(problem(
            "text",
            "text-not-supported",
            "Instagram stories published through the API carry no caption; remove the text or use a variant without it".into(),
        ));
    }
    let tags = count_tagged(&post.text, '#');
    if tags > MAX_HASHTAGS {
        problems.push(problem(
            "text",
            "too-many-hashtags",
            format!("Instagram allows {MAX_HASHTAGS} hashtags in a caption; this one has {tags}"),
        ));
    }
    let mentions = count_tagged(&post.text, '@');
    if mentions > MAX_MENTIONS {
        problems.push(problem(
            "text",
            "too-many-mentions",
            format!(
                "Instagram allows {MAX_MENTIONS} @-mentions in a caption; this one has {mentions}"
            ),
        ));
    }
    for (k, v) in &post.options {
        problems.extend(check_option(&post.kind, &kind.options, k, v));
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

fn check_option(kind: &str, known: &[String], k: &str, v: &str) -> Option<Problem> {
    let field = format!("options.{k}");
    if !known.iter().any(|o| o == k) {
        return Some(problem(
            &field,
            "unknown-option",
            format!("Instagram '{kind}' posts take no option '{k}'"),
        ));
    }
    let bad = |message: String| Some(problem(&field, "invalid-option", message));
    match k {
        "share_to_feed" if !matches!(v, "true" | "false") => {
            bad(format!("share_to_feed is true or false, not '{v}'"))
        }
        "thumb_offset" if v.parse::<u64>().is_err() => bad(format!(
            "thumb_offset is the cover frame's time in milliseconds, not '{v}'"
        )),
        "location_id" if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) => bad(format!(
            "location_id is the numeric id of a Facebook Page with a location, not '{v}'"
        )),
        "collaborators" if collaborators(v).len() > MAX_COLLABORATORS => bad(format!(
            "Instagram posts take at most {MAX_COLLABORATORS} collaborators; {} are named",
            collaborators(v).len()
        )),
        _ => None,
    }
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
                "Instagram '{kind}' posts take {}; this file is {}",
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
                "Instagram '{kind}' posts take files up to {} MB; this one is {:.1} MB",
                c.max_bytes / MB,
                m.size as f64 / MB as f64
            ),
        ));
    }
    if let (Some(w), Some(h)) = (m.width, m.height) {
        if let Some(min) = c.min_width.filter(|min| w < *min) {
            out.push(problem(
                field,
                "media-too-small",
                format!("Instagram needs images at least {min} px wide; this one is {w}x{h}"),
            ));
        }
        let aspect = w as f32 / h.max(1) as f32;
        if c.min_aspect.is_some_and(|a| aspect < a - 1e-3)
            || c.max_aspect.is_some_and(|a| aspect > a + 1e-3)
        {
            out.push(problem(
                field,
                "wrong-aspect-ratio",
                format!(
                    "Instagram feed images go from 4:5 (portrait) to 1.91:1 (landscape); this one is {w}x{h}"
                ),
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
                "Instagram '{kind}' videos must last {} to {} seconds; this one lasts {:.1} s",
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
