//! What an operation asks for. These are also the API's request bodies (the host derives
//! its OpenAPI schema from them), so every field is checked by [`Operation::validate`]
//! before any job is queued.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest output side (pixels), images and video alike.
pub const MAX_OUTPUT_SIDE: u32 = 8192;
/// Clips one merge may join.
pub const MAX_CLIPS: usize = 20;

/// One studio operation on a library item. Each produces a new library item; the source
/// is kept.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Resize, crop, pad or convert an image.
    Image(ImageSpec),
    /// Resize (crop or letterbox), trim, change frame rate or bitrate of a video.
    Video(VideoSpec),
    /// Join the source and further clips, in order (stream copy when they all match,
    /// else re-encoded to the first clip's size).
    Merge(MergeSpec),
    /// A still frame of a video as an image.
    Thumbnail(ThumbnailSpec),
    /// Convert or level audio; on a video, extracts its audio track.
    Audio(AudioSpec),
    /// Replace a video's audio track with another library item's audio.
    ReplaceAudio(ReplaceAudioSpec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Fill the box, cropping what falls outside (around `focal`).
    Cover,
    /// Fit inside the box, keeping the aspect ratio (the output may be smaller on one side).
    Contain,
    /// Fit inside the box and fill the rest with `background` (letterbox).
    Pad,
    /// Exactly the box, stretching.
    Exact,
}

/// Where the interesting part of the picture is, as fractions of width and height.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Focal {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resize {
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
    /// Cover only; default the centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focal: Option<Focal>,
    /// Pad colour (`#rrggbb`), default black for video and white for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
}

impl Resize {
    /// The pad colour; `#ffffff` when none is given (validated before use).
    pub fn background_rgb(&self) -> [u8; 3] {
        self.background
            .as_deref()
            .and_then(parse_hex)
            .unwrap_or([255, 255, 255])
    }
}

