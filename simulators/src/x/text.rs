//! twitter-text v3 weighted length, as X counts a post.

/// Every URL weighs this much, whatever its length (t.co wrapping).
pub const URL_WEIGHT: usize = 23;

/// Weighted length: code points in twitter-text's light ranges weigh 1, all others (CJK,
/// emoji, …) 2, and each `http://` or `https://` URL 23. An emoji built from several code
/// points (ZWJ sequences, skin tones) weighs 2 per code point here, while twitter-text
/// weighs the whole sequence 2: the simulator is never more lenient than X.
pub fn weighted_length(text: &str) -> usize {
    let mut total = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        let url_at = trimmed.find("https://").or_else(|| trimmed.find("http://"));
        match url_at {
            Some(at) => {
                total += weigh(&trimmed[..at]) + URL_WEIGHT + weigh(&word[trimmed.len()..]);
            }
            None => total += weigh(word),
        }
    }
    total
}

fn weigh(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
            _ => 2,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_cjk_and_emoji_have_their_weights() {
        assert_eq!(weighted_length("hello"), 5);
        assert_eq!(weighted_length("日本"), 4);
        assert_eq!(weighted_length("🎉"), 2);
        assert_eq!(
            weighted_length("see https://example.com/a/long/path now"),
            4 + 23 + 4
        );
    }
}
