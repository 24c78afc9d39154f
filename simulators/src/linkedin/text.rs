//! LinkedIn's "little text" format of `commentary`.

/// Characters with a meaning in little text; as plain text they need a backslash.
pub const RESERVED: &[char] = &[
    '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '\\', '*', '_', '~',
];

/// The text members see, or the first reserved character left unescaped. Mentions and
/// hashtag templates are not simulated, so every reserved character must be escaped.
pub fn unescape(commentary: &str) -> Result<String, char> {
    let mut out = String::with_capacity(commentary.len());
    let mut chars = commentary.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) if RESERVED.contains(&next) => out.push(next),
                _ => return Err('\\'),
            },
            c if RESERVED.contains(&c) => return Err(c),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn escapes_are_removed_and_bare_reserved_characters_refused() {
        assert_eq!(
            unescape(r"Launch \(v2\) \#today").as_deref(),
            Ok("Launch (v2) #today")
        );
        assert_eq!(unescape("a (b)"), Err('('));
        assert_eq!(unescape(r"trailing \"), Err('\\'));
    }
}