fn parse_hex(s: &str) -> Option<[u8; 3]> {
    let s = s.strip_prefix('#')?;
    if s.len() != 6 || !s.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&s[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<Resize>,
    pub format: ImageFormat,
    /// 1–100 for JPEG and lossy WebP (default 85).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    /// WebP only: lossless encoding.
    #[serde(default)]
    pub lossless: bool,
    /// Lower the quality, then the size, until the file has at most this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Trim {
    pub start_ms: u64,
    /// Default: the end of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
}

/// Output video: H.264 + AAC in MP4 (`+faststart`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<Resize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<Trim>,
    /// Frames per second, 1–120.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    /// Video bitrate; default quality-based (CRF 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_bitrate_kbps: Option<u32>,
    /// Default 128.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_bitrate_kbps: Option<u32>,
    /// Size target: the video bitrate is derived from it and the duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Drop the audio track.
    #[serde(default)]
    pub mute: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeSpec {
    /// Media ids of the clips joined after the source, in order.
    pub clips: Vec<String>,
    /// Output size; default the first clip's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<Resize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailSpec {
    /// Time of the frame; past the end means the last frame.
    pub at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<Resize>,
    pub format: ImageFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AudioFormat {
    Mp3,
    /// AAC in an MPEG-4 audio file (`.m4a`).
    Aac,
    /// 16-bit PCM.
    Wav,
}

impl AudioFormat {
    pub fn extension(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Aac => "m4a",
            AudioFormat::Wav => "wav",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioSpec {
    pub format: AudioFormat,
    /// Gain in dB, −60 to +30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_db: Option<f64>,
    /// EBU R128 loudness normalisation to −16 LUFS.
    #[serde(default)]
    pub normalize: bool,
    /// MP3 and AAC; default 192.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<Trim>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceAudioSpec {
    /// Media id of the audio (or video whose audio is taken).
    pub audio: String,
    /// Gain of the new track in dB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_db: Option<f64>,
}

/// A field that is not acceptable, for a 422 answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn check_resize(field: &str, r: &Resize) -> Result<(), Invalid> {
    for (name, v) in [("width", r.width), ("height", r.height)] {
        if !(1..=MAX_OUTPUT_SIDE).contains(&v) {
            return Err(invalid(
                &format!("{field}.{name}"),
                format!("must be between 1 and {MAX_OUTPUT_SIDE}"),
            ));
        }
    }
    if let Some(f) = r.focal
        && !((0.0..=1.0).contains(&f.x) && (0.0..=1.0).contains(&f.y))
    {
        return Err(invalid(
            &format!("{field}.focal"),
            "x and y are fractions between 0 and 1",
        ));
    }
    if let Some(b) = &r.background
        && parse_hex(b).is_none()
    {
        return Err(invalid(
            &format!("{field}.background"),
            "must be a colour like #1a2b3c",
        ));
    }
    Ok(())
}

fn check_quality(field: &str, q: Option<u8>) -> Result<(), Invalid> {
    match q {
        Some(q) if !(1..=100).contains(&q) => Err(invalid(field, "must be between 1 and 100")),
        _ => Ok(()),
    }
}

fn check_trim(field: &str, t: &Option<Trim>) -> Result<(), Invalid> {
    if let Some(t) = t
        && let Some(end) = t.end_ms
        && end <= t.start_ms
    {
        return Err(invalid(field, "end_ms must be after start_ms"));
    }
    Ok(())
}

fn check_kbps(field: &str, v: Option<u32>, max: u32) -> Result<(), Invalid> {
    match v {
        Some(v) if !(8..=max).contains(&v) => Err(invalid(
            field,
            format!("must be between 8 and {max} kbit/s"),
        )),
        _ => Ok(()),
    }
}

fn check_gain(field: &str, v: Option<f64>) -> Result<(), Invalid> {
    match v {
        Some(v) if !(-60.0..=30.0).contains(&v) => {
            Err(invalid(field, "must be between -60 and 30 dB"))
        }
        _ => Ok(()),
    }
}

impl Operation {
    /// The stable name of the operation (`op`).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Image(_) => "image",
            Operation::Video(_) => "video",
            Operation::Merge(_) => "merge",
            Operation::Thumbnail(_) => "thumbnail",
            Operation::Audio(_) => "audio",
            Operation::ReplaceAudio(_) => "replace_audio",
        }
    }

    /// Which kinds of source (`image`, `video`, `audio`) the operation takes.
    pub fn accepts(&self) -> &'static [&'static str] {
        match self {
            Operation::Image(_) => &["image"],
            Operation::Video(_) | Operation::Merge(_) | Operation::Thumbnail(_) => &["video"],
            Operation::Audio(_) => &["audio", "video"],
            Operation::ReplaceAudio(_) => &["video"],
        }
    }

    /// Media ids besides the source that the operation reads.
    pub fn other_inputs(&self) -> Vec<String> {
        match self {
            Operation::Merge(m) => m.clips.clone(),
            Operation::ReplaceAudio(r) => vec![r.audio.clone()],
            _ => Vec::new(),
        }
    }

    /// Checks every field; the first problem found.
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            Operation::Image(s) => {
                if let Some(r) = &s.resize {
                    check_resize("resize", r)?;
                }
                check_quality("quality", s.quality)?;
                if s.lossless && s.format != ImageFormat::Webp {
                    return Err(invalid("lossless", "applies to WebP only"));
                }
                if s.max_bytes == Some(0) {
                    return Err(invalid("max_bytes", "must be positive"));
                }
            }
            Operation::Video(s) => {
                if let Some(r) = &s.resize {
                    check_resize("resize", r)?;
                }
                check_trim("trim", &s.trim)?;
                if let Some(f) = s.frame_rate
                    && !(1.0..=120.0).contains(&f)
                {
                    return Err(invalid("frame_rate", "must be between 1 and 120"));
                }
                check_kbps("video_bitrate_kbps", s.video_bitrate_kbps, 100_000)?;
                check_kbps("audio_bitrate_kbps", s.audio_bitrate_kbps, 512)?;
                if let Some(b) = s.max_bytes
                    && b < 10_000
                {
                    return Err(invalid("max_bytes", "must be at least 10000"));
                }
            }
            Operation::Merge(m) => {
                if m.clips.is_empty() || m.clips.len() >= MAX_CLIPS {
                    return Err(invalid(
                        "clips",
                        format!("name 1 to {} further clips", MAX_CLIPS - 1),
                    ));
                }
                if let Some(r) = &m.resize {
                    check_resize("resize", r)?;
                }
            }
            Operation::Thumbnail(t) => {
                if let Some(r) = &t.resize {
                    check_resize("resize", r)?;
                }
                check_quality("quality", t.quality)?;
            }
            Operation::Audio(a) => {
                check_gain("volume_db", a.volume_db)?;
                check_kbps("bitrate_kbps", a.bitrate_kbps, 320)?;
                check_trim("trim", &a.trim)?;
            }
            Operation::ReplaceAudio(r) => check_gain("volume_db", r.volume_db)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_by_op_and_refuse_unknown_fields() {
        let op: Operation = serde_json::from_str(
            r#"{"op":"image","format":"webp","lossless":true,"resize":{"width":10,"height":10,"fit":"cover"}}"#,
        )
        .unwrap();
        assert_eq!(op.name(), "image");
        assert!(op.validate().is_ok());
        assert!(
            serde_json::from_str::<Operation>(r#"{"op":"image","format":"png","colour":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<Operation>(r#"{"op":"sharpen"}"#).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let op: Operation = serde_json::from_str(
            r#"{"op":"video","resize":{"width":100000,"height":10,"fit":"pad"}}"#,
        )
        .unwrap();
        assert_eq!(op.validate().unwrap_err().field, "resize.width");
        let op: Operation =
            serde_json::from_str(r#"{"op":"audio","format":"mp3","volume_db":99}"#).unwrap();
        assert_eq!(op.validate().unwrap_err().field, "volume_db");
        let op: Operation =
            serde_json::from_str(r#"{"op":"image","format":"jpeg","lossless":true}"#).unwrap();
        assert_eq!(op.validate().unwrap_err().field, "lossless");
    }
}
