//! What Bluesky accepts: `describe()` and the checks `validate` runs offline.

use plugboard_sdk::prelude::*;

pub const MAX_GRAPHEMES: u32 = 300;
pub const MAX_BYTES: usize = 3000;
pub const MAX_IMAGES: u32 = 4;
pub const IMAGE_BYTES: u64 = 1_000_000;
pub const IMAGES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/gif"];
/// Bluesky sets no limit on reply chains; one post here takes at most 100 replies.
pub const MAX_THREAD_ITEMS: u32 = 100;
pub const MAX_LANGS: usize = 3;

fn text_rules() -> TextRules {
    TextRules {
        max_length: MAX_GRAPHEMES,
        min_length: 0,
        counting: TextCounting::Graphemes,
        url_length: None,
    }
}

pub fn describe() -> PlatformInfo {
    let images = |min| {
        Some(MediaRules {
            min_count: min,
            max_count: MAX_IMAGES,
            constraints: vec![MediaConstraint {
                mime_types: IMAGES.iter().map(|s| s.to_string()).collect(),
                max_bytes: IMAGE_BYTES,
                min_width: None,
                max_width: None,
                min_height: None,
                max_height: None,
                min_aspect: None,
                max_aspect: None,
                min_duration_ms: None,
                max_duration_ms: None,
                max_frame_rate: None,
            }],
            allow_mixed: false,
        })
    };
    let kind = |name: &str, media| PostKind {
        name: name.into(),
        text: Some(text_rules()),
        media,
        max_thread_items: MAX_THREAD_ITEMS,
        options: vec!["langs".into()],
    };
    PlatformInfo {
        platform: "bluesky".into(),
        display_name: "Bluesky".into(),
        auth: AuthKind::Credentials(vec!["handle".into(), "app_password".into()]),
        post_kinds: vec![
            kind("text", None),
            kind("image", images(1)),
            kind("thread", images(0)),
        ],
        // Writes cost 3 points (creating a record) of 5,000 an hour and 35,000 a day.
        rate_limits: vec![
            RateLimitRule {
                scope: RateScope::Account,
                counts: "posts".into(),
                limit: 1666,
                window_secs: 3600,
            },
            RateLimitRule {
                scope: RateScope::Account,
                counts: "posts".into(),
                limit: 11_666,
                window_secs: 86_400,
            },
        ],
        features: vec![Feature::Publish, Feature::Reconcile],
        status_poll_secs: 0,
    }
}

fn problem(field: String, code: &str, message: String) -> Problem {
    Problem {
        field,
        code: code.into(),
        message,
    }
}

pub fn validate(post: &Post) -> Vec<Problem> {
    let mut problems = Vec::new();
    let (min, max) = match post.kind.as_str() {
        "text" => (0, 0),
        "image" => (1, MAX_IMAGES as usize),
        "thread" => (0, MAX_IMAGES as usize),
        other => {
            return vec![problem(
                "kind".into(),
                "unknown-kind",
                format!("Bluesky does not take '{other}' posts (it takes text, image, thread)"),
            )];
        }
    };
    let n = post.media.len();
    if n < min || n > max {
        problems.push(problem(
            "media".into(),
            if n > max {
                "too-many-media"
            } else {
                "too-few-media"
            },
            format!(
                "a Bluesky {} post takes {min} to {max} images; this one has {n}",
                post.kind
            ),
        ));
    }
    check_item("", &post.text, &post.media, &mut problems);
    if post.thread.len() > MAX_THREAD_ITEMS as usize {
        problems.push(problem(
            "thread".into(),
            "thread-too-long",
            format!(
                "a reply chain takes at most {MAX_THREAD_ITEMS} replies here; this one has {}",
                post.thread.len()
            ),
        ));
    }
    for (i, item) in post.thread.iter().enumerate() {
        let prefix = format!("thread[{i}].");
        if item.media.len() > MAX_IMAGES as usize {
            problems.push(problem(
                format!("{prefix}media"),
                "too-many-media",
                format!(
                    "a Bluesky post takes at most {MAX_IMAGES} images; this one has {}",
                    item.media.len()
                ),
            ));
        }
        check_item(&prefix, &item.text, &item.media, &mut problems);
    }
    for (k, v) in &post.options {
        if k == "langs" {
            let langs: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let well_formed = langs.iter().all(|l| {
                let primary = l.split('-').next().unwrap_or_default();
                (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic())
            });
            if langs.len() > MAX_LANGS || !well_formed {
                problems.push(problem(
                    "options.langs".into(),
                    "invalid-option",
                    format!("langs is up to {MAX_LANGS} language tags separated by commas (e.g. en,de), not '{v}'"),
                ));
            }
        }
    }
    problems
}

fn check_item(prefix: &str, text: &str, media: &[MediaRef], problems: &mut Vec<Problem>) {
    let graphemes = describe::text_length(text, &text_rules());
    if graphemes > MAX_GRAPHEMES {
        problems.push(problem(
            format!("{prefix}text"),
            "text-too-long",
            format!(
                "Bluesky allows {MAX_GRAPHEMES} characters (graphemes: an emoji sequence counts 1); this text counts {graphemes} ({} too many)",
                graphemes - MAX_GRAPHEMES
            ),
        ));
    } else if text.len() > MAX_BYTES {
        problems.push(problem(
            format!("{prefix}text"),
            "text-too-long",
            format!(
                "Bluesky allows {MAX_BYTES} bytes of text; this text takes {} bytes",
                text.len()
            ),
        ));
    }
    if text.trim().is_empty() && media.is_empty() {
        problems.push(problem(
            format!("{prefix}text"),
            "text-empty",
            "a Bluesky post without images needs some text".into(),
        ));
    }
    for (i, m) in media.iter().enumerate() {
        let field = format!("{prefix}media[{i}]");
        if !IMAGES.contains(&m.mime_type.as_str()) {
            problems.push(problem(
                field,
                "unsupported-media-type",
                format!(
                    "Bluesky posts take JPEG, PNG, WebP or GIF images, not {}",
                    m.mime_type
                ),
            ));
        } else if m.size > IMAGE_BYTES {
            problems.push(problem(
                field,
                "media-too-large",
                format!("this image is {} bytes; Bluesky accepts images up to {IMAGE_BYTES} bytes (1 MB)", m.size),
            ));
        }
    }
}
