//! The descriptive fields of a media file — filename, alt text, folder, tags — and their
//! rules, shared by direct uploads, resumable uploads and edits.

use super::MediaError;

pub const MAX_FILENAME_CHARS: usize = 255;
/// The longest alt text a platform accepts (Mastodon: 1500 characters).
pub const MAX_ALT_TEXT_CHARS: usize = 1500;
pub const MAX_FOLDER_CHARS: usize = 200;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_TAGS: usize = 30;

/// Validated descriptive fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Description {
    pub filename: String,
    pub alt_text: Option<String>,
    pub folder: Option<String>,
    pub tags: Vec<String>,
}

impl Description {
    pub fn tags_json(&self) -> String {
        serde_json::Value::from(self.tags.clone()).to_string()
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> MediaError {
    MediaError::Invalid {
        field,
        message: message.into(),
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), MediaError> {
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// The name a client sent with its file, made safe: the last path component, without
/// control characters, shortened to the limit; "upload" when nothing is left.
pub fn client_filename(raw: Option<&str>) -> String {
    let base = raw.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILENAME_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "upload".to_string()
    } else {
        clean.to_string()
    }
}

/// A filename given explicitly (an edit): must be non-empty, without path separators.
pub fn filename(raw: &str) -> Result<String, MediaError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(invalid("filename", "must not be empty"));
    }
    if name.contains(['/', '\\']) || name.contains('\n') || name.contains('\t') {
        return Err(invalid(
            "filename",
            "must not contain path separators or line breaks",
        ));
    }
    check_text("filename", name, MAX_FILENAME_CHARS)?;
    Ok(name.to_string())
}

/// Alt text; empty means none.
pub fn alt_text(raw: &str) -> Result<Option<String>, MediaError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    check_text("alt_text", text, MAX_ALT_TEXT_CHARS)?;
    Ok(Some(text.to_string()))
}

/// A folder path such as `campaigns/spring`; empty means none.
pub fn folder(raw: &str) -> Result<Option<String>, MediaError> {
    let folder = raw.trim().trim_matches('/');
    if folder.is_empty() {
        return Ok(None);
    }
    if folder.contains('\n') || folder.contains('\t') {
        return Err(invalid("folder", "must not contain line breaks"));
    }
    check_text("folder", folder, MAX_FOLDER_CHARS)?;
    if folder.split('/').any(|s| s.trim().is_empty()) {
        return Err(invalid("folder", "must not contain empty path segments"));
    }
    Ok(Some(folder.to_string()))
}

/// Tags, trimmed and without duplicates (first spelling kept).
pub fn tags<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, MediaError> {
    let mut out: Vec<String> = Vec::new();
    for tag in raw {
        let tag = tag.as_ref().trim();
        if tag.is_empty() {
            return Err(invalid("tags", "must not contain empty tags"));
        }
        if tag.contains(',') || tag.contains('\n') || tag.contains('\t') {
            return Err(invalid(
                "tags",
                format!("must not contain commas or line breaks (`{tag}`)"),
            ));
        }
        check_text("tags", tag, MAX_TAG_CHARS)?;
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(invalid("tags", format!("must be at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

/// Tags from a comma-separated form field; blank entries are skipped.
pub fn tags_csv(raw: &str) -> Result<Vec<String>, MediaError> {
    let list: Vec<&str> = raw.split(',').filter(|t| !t.trim().is_empty()).collect();
    tags(&list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_filenames_are_made_safe() {
        assert_eq!(client_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(client_filename(Some("C:\\photos\\cat.jpg")), "cat.jpg");
        assert_eq!(client_filename(Some("a\u{0}b.png")), "ab.png");
        assert_eq!(client_filename(None), "upload");
        assert_eq!(client_filename(Some("   ")), "upload");
    }

    #[test]
    fn fields_are_checked() {
        assert_eq!(tags_csv(" a, b ,a,, c").unwrap(), ["a", "b", "c"]);
        assert!(tags(&["x".repeat(51)]).is_err());
        assert!(tags(&[""]).is_err());
        assert_eq!(
            folder("/campaigns/spring/").unwrap().as_deref(),
            Some("campaigns/spring")
        );
        assert!(folder("a//b").is_err());
        assert_eq!(alt_text("  ").unwrap(), None);
        assert!(alt_text(&"x".repeat(1501)).is_err());
        assert!(filename("a/b").is_err());
        assert!(filename(" ").is_err());
    }
}
