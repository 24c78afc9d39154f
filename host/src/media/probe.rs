//! What a stored file is. The type comes from the content (magic numbers), never from the
//! client's claim; images are then checked with the `image` crate (header first, then a
//! full decode under limits), video and audio with the system `ffprobe` in a subprocess
//! under a timeout. Hostile input — decompression bombs, truncated or corrupt files,
//! unknown types — ends in [`ProbeError::Rejected`] with a message for the user, never in a
//! crash or an unbounded allocation.

use anyhow::Context;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use serde::Deserialize;
use serde_json::json;
use std::io::BufReader;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

/// Largest image side accepted (pixels).
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Largest image accepted (pixels in total): a 100-megapixel RGBA decode is 400 MB.
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;
/// Most memory one image decode may allocate.
pub const MAX_DECODE_ALLOC: u64 = 512 << 20;
/// Largest image file accepted: decoders read the whole file into memory.
pub const MAX_IMAGE_BYTES: u64 = 256 << 20;
/// How long `ffprobe` may take before it is killed and the file refused.
pub const FFPROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes read for content sniffing (enough for every signature `infer` knows).
const SNIFF_BYTES: u64 = 8192;

/// Probes running at once: each may hold a full image decode (up to [`MAX_DECODE_ALLOC`])
/// or an ffprobe process, so a burst of uploads cannot exhaust memory.
static PROBES: Semaphore = Semaphore::const_new(4);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    Video,
    Audio,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
        }
    }
}

/// What probing found.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub kind: Kind,
    pub mime_type: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub frame_rate: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub has_audio: bool,
    /// A summary for the record: image format, or container and streams.
    pub details: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The file is not acceptable; `kind` is a stable slug, the message says why.
    #[error("{message}")]
    Rejected { kind: &'static str, message: String },
    /// The server could not probe (I/O, ffprobe missing).
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

fn rejected(kind: &'static str, message: impl Into<String>) -> ProbeError {
    ProbeError::Rejected {
        kind,
        message: message.into(),
    }
}

/// Probes the file at `path`.
pub async fn probe(path: &Path) -> Result<Probe, ProbeError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let mut head = Vec::with_capacity(SNIFF_BYTES as usize);
    (&mut file)
        .take(SNIFF_BYTES)
        .read_to_end(&mut head)
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    if head.is_empty() {
        return Err(rejected("empty-file", "the file is empty"));
    }
    let Some(sniffed) = infer::get(&head) else {
        return Err(rejected(
            "unknown-media-type",
            "the file's content is not a recognised image, video or audio format",
        ));
    };
    let _permit = PROBES.acquire().await.context("probe limiter closed")?;
    match sniffed.matcher_type() {
        infer::MatcherType::Image => {
            let format = image_format(sniffed.mime_type())?;
            let path = path.to_path_buf();
            let mime = sniffed.mime_type().to_string();
            tokio::task::spawn_blocking(move || probe_image(&path, format, mime))
                .await
                .context("the image probe panicked")?
        }
        infer::MatcherType::Video | infer::MatcherType::Audio => {
            probe_av(path, sniffed.mime_type()).await
        }
        _ => Err(rejected(
            "unsupported-media-type",
            format!(
                "the file is {}, not an image, video or audio file",
                sniffed.mime_type()
            ),
        )),
    }
}

fn image_format(mime: &str) -> Result<ImageFormat, ProbeError> {
    match mime {
        "image/png" => Ok(ImageFormat::Png),
        "image/jpeg" => Ok(ImageFormat::Jpeg),
        "image/gif" => Ok(ImageFormat::Gif),
        "image/webp" => Ok(ImageFormat::WebP),
        other => Err(rejected(
            "unsupported-media-type",
            format!("{other} images are not supported; upload PNG, JPEG, GIF or WebP"),
        )),
    }
}

fn image_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

fn image_error(format: ImageFormat, e: ImageError) -> ProbeError {
    let name = format!("{format:?}").to_uppercase();
    match e {
        ImageError::Limits(e) => rejected(
            "image-too-large",
            format!("the {name} image needs more memory to decode than allowed: {e}"),
        ),
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            rejected("corrupt-image", format!("the {name} image is truncated"))
        }
        ImageError::IoError(e) => {
            ProbeError::Failed(anyhow::Error::new(e).context("reading the image"))
        }
        e => rejected(
            "corrupt-image",
            format!("the {name} image is corrupt or truncated: {e}"),
        ),
    }
}

