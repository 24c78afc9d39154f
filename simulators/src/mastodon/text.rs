//! Status text as Mastodon measures and renders it.

/// The length Mastodon's `StatusLengthValidator` gives a status body: every
/// `http(s)://` URL weighs `url_weight`, and a remote mention `@user@domain`
/// counts as `@user`.
///
/// Counted in Unicode scalar values where Mastodon counts grapheme clusters,
/// so a body accepted here is never longer by Mastodon's count. URLs are
/// found with a simplified version of twitter-text's rules: a scheme at a word
/// boundary, a dotted host, up to whitespace, minus trailing punctuation.
pub(crate) fn countable_length(text: &str, url_weight: usize) -> usize {
    let mut count = 0;
    let mut previous: Option<char> = None;
    let mut rest = text;
    while let Some(current) = rest.chars().next() {
        let skipped = url_at(rest, previous)
            .map(|len| (len, url_weight))
            .or_else(|| remote_mention_at(rest, previous));
        let (consumed, weight) = skipped.unwrap_or((current.len_utf8(), 1));
        count += weight;
        previous = rest[..consumed].chars().next_back();
        rest = &rest[consumed..];
    }
    count
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Byte length of the URL starting `text`, if one does.
fn url_at(text: &str, previous: Option<char>) -> Option<usize> {
    if previous.is_some_and(|c| c.is_alphanumeric() || matches!(c, '@' | '$' | '#')) {
        return None;
    }
    let scheme_len = ["https://", "http://"].iter().find_map(|scheme| {
        text.get(..scheme.len())
            .filter(|start| start.eq_ignore_ascii_case(scheme))
            .map(|_| scheme.len())
    })?;
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let mut url = &text[..end];
    loop {
        let trimmed = url.trim_end_matches(['.', ',', ';', ':', '!', '?', '\'', '"', '*']);
        let trimmed = if trimmed.ends_with(')')
            && trimmed.matches(')').count() > trimmed.matches('(').count()
        {
            &trimmed[..trimmed.len() - 1]
        } else {
            trimmed
        };
        if trimmed.len() == url.len() {
            break;
        }
        url = trimmed;
    }
    let host = url[scheme_len..]
        .split(['/', '?', '#', ':'])
        .next()
        .unwrap_or_default();
    let dotted = host
        .split('.')
        .all(|label| !label.is_empty() && label.chars().all(|c| is_word(c) || c == '-'))
        && host.contains('.');
    dotted.then_some(url.len())
}

/// Byte length and counted weight of a remote mention starting `text`.
fn remote_mention_at(text: &str, previous: Option<char>) -> Option<(usize, usize)> {
    if previous.is_some_and(|c| is_word(c) || matches!(c, '=' | '/')) {
        return None;
    }
    let after_at = text.strip_prefix('@')?;
    let username = run(after_at, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
    })
    .trim_end_matches(['.', '-']);
    if !username.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let after_username = after_at[username.len()..].strip_prefix('@')?;
    let domain =
        run(after_username, |c| is_word(c) || matches!(c, '.' | '-')).trim_end_matches(['.', '-']);
    if domain.chars().count() < 2 {
        return None;
    }
    let consumed = 1 + username.len() + 1 + domain.len();
    Some((consumed, 1 + username.chars().count()))
}

fn run(text: &str, accept: impl Fn(char) -> bool) -> &str {
    let end = text.find(|c: char| !accept(c)).unwrap_or(text.len());
    &text[..end]
}

/// The `content` Mastodon renders for a plain-text status: HTML-escaped,
/// paragraphs on blank lines, `<br />` for single line breaks. Links,
/// mentions and hashtags are left as text.
pub(crate) fn to_html(text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let escaped = escape(&normalized);
    let mut html = String::new();
    for paragraph in escaped.split("\n\n").filter(|p| !p.is_empty()) {
        html.push_str("<p>");
        let chars: Vec<char> = paragraph.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if c != '\n' {
                html.push(c);
            } else if i > 0 && chars.get(i + 1).is_some_and(|&next| next != '\n') {
                html.push_str("<br />");
            }
        }
        html.push_str("</p>");
    }
    html
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_counts_scalars() {
        assert_eq!(countable_length("héllo", 23), 5);
        assert_eq!(countable_length("日本語", 23), 3);
        assert_eq!(countable_length("", 23), 0);
    }

    #[test]
    fn every_url_counts_as_the_reserved_weight() {
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(countable_length(&long, 23), 23);
        assert_eq!(countable_length(&format!("see {long} now"), 23), 4 + 23 + 4);
        assert_eq!(countable_length("http://a.b http://c.d", 23), 23 + 1 + 23);
        assert_eq!(countable_length("HTTPS://EXAMPLE.COM/X", 23), 23);
    }

    #[test]
    fn trailing_punctuation_is_not_part_of_a_url() {
        assert_eq!(
            countable_length("go to https://example.com.", 23),
            6 + 23 + 1
        );
        assert_eq!(countable_length("(https://example.com/x)", 23), 1 + 23 + 1);
        assert_eq!(
            countable_length("https://en.wikipedia.org/wiki/Rust_(language)", 23),
            23
        );
    }

    #[test]
    fn things_that_are_not_urls_count_in_full() {
        assert_eq!(countable_length("https://localhost", 23), 17);
        assert_eq!(countable_length("xhttps://example.com", 23), 20);
        assert_eq!(countable_length("https://", 23), 8);
    }

    #[test]
    fn remote_mentions_count_without_their_domain() {
        assert_eq!(countable_length("@bob@mastodon.social hi", 23), 4 + 3);
        assert_eq!(countable_length("@bob hi", 23), 7);
        assert_eq!(countable_length("mail a@b.example", 23), 16);
    }

    #[test]
    fn html_is_escaped_with_paragraphs_and_breaks() {
        assert_eq!(to_html("a < b & 'c'"), "<p>a &lt; b &amp; &#39;c&#39;</p>");
        assert_eq!(
            to_html("one\ntwo\n\nthree"),
            "<p>one<br />two</p><p>three</p>"
        );
        assert_eq!(to_html("  "), "");
    }
}
