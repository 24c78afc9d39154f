//! Checking a target before publishing: the host checks media against the limits the
//! platform's `describe()` declares (type, size, dimensions, aspect ratio, duration, count,
//! mixing), then the plugin's own `validate` checks text and options — all without a
//! network call to the platform.

use crate::runtime::caps::media::MediaItem;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    MediaConstraint, PlatformInfo,
};
use plugboard_bindings::platform::plugboard::plugin::types::Problem;

fn problem(field: String, code: &str, message: String) -> Problem {
    Problem {
        field,
        code: code.into(),
        message,
    }
}

fn mime_matches(pattern: &str, mime: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(top) => mime.split('/').next() == Some(top),
        None => pattern.eq_ignore_ascii_case(mime),
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// Checks one item against the first constraint matching its type.
fn check_item(
    platform: &str,
    field: &str,
    item: &MediaItem,
    constraints: &[MediaConstraint],
) -> Vec<Problem> {
    let Some(c) = constraints.iter().find(|c| {
        c.mime_types
            .iter()
            .any(|p| mime_matches(p, &item.mime_type))
    }) else {
        let accepted: Vec<&str> = constraints
            .iter()
            .flat_map(|c| c.mime_types.iter().map(String::as_str))
            .collect();
        return vec![problem(
            field.into(),
            "unsupported-media-type",
            format!(
                "{platform} does not accept {} here (it accepts {})",
                item.mime_type,
                accepted.join(", ")
            ),
        )];
    };
    let mut out = Vec::new();
    if item.size > c.max_bytes {
        out.push(problem(
            field.into(),
            "media-too-large",
            format!(
                "this file is {} ({} bytes); {platform} accepts up to {} ({} bytes)",
                mb(item.size),
                item.size,
                mb(c.max_bytes),
                c.max_bytes
            ),
        ));
    }
    if let (Some(w), Some(h)) = (item.width, item.height) {
        let dims = |what: &str, v: u32, min: Option<u32>, max: Option<u32>| -> Option<Problem> {
            if min.is_some_and(|m| v < m) {
                return Some(problem(
                    field.into(),
                    "media-too-small",
                    format!(
                        "{what} is {v} px; {platform} needs at least {} px",
                        min.unwrap_or(0)
                    ),
                ));
            }
            if max.is_some_and(|m| v > m) {
                return Some(problem(
                    field.into(),
                    "media-too-big",
                    format!(
                        "{what} is {v} px; {platform} allows at most {} px",
                        max.unwrap_or(0)
                    ),
                ));
            }
            None
        };
        out.extend(dims("the width", w, c.min_width, c.max_width));
        out.extend(dims("the height", h, c.min_height, c.max_height));
        if h > 0 {
            let aspect = w as f32 / h as f32;
            // A hair of tolerance: 1080×1350 is 0.8 exactly, encoders round odd sizes.
            let tol = 0.01;
            if c.min_aspect.is_some_and(|m| aspect < m - tol)
                || c.max_aspect.is_some_and(|m| aspect > m + tol)
            {
                out.push(problem(
                    field.into(),
                    "aspect-ratio",
                    format!(
                        "the aspect ratio is {w}:{h} ({aspect:.3}); {platform} accepts {} to {}",
                        c.min_aspect
                            .map(|a| format!("{a:.3}"))
                            .unwrap_or_else(|| "any".into()),
                        c.max_aspect
                            .map(|a| format!("{a:.3}"))
                            .unwrap_or_else(|| "any".into())
                    ),
                ));
            }
        }
    }
    if let Some(d) = item.duration_ms {
        if c.min_duration_ms.is_some_and(|m| d < m) {
            out.push(problem(
                field.into(),
                "too-short",
                format!(
                    "the video is {:.1} s; {platform} needs at least {:.1} s",
                    d as f64 / 1000.0,
                    c.min_duration_ms.unwrap_or(0) as f64 / 1000.0
                ),
            ));
        }
        if c.max_duration_ms.is_some_and(|m| d > m) {
            out.push(problem(
                field.into(),
                "too-long",
                format!(
                    "the video is {:.1} s; {platform} allows at most {:.1} s",
                    d as f64 / 1000.0,
                    c.max_duration_ms.unwrap_or(0) as f64 / 1000.0
                ),
            ));
        }
    }
    out
}

/// Media checks of one item list (the post or a thread item) for a post kind.
pub fn check_media(
    info: &PlatformInfo,
    kind: &str,
    prefix: &str,
    media: &[MediaItem],
) -> Vec<Problem> {
    let Some(k) = info.post_kinds.iter().find(|k| k.name == kind) else {
        // The plugin's own validate reports unknown kinds with the list it accepts.
        return Vec::new();
    };
    let platform = &info.display_name;
    // Reasons name the post kind too: a 16:9 video fits a YouTube video but not a Short.
    let label = format!("{platform} '{kind}'");
    let Some(rules) = &k.media else {
        if media.is_empty() {
            return Vec::new();
        }
        return vec![problem(
            format!("{prefix}media"),
            "media-not-allowed",
            format!("{platform} '{kind}' posts take no media"),
        )];
    };
    let mut out = Vec::new();
    for (i, item) in media.iter().enumerate() {
        out.extend(check_item(
            &label,
            &format!("{prefix}media[{i}]"),
            item,
            &rules.constraints,
        ));
    }
    if !rules.allow_mixed {
        let images = media.iter().any(|m| m.mime_type.starts_with("image/"));
        let videos = media.iter().any(|m| m.mime_type.starts_with("video/"));
        if images && videos {
            out.push(problem(
                format!("{prefix}media"),
                "mixed-media",
                format!("{platform} '{kind}' posts cannot mix images and videos"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
        AuthKind, MediaRules, PostKind,
    };

    fn item(mime: &str, size: u64, w: u32, h: u32, dur: Option<u64>) -> MediaItem {
        MediaItem {
            handle: "h".into(),
            key: "k".into(),
            mime_type: mime.into(),
            size,
            width: Some(w),
            height: Some(h),
            duration_ms: dur,
            alt_text: None,
        }
    }

    fn info() -> PlatformInfo {
        PlatformInfo {
            platform: "p".into(),
            display_name: "Reels".into(),
            auth: AuthKind::None,
            post_kinds: vec![PostKind {
                name: "reel".into(),
                text: None,
                media: Some(MediaRules {
                    min_count: 1,
                    max_count: 1,
                    constraints: vec![MediaConstraint {
                        mime_types: vec!["video/*".into()],
                        max_bytes: 1_000_000,
                        min_width: Some(540),
                        max_width: None,
                        min_height: None,
                        max_height: None,
                        min_aspect: Some(0.5),
                        max_aspect: Some(0.6),
                        min_duration_ms: Some(3_000),
                        max_duration_ms: Some(90_000),
                        max_frame_rate: None,
                    }],
                    allow_mixed: false,
                }),
                max_thread_items: 0,
                options: vec![],
            }],
            rate_limits: vec![],
            features: vec![],
            status_poll_secs: 0,
        }
    }

    #[test]
    fn a_fitting_reel_passes() {
        assert!(
            check_media(
                &info(),
                "reel",
                "",
                &[item("video/mp4", 500_000, 1080, 1920, Some(10_000))]
            )
            .is_empty()
        );
    }

    #[test]
    fn each_rule_names_its_problem() {
        let codes = |m: MediaItem| -> Vec<String> {
            check_media(&info(), "reel", "", &[m])
                .into_iter()
                .map(|p| p.code)
                .collect()
        };
        assert_eq!(
            codes(item("image/png", 10, 1080, 1920, None)),
            ["unsupported-media-type"]
        );
        assert_eq!(
            codes(item("video/mp4", 2_000_000, 1080, 1920, Some(10_000))),
            ["media-too-large"]
        );
        assert_eq!(
            codes(item("video/mp4", 10, 1920, 1080, Some(10_000))),
            ["aspect-ratio"]
        );
        assert_eq!(
            codes(item("video/mp4", 10, 270, 480, Some(10_000))),
            ["media-too-small"]
        );
        assert_eq!(
            codes(item("video/mp4", 10, 1080, 1920, Some(100_000))),
            ["too-long"]
        );
        let msg = &check_media(
            &info(),
            "reel",
            "",
            &[item("video/mp4", 10, 1920, 1080, Some(10_000))],
        )[0]
        .message;
        assert!(
            msg.contains("1920:1080 (1.778)")
                && msg.contains("Reels 'reel' accepts 0.500 to 0.600"),
            "{msg}"
        );
    }
}
