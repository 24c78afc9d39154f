//! Pulling media from the URL a container names, as Meta's fetchers do, and
//! checking what arrived.

use super::state::{FetchedMedia, MediaType, Sim};

/// What went wrong, as the container's `error_message` says it.
pub(crate) type FetchError = &'static str;

/// Fetches `url` and checks it for a container of `kind` (IMAGE or VIDEO).
pub(crate) async fn fetch(
    sim: &Sim,
    url: &str,
    kind: MediaType,
) -> Result<FetchedMedia, FetchError> {
    let (download_failed, unknown) = match kind {
        MediaType::Video => ("FAILED_DOWNLOADING_VIDEO", "FAILED_PROCESSING_VIDEO"),
        _ => ("FAILED_DOWNLOADING_IMAGE", "UNKNOWN"),
    };
    let response = sim
        .fetcher
        .get(url)
        .send()
        .await
        .map_err(|_| download_failed)?;
    if !response.status().is_success() {
        return Err(download_failed);
    }
    let bytes = response.bytes().await.map_err(|_| download_failed)?;
    let size = bytes.len() as u64;
    let config = &sim.config;
    let mime = sniff(&bytes).ok_or(unknown)?;
    let duration_ms = match kind {
        MediaType::Image => {
            if !matches!(mime, "image/jpeg" | "image/png") {
                return Err("UNSUPPORTED_IMAGE_FORMAT");
            }
            if size > config.max_image_bytes {
                return Err("IMAGE_TOO_LARGE");
            }
            None
        }
        _ => {
            if !matches!(mime, "video/mp4" | "video/quicktime") {
                return Err(unknown);
            }
            if size > config.max_video_bytes {
                return Err("FILE_SIZE_EXCEEDED");
            }
            let ms = mp4_duration_ms(&bytes).ok_or(unknown)?;
            if ms > config.max_video_secs * 1000 {
                return Err("INVALID_DURATION");
            }
            Some(ms)
        }
    };
    Ok(FetchedMedia {
        url: url.to_owned(),
        mime: mime.to_owned(),
        size,
        duration_ms,
    })
}

/// The type the bytes really are (the Content-Type a server claims is not trusted).
fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.len() > 12 && &b[4..8] == b"ftyp" {
        Some(if &b[8..10] == b"qt" {
            "video/quicktime"
        } else {
            "video/mp4"
        })
    } else {
        None
    }
}

/// Duration from the `moov/mvhd` box of an MP4 or QuickTime file.
fn mp4_duration_ms(b: &[u8]) -> Option<u64> {
    let moov = find_box(b, b"moov")?;
    let mvhd = find_box(moov, b"mvhd")?;
    let be32 = |o: usize| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(
            mvhd.get(o..o + 4)?.try_into().ok()?,
        )))
    };
    let (timescale, duration) = if *mvhd.first()? == 1 {
        let hi = be32(24)?;
        let lo = be32(28)?;
        (be32(20)?, (hi << 32) | lo)
    } else {
        (be32(12)?, be32(16)?)
    };
    (timescale > 0).then(|| duration * 1000 / timescale)
}

/// The payload of the first top-level box of `kind` in `b`.
fn find_box<'a>(b: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 0usize;
    while at + 8 <= b.len() {
        let size = u32::from_be_bytes(b[at..at + 4].try_into().ok()?) as usize;
        let (header, size) = match size {
            1 => {
                let big = u64::from_be_bytes(b.get(at + 8..at + 16)?.try_into().ok()?);
                (16, usize::try_from(big).ok()?)
            }
            0 => (8, b.len() - at),
            n => (8, n),
        };
        if size < header || at + size > b.len() {
            return None;
        }
        if &b[at + 4..at + 8] == kind {
            return Some(&b[at + header..at + size]);
        }
        at += size;
    }
    None
}
