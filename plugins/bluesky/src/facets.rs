//! Rich-text facets: links, mentions and tags found in the text, with their
//! UTF-8 byte ranges (the AT Protocol indexes facets by bytes, not characters).

/// A facet before mentions are resolved to DIDs.
#[derive(Debug, PartialEq)]
pub enum Found {
    Link(String),
    Mention(String),
    Tag(String),
}

/// Characters that end a link or tag when they close it (`see https://x.y/z.`).
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', '"', '\''];

fn starts_token(text: &str, at: usize) -> bool {
    at == 0
        || text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_whitespace() || c == '(')
}

/// Every facet in `text` as `(byte_start, byte_end, what)`, in order.
pub fn find(text: &str) -> Vec<(usize, usize, Found)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let c = rest.chars().next().unwrap_or(' ');
        if starts_token(text, at) {
            let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..word_end];
            if word.starts_with("https://") || word.starts_with("http://") {
                let link = word.trim_end_matches(TRAILING);
                if link.len() > 8 {
                    out.push((at, at + link.len(), Found::Link(link.to_string())));
                }
                at += word_end;
                continue;
            }
            if let Some(handle) = word.strip_prefix('@') {
                let handle = handle.trim_end_matches(TRAILING);
                if is_handle(handle) {
                    out.push((
                        at,
                        at + 1 + handle.len(),
                        Found::Mention(handle.to_ascii_lowercase()),
                    ));
                }
                at += word_end;
                continue;
            }
            if let Some(tag) = word.strip_prefix('#') {
                let tag = tag.trim_end_matches(TRAILING);
                let ok = !tag.is_empty()
                    && tag.len() <= 640
                    && !tag.chars().all(|c| c.is_ascii_digit())
                    && !tag.contains('#');
                if ok {
                    out.push((at, at + 1 + tag.len(), Found::Tag(tag.to_string())));
                }
                at += word_end;
                continue;
            }
        }
        at += c.len_utf8();
    }
    out
}

/// `name.domain` with letters, digits and hyphens in each label.
fn is_handle(h: &str) -> bool {
    let labels: Vec<&str> = h.split('.').collect();
    labels.len() >= 2
        && h.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_offsets_after_emoji() {
        let text = "✨ hi @bob.bsky.social see https://example.com/a. #rust!";
        let found = find(text);
        assert_eq!(found[0], (7, 23, Found::Mention("bob.bsky.social".into())));
        assert_eq!(&text[7..23], "@bob.bsky.social");
        assert_eq!(found[1].2, Found::Link("https://example.com/a".into()));
        assert_eq!(found[2].2, Found::Tag("rust".into()));
    }
}
