//! What Instagram checks in the media it fetches: JPEG images within the size, width and
//! aspect limits; MP4/MOV videos within size, duration and frame-rate limits (read from
//! the file's `moov` box, as Instagram's processing would find them).

use crate::graph::pull::{self, PullError};

use super::config::InstagramConfig;
use super::state::ContainerKind;

const IMAGE_TYPES: &[&str] = &["image/jpeg"];
const VIDEO_TYPES: &[&str] = &["video/mp4", "video/quicktime"];

/// A failed check: Graph's error code and subcode and the sentence Instagram gives.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub code: u32,
    pub subcode: u32,
    pub message: String,
}

impl Refusal {
    fn new(code: u32, subcode: u32, message: impl Into<String>) -> Self {
        Refusal {
            code,
            subcode,
            message: message.into(),
        }
    }

    /// The `status` text of an `ERROR` container.
    pub fn status(&self) -> String {
        format!("Error: {} (subcode {})", self.message, self.subcode)
    }
}

fn pull_refusal(e: PullError) -> Refusal {
    match e {
        PullError::BadUrl | PullError::Unreachable(_) => Refusal::new(
            9004,
            2_207_052,
            "The media could not be fetched from this URI",
        ),
        PullError::TooLarge(n) => Refusal::new(
            9004,
            2_207_004,
            format!("The media is too large ({n} bytes)"),
        ),
        PullError::WrongType(t) => {
            Refusal::new(9004, 2_207_026, format!("Unsupported media format {t}"))
        }
    }
}

/// Fetches an image and checks it; its size in bytes.
pub(crate) async fn image(
    url: &str,
    config: &InstagramConfig,
    feed: bool,
) -> Result<usize, Refusal> {
    let got = pull::pull(url, IMAGE_TYPES, config.max_image_bytes)
        .await
        .map_err(pull_refusal)?;
    let size = image::ImageReader::new(std::io::Cursor::new(&got.bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .ok_or_else(|| Refusal::new(9004, 2_207_026, "The image could not be decoded"))?;
    let (w, h) = size;
    if w < 320 {
        return Err(Refusal::new(
            36_001,
            2_207_005,
            format!("The image is too small: {w} px wide, at least 320 px needed"),
        ));
    }
    let aspect = w as f64 / h.max(1) as f64;
    if feed && !(0.8 - 1e-3..=1.91 + 1e-3).contains(&aspect) {
        return Err(Refusal::new(
            36_003,
            2_207_009,
            format!("The aspect ratio {w}x{h} is not supported: feed images go from 4:5 to 1.91:1"),
        ));
    }
    Ok(got.bytes.len())
}

/// Fetches a video; its size, or why processing will fail.
pub(crate) async fn video(
    url: &str,
    config: &InstagramConfig,
    kind: ContainerKind,
) -> Result<usize, Refusal> {
    let got = pull::pull(url, VIDEO_TYPES, config.max_video_bytes)
        .await
        .map_err(pull_refusal)?;
    let Some(info) = track_info(&got.bytes) else {
        return Err(Refusal::new(
            2_207_026,
            2_207_026,
            "The video file could not be read",
        ));
    };
    let (min_ms, max_ms) = match kind {
        ContainerKind::Reels => (3_000, 15 * 60_000),
        _ => (3_000, 60_000),
    };
    if !(min_ms..=max_ms).contains(&info.duration_ms) {
        return Err(Refusal::new(
            2_207_026,
            2_207_026,
            format!(
                "The video lasts {:.1} s; {} videos must last {} to {} s",
                info.duration_ms as f64 / 1000.0,
                kind_name(kind),
                min_ms / 1000,
                max_ms / 1000
            ),
        ));
    }
    if !(23.0..=60.0).contains(&info.fps) {
        return Err(Refusal::new(
            2_207_026,
            2_207_026,
            format!(
                "The video's frame rate is {:.0} fps; Instagram takes 23 to 60 fps",
                info.fps
            ),
        ));
    }
    Ok(got.bytes.len())
}

fn kind_name(kind: ContainerKind) -> &'static str {
    match kind {
        ContainerKind::Reels => "reel",
        ContainerKind::Stories => "story",
        _ => "carousel",
    }
}

/// Duration and frame rate of the first video track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TrackInfo {
    pub duration_ms: u64,
    pub fps: f64,
}

/// `moov/trak/mdia` of the video track: `mdhd` gives timescale and duration, `stts` the
/// number of samples (frames).
pub(crate) fn track_info(b: &[u8]) -> Option<TrackInfo> {
    let moov = child(b, b"moov")?;
    let mut rest = moov;
    while let Some((trak, after)) = next(rest, b"trak") {
        rest = after;
        let Some(mdia) = child(trak, b"mdia") else {
            continue;
        };
        let hdlr = child(mdia, b"hdlr")?;
        if hdlr.get(8..12) != Some(b"vide") {
            continue;
        }
        let mdhd = child(mdia, b"mdhd")?;
        let (timescale, duration) = if *mdhd.first()? == 1 {
            (
                u32::from_be_bytes(mdhd.get(20..24)?.try_into().ok()?) as u64,
                u64::from_be_bytes(mdhd.get(24..32)?.try_into().ok()?),
            )
        } else {
            (
                u32::from_be_bytes(mdhd.get(12..16)?.try_into().ok()?) as u64,
                u32::from_be_bytes(mdhd.get(16..20)?.try_into().ok()?) as u64,
            )
        };
        let stts = child(child(child(mdia, b"minf")?, b"stbl")?, b"stts")?;
        let entries = u32::from_be_bytes(stts.get(4..8)?.try_into().ok()?) as usize;
        let mut frames = 0u64;
        for i in 0..entries {
            let at = 8 + i * 8;
            frames += u32::from_be_bytes(stts.get(at..at + 4)?.try_into().ok()?) as u64;
        }
        if timescale == 0 || duration == 0 {
            return None;
        }
        return Some(TrackInfo {
            duration_ms: duration * 1000 / timescale,
            fps: frames as f64 * timescale as f64 / duration as f64,
        });
    }
    None
}

fn child<'a>(b: &'a [u8], name: &[u8; 4]) -> Option<&'a [u8]> {
    next(b, name).map(|(content, _)| content)
}

/// The first box `name` in `b` (its content) and what follows it.
fn next<'a>(mut b: &'a [u8], name: &[u8; 4]) -> Option<(&'a [u8], &'a [u8])> {
    while b.len() >= 8 {
        let size = u32::from_be_bytes(b[0..4].try_into().ok()?) as usize;
        let (header, size) = match size {
            1 => (
                16,
                u64::from_be_bytes(b.get(8..16)?.try_into().ok()?) as usize,
            ),
            0 => (8, b.len()),
            n => (8, n),
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