/// Blocking: header, dimension checks, then a full decode under limits so a file that
/// only pretends to be an image is caught here rather than by a later job.
fn probe_image(path: &Path, format: ImageFormat, mime: String) -> Result<Probe, ProbeError> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().context("reading the image's size")?.len();
    if size > MAX_IMAGE_BYTES {
        return Err(rejected(
            "image-too-large",
            format!(
                "the image file has {size} bytes; images may have at most {} MiB",
                MAX_IMAGE_BYTES >> 20
            ),
        ));
    }
    // The JPEG decoder conceals truncation (missing data decodes as grey), so the file's
    // structure is checked first.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(&file)? {
        return Err(rejected(
            "corrupt-image",
            "the JPEG image is truncated: its last scan has no end-of-image marker",
        ));
    }
    // The reader's default limits bound memory while the header is read; the side and pixel
    // limits are checked here first so that a bomb is refused with its dimensions named.
    let mut decoder = ImageReader::with_format(BufReader::new(file), format)
        .into_decoder()
        .map_err(|e| image_error(format, e))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(rejected(
            "corrupt-image",
            format!("the image claims to be {width}×{height} pixels"),
        ));
    }
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(rejected(
            "image-too-large",
            format!(
                "the image is {width}×{height} pixels; each side may be at most {MAX_IMAGE_SIDE}"
            ),
        ));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_IMAGE_PIXELS {
        return Err(rejected(
            "image-too-large",
            format!(
                "the image is {width}×{height} pixels ({} megapixels); at most {} megapixels are accepted",
                pixels / 1_000_000,
                MAX_IMAGE_PIXELS / 1_000_000
            ),
        ));
    }
    decoder
        .set_limits(image_limits())
        .map_err(|e| image_error(format, e))?;
    let color = format!("{:?}", decoder.color_type());
    let image = DynamicImage::from_decoder(decoder).map_err(|e| image_error(format, e))?;
    drop(image);
    Ok(Probe {
        kind: Kind::Image,
        mime_type: mime,
        width: Some(width),
        height: Some(height),
        duration_ms: None,
        frame_rate: None,
        video_codec: None,
        audio_codec: None,
        has_audio: false,
        details: json!({ "format": format!("{format:?}").to_lowercase(), "color_type": color }),
    })
}

/// Whether the last scan of a JPEG is followed by an end-of-image marker (FF D9). Inside
/// entropy-coded data every FF byte is stuffed (FF 00) or a restart marker, so the last
/// start-of-scan (FF DA) in the file is a real one and only EOI may follow its data.
fn jpeg_is_complete(file: &std::fs::File) -> Result<bool, ProbeError> {
    use std::io::{Read, Seek};
    let mut file = file;
    let mut reader = BufReader::new(&mut file);
    let mut buf = [0u8; 64 << 10];
    let (mut prev, mut in_scan, mut ended) = (0u8, false, false);
    loop {
        let n = reader.read(&mut buf).context("reading the image")?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            if prev == 0xFF {
                match b {
                    0xDA => (in_scan, ended) = (true, false),
                    0xD9 if in_scan => ended = true,
                    _ => {}
                }
            }
            prev = b;
        }
    }
    drop(reader);
    file.rewind().context("rewinding the image")?;
    Ok(in_scan && ended)
}

#[derive(Deserialize)]
struct FfOutput {
    #[serde(default)]
    streams: Vec<FfStream>,
    format: Option<FfFormat>,
}

#[derive(Deserialize)]
struct FfStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    pix_fmt: Option<String>,
    duration: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    #[serde(default)]
    disposition: std::collections::HashMap<String, i64>,
}

#[derive(Deserialize)]
struct FfFormat {
    format_name: Option<String>,
    duration: Option<String>,
    bit_rate: Option<String>,
}

/// `"30000/1001"` → 29.97; `"0/0"` (unknown) → None.
fn rate(text: Option<&str>) -> Option<f64> {
    let (n, d) = text?.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then(|| ((n / d) * 1000.0).round() / 1000.0)
}

fn millis(seconds: Option<&str>) -> Option<u64> {
    let s: f64 = seconds?.parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| (s * 1000.0).round() as u64)
}

/// Content types as registered (`infer` names a few by older conventions).
fn normalise_mime(mime: &str) -> &str {
    match mime {
        "audio/m4a" => "audio/mp4",
        "audio/x-wav" => "audio/wav",
        "audio/x-flac" => "audio/flac",
        other => other,
    }
}

async fn probe_av(path: &Path, sniffed: &str) -> Result<Probe, ProbeError> {
    // `file:` and the protocol whitelist keep ffprobe from following references in a
    // hostile file to the network or other files.
    let mut input = std::ffi::OsString::from("file:");
    input.push(path.as_os_str());
    let child = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-protocol_whitelist", "file"])
        .args(["-print_format", "json", "-show_format", "-show_streams"])
        .arg(&input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!("ffprobe is not installed (scripts/setup.sh installs FFmpeg)")
            } else {
                anyhow::Error::new(e).context("starting ffprobe")
            }
        })?;
    // Dropping the child on timeout kills it (kill_on_drop).
    let output = match tokio::time::timeout(FFPROBE_TIMEOUT, child.wait_with_output()).await {
        Ok(out) => out.context("running ffprobe")?,
        Err(_) => {
            return Err(rejected(
                "probe-timeout",
                format!(
                    "the file could not be probed within {} s",
                    FFPROBE_TIMEOUT.as_secs()
                ),
            ));
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // ffprobe names the input path in its messages; the user knows it as "the file".
        let reason = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no details")
            .replace(&*input.to_string_lossy(), "the file");
        let reason: String = reason.chars().take(300).collect();
        return Err(rejected(
            "unreadable-media",
            format!("the file is not a readable {sniffed} file: {reason}"),
        ));
    }
    let out: FfOutput =
        serde_json::from_slice(&output.stdout).context("parsing the output of ffprobe")?;
    summarise(out, sniffed)
}

