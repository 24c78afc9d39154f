//! Building `describe()` answers and checking posts against them.

use crate::{
    Feature, PlatformInfo, Post, PostKind, Problem, TextCounting, TextRules,
    wit::platform::exports::plugboard::plugin::publisher::AuthKind,
};

/// A platform that takes plain text posts up to `max_length` Unicode scalars.
pub fn text_only(platform: &str, display_name: &str, max_length: u32) -> PlatformInfo {
    PlatformInfo {
        platform: platform.into(),
        display_name: display_name.into(),
        auth: AuthKind::None,
        post_kinds: vec![PostKind {
            name: "text".into(),
            text: Some(TextRules {
                max_length,
                min_length: 1,
                counting: TextCounting::UnicodeScalars,
                url_length: None,
            }),
            media: None,
            max_thread_items: 0,
            options: Vec::new(),
        }],
        rate_limits: Vec::new(),
        features: vec![Feature::Publish],
        status_poll_secs: 0,
    }
}

/// Length of `text` as the platform counts it.
pub fn text_length(text: &str, rules: &TextRules) -> u32 {
    let mut total = 0u32;
    for (segment, is_url) in split_urls(text) {
        total += match (is_url, rules.url_length) {
            (true, Some(fixed)) => fixed,
            _ => count(segment, rules.counting),
        };
    }
    total
}

fn count(text: &str, counting: TextCounting) -> u32 {
    use unicode_segmentation::UnicodeSegmentation;
    let n = match counting {
        TextCounting::UnicodeScalars => text.chars().count(),
        TextCounting::Graphemes => text.graphemes(true).count(),
        TextCounting::Utf16Units => text.encode_utf16().count(),
        TextCounting::Utf8Bytes => text.len(),
        TextCounting::Weighted => text.chars().map(weighted_char).sum(),
    };
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// twitter-text v3 weighting: these ranges weigh 1, everything else (CJK, emoji) 2.
fn weighted_char(c: char) -> usize {
    let cp = c as u32;
    let light = matches!(cp, 0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037);
    if light { 1 } else { 2 }
}

/// Splits text into runs, flagging `http://` / `https://` URLs (up to whitespace).
fn split_urls(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = find_url_start(rest) {
        if start > 0 {
            out.push((&rest[..start], false));
        }
        let tail = &rest[start..];
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        out.push((&tail[..end], true));
        rest = &tail[end..];
    }
    if !rest.is_empty() {
        out.push((rest, false));
    }
    out
}

fn find_url_start(text: &str) -> Option<usize> {
    let http = text.find("http://");
    let https = text.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The default `validate`: the post's kind must exist, and text and media counts must fit
/// its rules (for the first item and every thread item).
pub fn check(info: &PlatformInfo, post: &Post) -> Vec<Problem> {
    let Some(kind) = info.post_kinds.iter().find(|k| k.name == post.kind) else {
        let known: Vec<&str> = info.post_kinds.iter().map(|k| k.name.as_str()).collect();
        return vec![problem(
            "kind",
            "unknown-kind",
            format!(
                "{} does not accept '{}' posts (it accepts: {})",
                info.display_name,
                post.kind,
                known.join(", ")
            ),
        )];
    };
    let mut problems = Vec::new();
    check_item(info, kind, "", &post.text, post.media.len(), &mut problems);
    if post.thread.len() as u64 > u64::from(kind.max_thread_items) {
        problems.push(problem(
            "thread",
            "thread-too-long",
            format!(
                "{} allows at most {} replies in a thread; this one has {}",
                info.display_name,
                kind.max_thread_items,
                post.thread.len()
            ),
        ));
    }
    for (i, item) in post.thread.iter().enumerate() {
        let prefix = format!("thread[{i}].");
        check_item(
            info,
            kind,
            &prefix,
            &item.text,
            item.media.len(),
            &mut problems,
        );
    }
    problems
}

fn check_item(
    info: &PlatformInfo,
    kind: &PostKind,
    prefix: &str,
    text: &str,
    media_count: usize,
    problems: &mut Vec<Problem>,
) {
    if let Some(rules) = &kind.text {
        let len = text_length(text, rules);
        if len > rules.max_length {
            problems.push(problem(
                &format!("{prefix}text"),
                "text-too-long",
                format!(
                    "{} allows {} characters; this text counts {} ({} too many)",
                    info.display_name,
                    rules.max_length,
                    len,
                    len - rules.max_length
                ),
            ));
        }
        if len < rules.min_length && media_count == 0 {
            problems.push(problem(
                &format!("{prefix}text"),
                "text-empty",
                format!("{} needs some text or media", info.display_name),
            ));
        }
    }
    let (min, max) = kind
        .media
        .as_ref()
        .map(|m| (m.min_count, m.max_count))
        .unwrap_or((0, 0));
    let n = media_count as u64;
    if n > u64::from(max) {
        problems.push(problem(
            &format!("{prefix}media"),
            "too-many-media",
            format!(
                "{} '{}' posts take at most {} media files; this one has {}",
                info.display_name, kind.name, max, n
            ),
        ));
    } else if n < u64::from(min) {
        problems.push(problem(
            &format!("{prefix}media"),
            "too-few-media",
            format!(
                "{} '{}' posts need at least {} media files; this one has {}",
                info.display_name, kind.name, min, n
            ),
        ));
    }
}

fn problem(field: &str, code: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        code: code.into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(counting: TextCounting, url: Option<u32>) -> TextRules {
        TextRules {
            max_length: 500,
            min_length: 0,
            counting,
            url_length: url,
        }
    }

    #[test]
    fn urls_count_as_fixed_length() {
        let r = rules(TextCounting::UnicodeScalars, Some(23));
        let text = "see https://example.com/a/very/long/path/that/is/long ok";
        assert_eq!(text_length(text, &r), 4 + 23 + 3);
    }

    #[test]
    fn weighted_counts_cjk_double() {
        let r = rules(TextCounting::Weighted, Some(23));
        assert_eq!(text_length("abc", &r), 3);
        assert_eq!(text_length("日本語", &r), 6);
    }

    #[test]
    fn graphemes_and_bytes_differ() {
        let family = "👨‍👩‍👧";
        assert_eq!(
            text_length(family, &rules(TextCounting::Graphemes, None)),
            1
        );
        assert_eq!(
            text_length(family, &rules(TextCounting::Utf8Bytes, None)),
            18
        );
        assert_eq!(
            text_length(family, &rules(TextCounting::UnicodeScalars, None)),
            5
        );
    }
}
