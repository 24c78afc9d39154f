//! What LinkedIn accepts: post kinds, text and media limits, options and throttles.

use plugboard_sdk::prelude::*;

pub const MAX_COMMENTARY: u32 = 3000;
/// Images must have fewer pixels than this (width × height).
pub const MAX_IMAGE_PIXELS: u64 = 36_152_320;
/// LinkedIn documents only the pixel cap for images; this byte cap is a guard.
const MAX_IMAGE_BYTES: u64 = 100 * 1024 * 1024;
pub const MAX_VIDEO_BYTES: u64 = 500 * 1024 * 1024;
const MIN_VIDEO_MS: u64 = 3_000;
const MAX_VIDEO_MS: u64 = 30 * 60 * 1000;
pub const MIN_IMAGES: u32 = 2;
pub const MAX_IMAGES: u32 = 20;

const SINGLE_IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif"];
/// Multi-image posts take still images only.
const MULTI_IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png"];
const VISIBILITIES: &[&str] = &["PUBLIC", "CONNECTIONS", "LOGGED_IN"];

pub const MEMBER_SCOPES: &[&str] = &["openid", "profile", "w_member_social"];
/// Community Management scopes: post as, read and list the organizations administered.
pub const ORGANIZATION_SCOPES: &[&str] = &[
    "w_organization_social",
    "r_organization_social",
    "r_organization_admin",
];

fn text(min_length: u32) -> Option<TextRules> {
    Some(TextRules {
        max_length: MAX_COMMENTARY,
        min_length,
        counting: TextCounting::UnicodeScalars,
        url_length: None,
    })
}

fn constraint(mimes: &[&str], max_bytes: u64, durations: Option<(u64, u64)>) -> MediaConstraint {
    MediaConstraint {
        mime_types: mimes.iter().map(|s| s.to_string()).collect(),
        max_bytes,
        min_width: None,
        max_width: None,
        min_height: None,
        max_height: None,
        min_aspect: None,
        max_aspect: None,
        min_duration_ms: durations.map(|d| d.0),
        max_duration_ms: durations.map(|d| d.1),
        max_frame_rate: None,
    }
}

fn kind(name: &str, min_text: u32, media: Option<MediaRules>, options: &[&str]) -> PostKind {
    PostKind {
        name: name.into(),
        text: text(min_text),
        media,
        max_thread_items: 0,
        options: options.iter().map(|s| s.to_string()).collect(),
    }
}

fn media(min: u32, max: u32, c: MediaConstraint) -> Option<MediaRules> {
    Some(MediaRules {
        min_count: min,
        max_count: max,
        constraints: vec![c],
        allow_mixed: false,
    })
}

pub fn describe() -> PlatformInfo {
    let common = &["visibility", "disable_reshare"];
    PlatformInfo {
        platform: "linkedin".into(),
        display_name: "LinkedIn".into(),
        auth: AuthKind::Oauth2(Oauth2Info {
            scopes: MEMBER_SCOPES
                .iter()
                .chain(ORGANIZATION_SCOPES)
                .map(|s| s.to_string())
                .collect(),
            pkce: false,
            refreshable: true,
        }),
        post_kinds: vec![
            kind("text", 1, None, common),
            kind(
                "image",
                0,
                media(1, 1, constraint(SINGLE_IMAGE_TYPES, MAX_IMAGE_BYTES, None)),
                common,
            ),
            kind(
                "multi-image",
                0,
                media(
                    MIN_IMAGES,
                    MAX_IMAGES,
                    constraint(MULTI_IMAGE_TYPES, MAX_IMAGE_BYTES, None),
                ),
                common,
            ),
            kind(
                "video",
                0,
                media(
                    1,
                    1,
                    constraint(
                        &["video/mp4"],
                        MAX_VIDEO_BYTES,
                        Some((MIN_VIDEO_MS, MAX_VIDEO_MS)),
                    ),
                ),
                &["visibility", "disable_reshare", "title"],
            ),
        ],
        rate_limits: vec![
            // LinkedIn's documented member limit for creating posts.
            RateLimitRule {
                scope: RateScope::Account,
                counts: "posts".into(),
                limit: 150,
                window_secs: 86_400,
            },
            RateLimitRule {
                scope: RateScope::App,
                counts: "posts".into(),
                limit: 100_000,
                window_secs: 86_400,
            },
        ],
        features: vec![
            Feature::Publish,
            Feature::CheckStatus,
            Feature::Reconcile,
            Feature::Delete,
            Feature::SubAccounts,
        ],
        status_poll_secs: 5,
    }
}

