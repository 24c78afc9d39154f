//! What X accepts (non-Premium account): twitter-text weighted length, media per post
//! (up to 4 images, or 1 GIF, or 1 video), sizes, video duration and shape, rate limits.

use plugboard_sdk::prelude::*;

pub const MAX_WEIGHTED_LENGTH: u32 = 280;
pub const URL_LENGTH: u32 = 23;
const IMAGE_BYTES: u64 = 5 * 1024 * 1024;
const GIF_BYTES: u64 = 15 * 1024 * 1024;
const VIDEO_BYTES: u64 = 512 * 1024 * 1024;
const MAX_ALT_TEXT: usize = 1000;
const MAX_THREAD_ITEMS: u32 = 24;

pub const IMAGES: &[&str] = &["image/jpeg", "image/png", "image/webp"];
pub const GIFS: &[&str] = &["image/gif"];
pub const VIDEOS: &[&str] = &["video/mp4", "video/quicktime"];
const REPLY_SETTINGS: &[&str] = &["following", "mentionedUsers", "subscribers", "verified"];

pub const SCOPES: &[&str] = &[
    "tweet.read",
    "tweet.write",
    "users.read",
    "media.write",
    "offline.access",
];

fn constraint(mimes: &[&str], max_bytes: u64) -> MediaConstraint {
    MediaConstraint {
        mime_types: mimes.iter().map(|m| m.to_string()).collect(),
        max_bytes,
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

fn video() -> MediaConstraint {
    MediaConstraint {
        min_width: Some(32),
        max_width: Some(1920),
        min_height: Some(32),
        max_height: Some(1200),
        min_aspect: Some(1.0 / 3.0),
        max_aspect: Some(3.0),
        min_duration_ms: Some(500),
        max_duration_ms: Some(140_000),
        max_frame_rate: Some(60.0),
        ..constraint(VIDEOS, VIDEO_BYTES)
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

pub fn describe() -> PlatformInfo {
    let kind = |name: &str, min_text: u32, media: Option<MediaRules>, thread: u32| PostKind {
        name: name.into(),
        text: Some(TextRules {
            max_length: MAX_WEIGHTED_LENGTH,
            min_length: min_text,
            counting: TextCounting::Weighted,
            url_length: Some(URL_LENGTH),
        }),
        media,
        max_thread_items: thread,
        options: vec!["reply_settings".into()],
    };
    PlatformInfo {
        platform: "x".into(),
        display_name: "X".into(),
        auth: AuthKind::Oauth2(Oauth2Info {
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            pkce: true,
            refreshable: true,
        }),
        post_kinds: vec![
            kind("text", 1, None, 0),
            kind(
                "image",
                0,
                media(1, 4, vec![constraint(IMAGES, IMAGE_BYTES)]),
                0,
            ),
            kind("gif", 0, media(1, 1, vec![constraint(GIFS, GIF_BYTES)]), 0),
            kind("video", 0, media(1, 1, vec![video()]), 0),
            kind(
                "thread",
                0,
                media(
                    0,
                    4,
                    vec![
                        constraint(IMAGES, IMAGE_BYTES),
                        constraint(GIFS, GIF_BYTES),
                        video(),
                    ],
                ),
                MAX_THREAD_ITEMS,
            ),
        ],
        // X publishes both a 15-minute and a 3-hour cap on creating posts per user.
        rate_limits: vec![
            RateLimitRule {
                scope: RateScope::Account,
                counts: "posts".into(),
                limit: 200,
                window_secs: 15 * 60,
            },
            RateLimitRule {
                scope: RateScope::Account,
                counts: "posts".into(),
                limit: 300,
                window_secs: 3 * 3600,
            },
        ],
        features: vec![
            Feature::Publish,
            Feature::CheckStatus,
            Feature::Reconcile,
            Feature::Delete,
            Feature::Revoke,
        ],
        status_poll_secs: 2,
    }
}

fn problem(field: String, code: &str, message: String) -> Problem {
    Problem {
        field,
        code: code.into(),
        message,
    }
}

/// Checks the generic rules cannot express: a GIF or video stands alone, alt text length,
/// option values.
pub fn check(post: &Post) -> Vec<Problem> {
    let mut problems = describe::check(&describe(), post);
    let items = std::iter::once(("".to_string(), &post.media)).chain(
        post.thread
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("thread[{i}]."), &t.media)),
    );
    for (prefix, media) in items {
        let motion = media
            .iter()
            .filter(|m| !IMAGES.contains(&m.mime_type.as_str()))
            .count();
        if motion > 0 && media.len() > 1 {
            problems.push(problem(
                format!("{prefix}media"),
                "media-mix",
                format!(
                    "X takes up to 4 images, or 1 GIF, or 1 video per post; this one has {} files including a GIF or video",
                    media.len()
                ),
            ));
        }
        for (j, m) in media.iter().enumerate() {
            if let Some(alt) = &m.alt_text
                && alt.chars().count() > MAX_ALT_TEXT
            {
                problems.push(problem(
                    format!("{prefix}media[{j}].alt_text"),
                    "alt-text-too-long",
                    format!(
                        "X allows {MAX_ALT_TEXT} characters of alt text; this one has {}",
                        alt.chars().count()
                    ),
                ));
            }
        }
    }
    for (key, value) in &post.options {
        if key == "reply_settings" && !REPLY_SETTINGS.contains(&value.as_str()) {
            problems.push(problem(
                "options.reply_settings".into(),
                "invalid-option",
                format!(
                    "reply_settings must be one of {}; got '{value}'",
                    REPLY_SETTINGS.join(", ")
                ),
            ));
        }
    }
    problems
}