fn summarise(out: FfOutput, sniffed: &str) -> Result<Probe, ProbeError> {
    let is = |s: &&FfStream, t: &str| s.codec_type.as_deref() == Some(t);
    // Cover art in audio files is a video stream marked as an attached picture.
    let video = out
        .streams
        .iter()
        .find(|s| is(s, "video") && s.disposition.get("attached_pic").copied().unwrap_or(0) == 0);
    let audio = out.streams.iter().find(|s| is(s, "audio"));
    let kind = match (video, audio) {
        (Some(_), _) => Kind::Video,
        (None, Some(_)) => Kind::Audio,
        (None, None) => {
            return Err(rejected(
                "unreadable-media",
                "the file has no video or audio stream",
            ));
        }
    };
    let format = out.format.as_ref();
    let duration_ms = millis(format.and_then(|f| f.duration.as_deref()))
        .or_else(|| millis(video.or(audio).and_then(|s| s.duration.as_deref())));
    let mut mime = normalise_mime(sniffed).to_string();
    if kind == Kind::Audio
        && let Some(sub) = mime.strip_prefix("video/")
    {
        mime = format!("audio/{sub}");
    }
    let streams: Vec<serde_json::Value> = out
        .streams
        .iter()
        .map(|s| {
            json!({
                "type": s.codec_type,
                "codec": s.codec_name,
                "width": s.width,
                "height": s.height,
                "frame_rate": rate(s.avg_frame_rate.as_deref()).or_else(|| rate(s.r_frame_rate.as_deref())),
                "sample_rate": s.sample_rate,
                "channels": s.channels,
                // The studio's worker reads these instead of probing the file again.
                "r_frame_rate": s.r_frame_rate,
                "pix_fmt": s.pix_fmt,
                "attached_pic": s.disposition.get("attached_pic").copied().unwrap_or(0) != 0,
            })
        })
        .collect();
    Ok(Probe {
        kind,
        mime_type: mime,
        width: video.and_then(|v| v.width),
        height: video.and_then(|v| v.height),
        duration_ms,
        frame_rate: video.and_then(|v| {
            rate(v.avg_frame_rate.as_deref()).or_else(|| rate(v.r_frame_rate.as_deref()))
        }),
        video_codec: video.and_then(|v| v.codec_name.clone()),
        audio_codec: audio.and_then(|a| a.codec_name.clone()),
        has_audio: audio.is_some(),
        details: json!({
            "container": format.and_then(|f| f.format_name.clone()),
            "bit_rate": format.and_then(|f| f.bit_rate.clone()),
            "streams": streams,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_durations() {
        assert_eq!(rate(Some("25/1")), Some(25.0));
        assert_eq!(rate(Some("30000/1001")), Some(29.97));
        assert_eq!(rate(Some("0/0")), None);
        assert_eq!(millis(Some("2.000000")), Some(2000));
        assert_eq!(millis(Some("N/A")), None);
    }

    #[test]
    fn cover_art_is_not_video() {
        let out: FfOutput = serde_json::from_value(json!({
            "streams": [
                {"codec_type": "audio", "codec_name": "mp3"},
                {"codec_type": "video", "codec_name": "mjpeg", "width": 500, "height": 500,
                 "disposition": {"attached_pic": 1}}
            ],
            "format": {"format_name": "mp3", "duration": "1.5"}
        }))
        .unwrap();
        let p = summarise(out, "audio/mpeg").unwrap();
        assert_eq!(p.kind, Kind::Audio);
        assert_eq!(p.width, None);
        assert_eq!(p.duration_ms, Some(1500));
        assert!(p.has_audio);
    }

    #[tokio::test]
    async fn empty_and_unknown_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            probe(&empty).await,
            Err(ProbeError::Rejected {
                kind: "empty-file",
                ..
            })
        ));
        let noise = dir.path().join("noise");
        std::fs::write(&noise, b"\x13\x37 not a media file at all").unwrap();
        assert!(matches!(
            probe(&noise).await,
            Err(ProbeError::Rejected {
                kind: "unknown-media-type",
                ..
            })
        ));
    }
}