fn problem(field: &str, code: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        code: code.into(),
        message,
    }
}

/// What the generic check does not cover: options, the image pixel cap, media types.
pub fn check(post: &Post) -> Vec<Problem> {
    let mut problems = Vec::new();
    let organization = secrets::account("author_urn")
        .ok()
        .flatten()
        .is_some_and(|a| a.starts_with("urn:li:organization:"));
    for (k, v) in &post.options {
        match k.as_str() {
            "visibility" => {
                if !VISIBILITIES.contains(&v.as_str()) {
                    problems.push(problem(
                        "options.visibility",
                        "invalid-option",
                        format!(
                            "LinkedIn visibility is PUBLIC, CONNECTIONS or LOGGED_IN, not '{v}'"
                        ),
                    ));
                } else if organization && v == "CONNECTIONS" {
                    problems.push(problem(
                        "options.visibility",
                        "invalid-option",
                        "organization pages have followers, not connections: use PUBLIC or LOGGED_IN".into(),
                    ));
                }
            }
            "disable_reshare" if !matches!(v.as_str(), "true" | "false") => problems.push(problem(
                "options.disable_reshare",
                "invalid-option",
                format!("disable_reshare is true or false, not '{v}'"),
            )),
            "title" if post.kind != "video" => problems.push(problem(
                "options.title",
                "invalid-option",
                "only LinkedIn video posts have a title".into(),
            )),
            "title" if v.chars().count() > 200 => problems.push(problem(
                "options.title",
                "title-too-long",
                format!(
                    "a LinkedIn video title takes up to 200 characters; this one has {}",
                    v.chars().count()
                ),
            )),
            _ => {}
        }
    }
    let allowed: &[&str] = match post.kind.as_str() {
        "image" => SINGLE_IMAGE_TYPES,
        "multi-image" => MULTI_IMAGE_TYPES,
        "video" => &["video/mp4"],
        _ => &[],
    };
    for (i, m) in post.media.iter().enumerate() {
        let field = format!("media[{i}]");
        if !allowed.contains(&m.mime_type.as_str()) {
            problems.push(problem(
                &field,
                "unsupported-media-type",
                format!(
                    "LinkedIn '{}' posts take {}, not {}",
                    post.kind,
                    allowed.join(", "),
                    m.mime_type
                ),
            ));
            continue;
        }
        if let (Some(w), Some(h)) = (m.width, m.height)
            && m.mime_type.starts_with("image/")
            && u64::from(w) * u64::from(h) >= MAX_IMAGE_PIXELS
        {
            problems.push(problem(
                &field,
                "image-too-large",
                format!(
                    "this image is {w}×{h} = {} pixels; LinkedIn takes fewer than {MAX_IMAGE_PIXELS} pixels",
                    u64::from(w) * u64::from(h)
                ),
            ));
        }
        if m.mime_type == "video/mp4"
            && let Some(ms) = m.duration_ms
            && !(MIN_VIDEO_MS..=MAX_VIDEO_MS).contains(&ms)
        {
            problems.push(problem(
                &field,
                "video-duration",
                format!(
                    "this video runs {:.1} s; LinkedIn takes 3 s to 30 min",
                    ms as f64 / 1000.0
                ),
            ));
        }
    }
    problems
}
