//! What Threads accepts: `describe()` and the checks `validate` runs without
//! any network call.

use plugboard_sdk::prelude::*;

pub const MAX_TEXT: u32 = 500;
pub const IMAGE_BYTES: u64 = 8 << 20;
pub const VIDEO_BYTES: u64 = 1 << 30;
pub const VIDEO_MAX_MS: u64 = 5 * 60 * 1000;
pub const MAX_ALT_TEXT: usize = 1000;
pub const CAROUSEL_MIN: usize = 2;
pub const CAROUSEL_MAX: usize = 20;
/// Threads sets no length for reply chains beyond the 1,000 replies a day;
/// this plugin caps one chain at 100 so one post cannot eat a day's quota.
pub const MAX_THREAD_ITEMS: u32 = 100;
pub const IMAGES: &[&str] = &["image/jpeg", "image/png"];
pub const VIDEOS: &[&str] = &["video/mp4", "video/quicktime"];
pub const REPLY_CONTROLS: &[&str] = &[
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
];
pub const OPTIONS: &[&str] = &["reply_control", "link_attachment", "auto_publish_text"];

/// Whether `c` is part of an emoji, which Threads counts by its UTF-8 bytes.
fn is_emoji_part(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF
        | 0x200D | 0xFE0F | 0x20E3 | 0xE0020..=0xE007F)
}

/// Text length as Threads counts it: characters, emoji by their UTF-8 bytes.
pub fn text_length(text: &str) -> usize {
    text.chars()
        .map(|c| if is_emoji_part(c) { c.len_utf8() } else { 1 })
        .sum()
}

fn constraint(mimes: &[&str], max_bytes: u64, max_ms: Option<u64>) -> MediaConstraint {
    MediaConstraint {
        mime_types: mimes.iter().map(|s| s.to_string()).collect(),
        max_bytes,
        min_width: None,
        max_width: None,
        min_height: None,
        max_height: None,
        min_aspect: None,
        max_aspect: None,
        min_duration_ms: None,
        max_duration_ms: max_ms,
        max_frame_rate: None,
    }
}

pub fn describe() -> PlatformInfo {
    let text = |min_length| {
        Some(TextRules {
            max_length: MAX_TEXT,
            min_length,
            // The contract's nearest counting; `validate` counts exactly (only emoji by bytes).
            counting: TextCounting::Utf8Bytes,
            url_length: None,
        })
    };
    let image = constraint(IMAGES, IMAGE_BYTES, None);
    let video = constraint(VIDEOS, VIDEO_BYTES, Some(VIDEO_MAX_MS));
    let kind = |name: &str, min_text, media: Option<MediaRules>, options: &[&str]| PostKind {
        name: name.into(),
        text: text(min_text),
        media,
        max_thread_items: MAX_THREAD_ITEMS,
        options: options.iter().map(|s| s.to_string()).collect(),
    };
    let media = |min, max, constraints: Vec<MediaConstraint>, mixed| {
        Some(MediaRules {
            min_count: min,
            max_count: max,
            constraints,
            allow_mixed: mixed,
        })
    };
    PlatformInfo {
        platform: "threads".into(),
        display_name: "Threads".into(),
        auth: AuthKind::Oauth2(Oauth2Info {
            scopes: vec!["threads_basic".into(), "threads_content_publish".into()],
            pkce: false,
            refreshable: true,
        }),
        post_kinds: vec![
            kind("text", 1, None, OPTIONS),
            kind(
                "image",
                0,
                media(1, 1, vec![image.clone()], false),
                &["reply_control"],
            ),
            kind(
                "video",
                0,
                media(1, 1, vec![video.clone()], false),
                &["reply_control"],
            ),
            kind(
                "carousel",
                0,
                media(
                    CAROUSEL_MIN as u32,
                    CAROUSEL_MAX as u32,
                    vec![image.clone(), video.clone()],
                    true,
                ),
                &["reply_control"],
            ),
            // A reply chain whose items each are text, one image or video, or a carousel.
            kind(
                "thread",
                0,
                media(0, CAROUSEL_MAX as u32, vec![image, video], true),
                &["reply_control"],
            ),
        ],
        rate_limits: vec![
            RateLimitRule {
                scope: RateScope::Account,
                counts: "posts".into(),
                limit: 250,
                window_secs: 86_400,
            },
            RateLimitRule {
                scope: RateScope::Account,
                counts: "replies".into(),
                limit: 1000,
                window_secs: 86_400,
            },
        ],
        features: vec![Feature::Publish, Feature::CheckStatus, Feature::Reconcile],
        status_poll_secs: 5,
    }
}

fn problem(field: String, code: &str, message: String) -> Problem {
    Problem {
        field,
        code: code.into(),
        message,
    }
}

