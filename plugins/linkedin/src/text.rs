//! LinkedIn's "little text" format of `commentary`.

/// Characters with a meaning in little text (mentions, hashtag templates, emphasis); as
/// plain text each needs a backslash, or LinkedIn drops or garbles what follows.
const RESERVED: &[char] = &[
    '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '\\', '*', '_', '~',
];

/// The creator's text as literal little text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if RESERVED.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reserved_characters_get_a_backslash() {
        assert_eq!(
            super::escape(r"Launch (v2) #today @ada a\b"),
            r"Launch \(v2\) \#today \@ada a\\b"
        );
        assert_eq!(super::escape("plain, text!"), "plain, text!");
    }
}
