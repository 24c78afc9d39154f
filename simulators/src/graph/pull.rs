//! Fetching media from the URL a client hands over, as Meta's servers do: the URL must
//! be reachable, answer 200 with an accepted type, and stay within the size limit.

use bytes::Bytes;

use super::GraphError;

/// A fetched media file.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub content_type: String,
    pub bytes: Bytes,
}

/// Fetches `url`; `accepted` are MIME types (the body's magic bytes must agree).
pub async fn pull(url: &str, accepted: &[&str], max_bytes: u64) -> Result<Pulled, PullError> {
    let parsed = url::Url::parse(url).map_err(|_| PullError::BadUrl)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(PullError::BadUrl);
    }
    let resp = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| PullError::Unreachable(e.to_string()))?
        .get(url)
        .send()
        .await
        .map_err(|e| PullError::Unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(PullError::Unreachable(format!("HTTP {}", resp.status())));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| PullError::Unreachable(e.to_string()))?;
    if bytes.len() as u64 > max_bytes {
        return Err(PullError::TooLarge(bytes.len() as u64));
    }
    let sniffed = sniff(&bytes).ok_or(PullError::WrongType("unknown".into()))?;
    if !accepted.contains(&sniffed) {
        return Err(PullError::WrongType(sniffed.into()));
    }
    Ok(Pulled {
        content_type: sniffed.into(),
        bytes,
    })
}

#[derive(Debug)]
pub enum PullError {
    BadUrl,
    Unreachable(String),
    TooLarge(u64),
    WrongType(String),
}

impl PullError {
    /// The Graph error a failed pull of an image/video produces.
    pub fn graph(&self, what: &str) -> GraphError {
        match self {
            PullError::BadUrl => {
                GraphError::invalid(format!("{what} should represent a valid URL"))
            }
            PullError::Unreachable(why) => GraphError::oauth(
                324,
                Some(2_069_019),
                format!(
                    "(#324) Missing or invalid image file: the media at the URL could not be fetched ({why})"
                ),
            ),
            PullError::TooLarge(n) => GraphError::oauth(
                324,
                None,
                format!("(#324) The file is too large ({n} bytes)"),
            ),
            PullError::WrongType(t) => GraphError::oauth(
                324,
                Some(2_207_026),
                format!("(#324) Unsupported media type {t}"),
            ),
        }
    }
}

/// The MIME type by magic bytes.
pub fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(b"GIF8") {
        Some("image/gif")
    } else if b.starts_with(b"BM") {
        Some("image/bmp")
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        if &b[8..10] == b"qt" {
            Some("video/quicktime")
        } else {
            Some("video/mp4")
        }
    } else {
        None
    }
}

/// Duration (ms) and the first video track's size of an MP4/MOV file, from its `moov`.
pub fn mp4_info(b: &[u8]) -> Option<(u64, u32, u32)> {
    let moov = find_box(b, b"moov")?;
    let mvhd = find_box(moov, b"mvhd")?;
    let (timescale, duration) = if mvhd.first()? == &1 {
        (
            u32::from_be_bytes(mvhd.get(20..24)?.try_into().ok()?) as u64,
            u64::from_be_bytes(mvhd.get(24..32)?.try_into().ok()?),
        )
    } else {
        (
            u32::from_be_bytes(mvhd.get(12..16)?.try_into().ok()?) as u64,
            u32::from_be_bytes(mvhd.get(16..20)?.try_into().ok()?) as u64,
        )
    };
    let mut rest = moov;
    let (mut w, mut h) = (0, 0);
    while let Some((trak, after)) = next_box(rest, b"trak") {
        if let Some(tkhd) = find_box(trak, b"tkhd") {
            let n = tkhd.len();
            let tw = u32::from_be_bytes(tkhd.get(n - 8..n - 4)?.try_into().ok()?) >> 16;
            let th = u32::from_be_bytes(tkhd.get(n - 4..n)?.try_into().ok()?) >> 16;
            if tw > 0 && th > 0 {
                (w, h) = (tw, th);
                break;
            }
        }
        rest = after;
    }
    if timescale == 0 {
        return None;
    }
    Some((duration * 1000 / timescale, w, h))
}

/// The content of the first child box named `name` in `b`.
fn find_box<'a>(b: &'a [u8], name: &[u8; 4]) -> Option<&'a [u8]> {
    next_box(b, name).map(|(content, _)| content)
}

/// The first box `name` in `b` and what follows it.
fn next_box<'a>(mut b: &'a [u8], name: &[u8; 4]) -> Option<(&'a [u8], &'a [u8])> {
    while b.len() >= 8 {
        let size = u32::from_be_bytes(b[0..4].try_into().ok()?) as usize;
        let (header, size) = if size == 1 {
            (
                16,
                u64::from_be_bytes(b.get(8..16)?.try_into().ok()?) as usize,
            )
        } else if size == 0 {
            (8, b.len())
        } else {
            (8, size)
        };
        if size < header || size > b.len() {
            return None;
        }
        if &b[4..8] == name {
            return Some((&b[header..size], &b[size..]));
        }
        b = &b[size..];
    }
    None
}

impl From<Bytes> for Pulled {
    fn from(bytes: Bytes) -> Self {
        Pulled {
            content_type: sniff(&bytes).unwrap_or("application/octet-stream").into(),
            bytes,
        }
    }
}