/// Every problem Threads would refuse the post for.
pub fn validate(post: &Post) -> Vec<Problem> {
    let mut problems = Vec::new();
    let first_media = match post.kind.as_str() {
        "text" => (0, 0),
        "image" | "video" => (1, 1),
        "carousel" => (CAROUSEL_MIN, CAROUSEL_MAX),
        "thread" => (0, CAROUSEL_MAX),
        other => {
            return vec![problem(
                "kind".into(),
                "unknown-kind",
                format!(
                    "Threads does not take '{other}' posts (it takes text, image, video, carousel, thread)"
                ),
            )];
        }
    };
    let n = post.media.len();
    if n < first_media.0 || n > first_media.1 {
        let wanted = if first_media.0 == first_media.1 {
            format!("exactly {}", first_media.0)
        } else {
            format!("{} to {}", first_media.0, first_media.1)
        };
        problems.push(problem(
            "media".into(),
            if n > first_media.1 {
                "too-many-media"
            } else {
                "too-few-media"
            },
            format!(
                "a Threads {} post takes {wanted} media files; this one has {n}",
                post.kind
            ),
        ));
    }
    check_item("", &post.text, &post.media, Some(&post.kind), &mut problems);
    if post.thread.len() > MAX_THREAD_ITEMS as usize {
        problems.push(problem(
            "thread".into(),
            "thread-too-long",
            format!(
                "a Threads reply chain takes at most {MAX_THREAD_ITEMS} replies here; this one has {}",
                post.thread.len()
            ),
        ));
    }
    for (i, item) in post.thread.iter().enumerate() {
        let prefix = format!("thread[{i}].");
        let m = item.media.len();
        if m > CAROUSEL_MAX {
            problems.push(problem(
                format!("{prefix}media"),
                "too-many-media",
                format!(
                    "a Threads reply takes at most {CAROUSEL_MAX} media files; this one has {m}"
                ),
            ));
        }
        check_item(&prefix, &item.text, &item.media, None, &mut problems);
    }
    check_options(post, &mut problems);
    problems
}

fn check_item(
    prefix: &str,
    text: &str,
    media: &[MediaRef],
    kind: Option<&str>,
    problems: &mut Vec<Problem>,
) {
    let len = text_length(text);
    if len > MAX_TEXT as usize {
        problems.push(problem(
            format!("{prefix}text"),
            "text-too-long",
            format!(
                "Threads allows {MAX_TEXT} characters (each emoji counts as its UTF-8 bytes, e.g. 👍 as 4); this text counts {len} ({} too many)",
                len - MAX_TEXT as usize
            ),
        ));
    }
    if text.trim().is_empty() && media.is_empty() {
        problems.push(problem(
            format!("{prefix}text"),
            "text-empty",
            "a Threads post without media needs some text".into(),
        ));
    }
    for (i, m) in media.iter().enumerate() {
        let field = format!("{prefix}media[{i}]");
        let is_image = IMAGES.contains(&m.mime_type.as_str());
        let is_video = VIDEOS.contains(&m.mime_type.as_str());
        let allowed = match kind {
            Some("image") => is_image,
            Some("video") => is_video,
            _ => is_image || is_video,
        };
        if !allowed {
            let wanted = match kind {
                Some("image") => "JPEG or PNG images",
                Some("video") => "MP4 or MOV videos",
                _ => "JPEG or PNG images and MP4 or MOV videos",
            };
            problems.push(problem(
                field.clone(),
                "unsupported-media-type",
                format!("Threads takes {wanted} here, not {}", m.mime_type),
            ));
            continue;
        }
        let cap = if is_image { IMAGE_BYTES } else { VIDEO_BYTES };
        if m.size > cap {
            problems.push(problem(
                field.clone(),
                "media-too-large",
                format!(
                    "this {} is {:.1} MB; Threads accepts up to {} MB",
                    if is_image { "image" } else { "video" },
                    m.size as f64 / 1_048_576.0,
                    cap >> 20
                ),
            ));
        }
        if is_video && m.duration_ms.is_some_and(|d| d > VIDEO_MAX_MS) {
            problems.push(problem(
                field.clone(),
                "video-too-long",
                format!(
                    "this video lasts {} s; Threads accepts videos up to {} s",
                    m.duration_ms.unwrap_or_default() / 1000,
                    VIDEO_MAX_MS / 1000
                ),
            ));
        }
        if m.alt_text
            .as_ref()
            .is_some_and(|a| a.chars().count() > MAX_ALT_TEXT)
        {
            problems.push(problem(
                field,
                "alt-text-too-long",
                format!("Threads alt text takes at most {MAX_ALT_TEXT} characters"),
            ));
        }
    }
}

fn check_options(post: &Post, problems: &mut Vec<Problem>) {
    for (k, v) in &post.options {
        match k.as_str() {
            "reply_control" if !REPLY_CONTROLS.contains(&v.as_str()) => problems.push(problem(
                "options.reply_control".into(),
                "invalid-option",
                format!(
                    "Threads reply control is one of {}, not '{v}'",
                    REPLY_CONTROLS.join(", ")
                ),
            )),
            "link_attachment" => {
                if post.kind != "text" {
                    problems.push(problem(
                        "options.link_attachment".into(),
                        "invalid-option",
                        "Threads attaches links to text posts only".into(),
                    ));
                }
                let ok = (v.starts_with("https://") || v.starts_with("http://"))
                    && v.len() > 8
                    && !v.contains(char::is_whitespace);
                if !ok {
                    problems.push(problem(
                        "options.link_attachment".into(),
                        "invalid-option",
                        format!("the link attachment must be an http(s) URL, not '{v}'"),
                    ));
                }
            }
            "auto_publish_text" => {
                if !matches!(v.as_str(), "true" | "false") {
                    problems.push(problem(
                        "options.auto_publish_text".into(),
                        "invalid-option",
                        format!("auto_publish_text is true or false, not '{v}'"),
                    ));
                } else if v == "true" && post.kind != "text" {
                    problems.push(problem(
                        "options.auto_publish_text".into(),
                        "invalid-option",
                        "Threads publishes in one step only text posts".into(),
                    ));
                }
            }
            _ => {}
        }
    }
}
