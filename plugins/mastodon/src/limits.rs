//! What Mastodon accepts, per instance.

use super::api::Instance;
use plugboard_sdk::prelude::*;

/// Limits of one instance (Mastodon's defaults until the instance says otherwise).
pub struct InstanceLimits {
    pub max_characters: u32,
    pub max_media: u32,
    pub url_length: u32,
    pub image_bytes: u64,
    pub video_bytes: u64,
}

impl Default for InstanceLimits {
    fn default() -> Self {
        InstanceLimits {
            max_characters: 500,
            max_media: 4,
            url_length: 23,
            image_bytes: 16 << 20,
            video_bytes: 99 << 20,
        }
    }
}

impl InstanceLimits {
    pub fn from_instance(i: &Instance) -> InstanceLimits {
        let d = InstanceLimits::default();
        let s = &i.configuration.statuses;
        let m = &i.configuration.media_attachments;
        InstanceLimits {
            max_characters: s.max_characters.unwrap_or(d.max_characters),
            max_media: s.max_media_attachments.unwrap_or(d.max_media),
            url_length: s.characters_reserved_per_url.unwrap_or(d.url_length),
            image_bytes: m.image_size_limit.unwrap_or(d.image_bytes),
            video_bytes: m.video_size_limit.unwrap_or(d.video_bytes),
        }
    }

    pub fn to_properties(&self) -> Vec<(String, String)> {
        vec![
            pair("max_characters", self.max_characters.to_string()),
            pair("max_media", self.max_media.to_string()),
            pair("url_length", self.url_length.to_string()),
            pair("image_bytes", self.image_bytes.to_string()),
            pair("video_bytes", self.video_bytes.to_string()),
        ]
    }

    /// The connected account's instance limits, when the call acts for an account.
    pub fn from_account() -> InstanceLimits {
        let d = InstanceLimits::default();
        let get = |name: &str| {
            secrets::account(name)
                .ok()
                .flatten()
                .and_then(|v| v.parse::<u64>().ok())
        };
        InstanceLimits {
            max_characters: get("max_characters")
                .map(|v| v as u32)
                .unwrap_or(d.max_characters),
            max_media: get("max_media").map(|v| v as u32).unwrap_or(d.max_media),
            url_length: get("url_length").map(|v| v as u32).unwrap_or(d.url_length),
            image_bytes: get("image_bytes").unwrap_or(d.image_bytes),
            video_bytes: get("video_bytes").unwrap_or(d.video_bytes),
        }
    }
}

fn text(l: &InstanceLimits, min_length: u32) -> Option<TextRules> {
    Some(TextRules {
        max_length: l.max_characters,
        min_length,
        counting: TextCounting::UnicodeScalars,
        url_length: Some(l.url_length),
    })
}

fn constraint(mimes: &[&str], max_bytes: u64) -> MediaConstraint {
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
        max_duration_ms: None,
        max_frame_rate: None,
    }
}

const IMAGES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];
const VIDEOS: &[&str] = &["video/mp4", "video/webm", "video/quicktime"];
const OPTIONS: &[&str] = &["visibility", "spoiler_text", "sensitive", "language"];

pub fn describe(l: &InstanceLimits) -> PlatformInfo {
    let kind = |name: &str, min_text: u32, media: Option<MediaRules>| PostKind {
        name: name.into(),
        text: text(l, min_text),
        media,
        max_thread_items: 24,
        options: OPTIONS.iter().map(|s| s.to_string()).collect(),
    };
    PlatformInfo {
        platform: "mastodon".into(),
        display_name: "Mastodon".into(),
        auth: AuthKind::Oauth2(Oauth2Info {
            scopes: super::SCOPES.iter().map(|s| s.to_string()).collect(),
            pkce: true,
            refreshable: false,
        }),
        post_kinds: vec![
            kind("text", 1, None),
            kind(
                "image",
                0,
                Some(MediaRules {
                    min_count: 1,
                    max_count: l.max_media,
                    constraints: vec![constraint(IMAGES, l.image_bytes)],
                    allow_mixed: false,
                }),
            ),
            kind(
                "video",
                0,
                Some(MediaRules {
                    min_count: 1,
                    max_count: 1,
                    constraints: vec![constraint(VIDEOS, l.video_bytes)],
                    allow_mixed: false,
                }),
            ),
        ],
        rate_limits: vec![
            RateLimitRule {
                scope: RateScope::Account,
                counts: "requests".into(),
                limit: 300,
                window_secs: 300,
            },
            RateLimitRule {
                scope: RateScope::Account,
                counts: "media-uploads".into(),
                limit: 30,
                window_secs: 1800,
            },
        ],
        features: vec![
            Feature::Publish,
            Feature::CheckStatus,
            Feature::Reconcile,
            Feature::Delete,
            Feature::Revoke,
            Feature::Metrics,
            Feature::Comments,
        ],
        status_poll_secs: 2,
    }
}

/// Options and media checks the generic check does not cover.
pub fn check_options(post: &Post) -> Vec<Problem> {
    let l = InstanceLimits::from_account();
    let mut problems = Vec::new();
    for (k, v) in &post.options {
        if k == "visibility" && !["public", "unlisted", "private", "direct"].contains(&v.as_str()) {
            problems.push(Problem {
                field: "options.visibility".into(),
                code: "invalid-option".into(),
                message: format!(
                    "Mastodon visibility is public, unlisted, private or direct, not '{v}'"
                ),
            });
        }
    }
    let all_media = post
        .media
        .iter()
        .chain(post.thread.iter().flat_map(|t| t.media.iter()));
    for (i, m) in all_media.enumerate() {
        let (allowed, cap) = if post.kind == "video" {
            (VIDEOS, l.video_bytes)
        } else {
            (IMAGES, l.image_bytes)
        };
        if !allowed.contains(&m.mime_type.as_str()) {
            problems.push(Problem {
                field: format!("media[{i}]"),
                code: "unsupported-media-type".into(),
                message: format!(
                    "Mastodon '{}' posts take {}, not {}",
                    post.kind,
                    allowed.join(", "),
                    m.mime_type
                ),
            });
        } else if m.size > cap {
            problems.push(Problem {
                field: format!("media[{i}]"),
                code: "media-too-large".into(),
                message: format!(
                    "this file is {} MB; Mastodon accepts up to {} MB",
                    m.size >> 20,
                    cap >> 20
                ),
            });
        }
    }
    problems
}
