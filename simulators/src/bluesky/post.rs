//! `app.bsky.feed.post` as the PDS validates it: text limits, facets on UTF-8
//! byte offsets, reply strong refs, image embeds.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::XrpcError;
use super::state::State;

const MAX_GRAPHEMES: usize = 300;
const MAX_BYTES: usize = 3000;
const MAX_IMAGES: usize = 4;
const MAX_TAG_BYTES: usize = 640;

fn invalid(what: impl std::fmt::Display) -> XrpcError {
    XrpcError::invalid(format!("Invalid app.bsky.feed.post record: {what}"))
}

/// Extended grapheme clusters, approximated the way the lexicon counts them:
/// a base character with its combining marks, variation selectors, skin tones
/// and zero-width-joined followers is one.
pub(crate) fn graphemes(text: &str) -> usize {
    let mut count = 0;
    let mut join_next = false;
    for c in text.chars() {
        let cp = c as u32;
        let extends = matches!(cp, 0x0300..=0x036F | 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0x20D0..=0x20FF | 0xE0020..=0xE007F);
        if cp == 0x200D {
            join_next = true;
            continue;
        }
        if !(extends || join_next) {
            count += 1;
        }
        join_next = false;
    }
    count
}

pub(crate) fn validate(record: &Value, state: &State) -> Result<(), XrpcError> {
    if record["$type"] != "app.bsky.feed.post" {
        return Err(invalid("Record/$type must be app.bsky.feed.post"));
    }
    let text = record["text"]
        .as_str()
        .ok_or_else(|| invalid("Record must have the property \"text\""))?;
    if text.len() > MAX_BYTES {
        return Err(invalid(format!(
            "Record/text must not be longer than {MAX_BYTES} characters"
        )));
    }
    if graphemes(text) > MAX_GRAPHEMES {
        return Err(invalid(format!(
            "Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
        )));
    }
    let created = record["createdAt"]
        .as_str()
        .ok_or_else(|| invalid("Record must have the property \"createdAt\""))?;
    if DateTime::parse_from_rfc3339(created).is_err() {
        return Err(invalid(
            "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
        ));
    }
    if let Some(facets) = record.get("facets") {
        let facets = facets
            .as_array()
            .ok_or_else(|| invalid("Record/facets must be an array"))?;
        for (i, f) in facets.iter().enumerate() {
            check_facet(text, i, f)?;
        }
    }
    if let Some(reply) = record.get("reply") {
        for part in ["root", "parent"] {
            let r = &reply[part];
            let (Some(uri), Some(cid)) = (r["uri"].as_str(), r["cid"].as_str()) else {
                return Err(invalid(format!(
                    "Record/reply/{part} must be a strong ref with uri and cid"
                )));
            };
            if !state.records.iter().any(|x| x.uri == uri && x.cid == cid) {
                return Err(invalid(format!(
                    "Record/reply/{part} refers to a record that does not exist: {uri}"
                )));
            }
        }
    }
    if let Some(embed) = record.get("embed") {
        check_embed(embed, state)?;
    }
    Ok(())
}

fn check_facet(text: &str, i: usize, f: &Value) -> Result<(), XrpcError> {
    let (Some(start), Some(end)) = (
        f["index"]["byteStart"].as_u64(),
        f["index"]["byteEnd"].as_u64(),
    ) else {
        return Err(invalid(format!(
            "Record/facets/{i}/index must have byteStart and byteEnd"
        )));
    };
    let (start, end) = (start as usize, end as usize);
    if start >= end
        || end > text.len()
        || !text.is_char_boundary(start)
        || !text.is_char_boundary(end)
    {
        return Err(invalid(format!(
            "Record/facets/{i}/index {start}..{end} is not a range of whole characters of the text's {} UTF-8 bytes",
            text.len()
        )));
    }
    let features = f["features"]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "Record/facets/{i}/features must be a non-empty array"
            ))
        })?;
    for feature in features {
        match feature["$type"].as_str() {
            Some("app.bsky.richtext.facet#link") => {
                let ok = feature["uri"]
                    .as_str()
                    .and_then(|u| url::Url::parse(u).ok())
                    .is_some();
                if !ok {
                    return Err(invalid(format!(
                        "Record/facets/{i}/features/link/uri must be a valid uri"
                    )));
                }
            }
            Some("app.bsky.richtext.facet#mention") => {
                if !feature["did"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("did:"))
                {
                    return Err(invalid(format!(
                        "Record/facets/{i}/features/mention/did must be a valid did"
                    )));
                }
            }
            Some("app.bsky.richtext.facet#tag") => {
                let tag = feature["tag"].as_str().unwrap_or_default();
                if tag.is_empty() || tag.len() > MAX_TAG_BYTES || tag.starts_with('#') {
                    return Err(invalid(format!(
                        "Record/facets/{i}/features/tag/tag must be 1 to {MAX_TAG_BYTES} bytes without '#'"
                    )));
                }
            }
            _ => {
                return Err(invalid(format!(
                    "Record/facets/{i}/features has an unknown feature type"
                )));
            }
        }
    }
    Ok(())
}

fn check_embed(embed: &Value, state: &State) -> Result<(), XrpcError> {
    if embed["$type"] != "app.bsky.embed.images" {
        return Err(invalid(
            "Record/embed: this PDS simulates only app.bsky.embed.images",
        ));
    }
    let images = embed["images"]
        .as_array()
        .ok_or_else(|| invalid("Record/embed/images must be an array"))?;
    if images.is_empty() || images.len() > MAX_IMAGES {
        return Err(invalid(format!(
            "Record/embed/images must have 1 to {MAX_IMAGES} items"
        )));
    }
    for (i, img) in images.iter().enumerate() {
        if !img["alt"].is_string() {
            return Err(invalid(format!(
                "Record/embed/images/{i} must have the property \"alt\""
            )));
        }
        let blob = &img["image"];
        let cid = blob["ref"]["$link"].as_str().unwrap_or_default();
        let stored = state.blobs.get(cid).ok_or_else(|| {
            invalid(format!(
                "Record/embed/images/{i}/image: blob {cid} was not uploaded"
            ))
        })?;
        if blob["$type"] != "blob"
            || blob["mimeType"] != stored.mime.as_str()
            || blob["size"].as_u64() != Some(stored.size as u64)
        {
            return Err(invalid(format!(
                "Record/embed/images/{i}/image does not match the uploaded blob"
            )));
        }
        if !stored.mime.starts_with("image/") {
            return Err(invalid(format!(
                "Record/embed/images/{i}/image must be an image"
            )));
        }
        if let Some(ar) = img.get("aspectRatio") {
            let ok = ar["width"].as_u64().is_some_and(|w| w > 0)
                && ar["height"].as_u64().is_some_and(|h| h > 0);
            if !ok {
                return Err(invalid(format!(
                    "Record/embed/images/{i}/aspectRatio needs positive integer width and height"
                )));
            }
        }
    }
    Ok(())
}

/// A timestamp identifier: 13 base32-sortable characters of microseconds and a clock id.
pub(crate) fn tid() -> String {
    const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let micros = u64::try_from(Utc::now().timestamp_micros()).unwrap_or_default();
    let mut v = (micros << 10) | u64::from(rand::random::<u16>() & 0x3FF);
    let mut out = [0u8; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn graphemes_join_emoji_sequences() {
        assert_eq!(super::graphemes("abc"), 3);
        assert_eq!(super::graphemes("👨‍👩‍👧"), 1);
        assert_eq!(super::graphemes("👍🏽!"), 2);
        assert_eq!(super::tid().len(), 13);
    }
}
