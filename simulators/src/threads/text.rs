//! How Threads counts text: characters, except that emoji count as many as
//! their UTF-8 bytes.

/// Whether `c` is part of an emoji (pictographs, symbols, joiners, selectors).
pub fn is_emoji_part(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF
        | 0x200D | 0xFE0F | 0x20E3 | 0xE0020..=0xE007F)
}

/// The length Threads compares with its 500 limit.
pub fn length(text: &str) -> usize {
    text.chars()
        .map(|c| if is_emoji_part(c) { c.len_utf8() } else { 1 })
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn emoji_count_their_bytes() {
        assert_eq!(super::length("hello"), 5);
        assert_eq!(super::length("héllo"), 5);
        assert_eq!(super::length("👍"), 4);
        assert_eq!(super::length("👨‍👩‍👧"), 18);
    }
}
