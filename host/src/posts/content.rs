//! Post content and per-platform variants; what each target will actually send.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest post text accepted by the API (platform limits are far lower; this only bounds
/// what is stored).
pub const MAX_TEXT_CHARS: usize = 100_000;
pub const MAX_MEDIA: usize = 50;
pub const MAX_THREAD_ITEMS: usize = 100;
pub const MAX_OPTIONS: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadItem {
    #[serde(default)]
    pub text: String,
    /// Media library ids.
    #[serde(default)]
    pub media: Vec<String>,
}

/// A platform's variant of the post: every field given replaces the base content for
/// targets of that platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub kind: Option<String>,
    pub text: Option<String>,
    pub media: Option<Vec<String>>,
    /// Platform options (privacy, title, tags, first comment, …), merged over the base
    /// options.
    pub options: Option<BTreeMap<String, String>>,
    pub thread: Option<Vec<ThreadItem>>,
    /// Overrides the post's `auto_fit_media` for this platform.
    pub auto_fit_media: Option<bool>,
}

/// The base content of a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Content {
    /// Post kind as the platforms name them: text, image, video, carousel, reel, story, …
    pub kind: String,
    pub text: String,
    pub media: Vec<String>,
    pub options: BTreeMap<String, String>,
    pub thread: Vec<ThreadItem>,
    /// Variants keyed by plugin id (e.g. `mastodon`).
    pub variants: BTreeMap<String, Variant>,
    /// While publishing, media that does not fit a target's post kind is replaced by a
    /// rendition fitted to it (made by the media studio and kept in the library) instead
    /// of failing the target.
    #[serde(default)]
    pub auto_fit_media: bool,
}

/// What one platform receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub kind: String,
    pub text: String,
    pub media: Vec<String>,
    pub options: BTreeMap<String, String>,
    pub thread: Vec<ThreadItem>,
    pub auto_fit_media: bool,
}

impl Content {
    pub fn for_platform(&self, plugin: &str) -> Effective {
        let v = self.variants.get(plugin).cloned().unwrap_or_default();
        let mut options = self.options.clone();
        options.extend(v.options.unwrap_or_default());
        Effective {
            kind: v.kind.unwrap_or_else(|| self.kind.clone()),
            text: v.text.unwrap_or_else(|| self.text.clone()),
            media: v.media.unwrap_or_else(|| self.media.clone()),
            options,
            thread: v.thread.unwrap_or_else(|| self.thread.clone()),
            auto_fit_media: v.auto_fit_media.unwrap_or(self.auto_fit_media),
        }
    }

    /// Every media id the post refers to, in any variant or thread item.
    pub fn all_media(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.media.clone();
        ids.extend(self.thread.iter().flat_map(|t| t.media.iter().cloned()));
        for v in self.variants.values() {
            ids.extend(v.media.iter().flatten().cloned());
            ids.extend(
                v.thread
                    .iter()
                    .flatten()
                    .flat_map(|t| t.media.iter().cloned()),
            );
        }
        ids.sort();
        ids.dedup();
        ids
    }

    /// Bounds on what is stored (not platform rules, which `validate` checks).
    pub fn check_bounds(&self) -> Result<(), String> {
        let texts = std::iter::once(&self.text)
            .chain(self.thread.iter().map(|t| &t.text))
            .chain(self.variants.values().filter_map(|v| v.text.as_ref()))
            .chain(
                self.variants
                    .values()
                    .flat_map(|v| v.thread.iter().flatten().map(|t| &t.text)),
            );
        for t in texts {
            if t.chars().count() > MAX_TEXT_CHARS {
                return Err(format!("a text is longer than {MAX_TEXT_CHARS} characters"));
            }
        }
        if self.kind.is_empty() || self.kind.len() > 32 {
            return Err("`kind` must be 1 to 32 characters".into());
        }
        let media_lists = std::iter::once(&self.media)
            .chain(self.variants.values().filter_map(|v| v.media.as_ref()));
        for m in media_lists {
            if m.len() > MAX_MEDIA {
                return Err(format!("at most {MAX_MEDIA} media per post"));
            }
        }
        if self.thread.len() > MAX_THREAD_ITEMS
            || self.variants.values().any(|v| {
                v.thread
                    .as_ref()
                    .is_some_and(|t| t.len() > MAX_THREAD_ITEMS)
            })
        {
            return Err(format!("at most {MAX_THREAD_ITEMS} thread items"));
        }
        if self.options.len() > MAX_OPTIONS {
            return Err(format!("at most {MAX_OPTIONS} options"));
        }
        if self.variants.len() > 64 {
            return Err("at most 64 variants".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_override_field_by_field() {
        let mut c = Content {
            kind: "text".into(),
            text: "base".into(),
            media: vec!["m1".into()],
            options: BTreeMap::from([
                ("visibility".into(), "public".into()),
                ("lang".into(), "en".into()),
            ]),
            thread: vec![],
            variants: BTreeMap::new(),
            auto_fit_media: true,
        };
        c.variants.insert(
            "x".into(),
            Variant {
                text: Some("short".into()),
                options: Some(BTreeMap::from([("visibility".into(), "unlisted".into())])),
                auto_fit_media: Some(false),
                ..Default::default()
            },
        );
        let x = c.for_platform("x");
        assert_eq!(x.text, "short");
        assert_eq!(x.media, vec!["m1".to_string()]);
        assert_eq!(x.options["visibility"], "unlisted");
        assert_eq!(x.options["lang"], "en");
        assert!(!x.auto_fit_media);
        assert!(c.for_platform("other").auto_fit_media);
        assert_eq!(c.for_platform("other").text, "base");
    }
}
