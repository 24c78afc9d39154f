//! Video and audio pipelines on the system FFmpeg. Each operation takes what is known of
//! its inputs (the media library probed every file on upload) or probes them itself
//! (`ffprobe`, 100–200 ms each, which would dominate a stream-copy merge), refuses what it
//! cannot or must not process (no streams, zero or too long a duration, missing video),
//! computes the geometry itself (so crop offsets and even dimensions are exact), and runs
//! one `ffmpeg` process with explicit settings, reading `-progress` to report the
//! percentage from the output's timestamps.

use crate::spec::{
    AudioFormat, AudioSpec, Fit, ImageSpec, MergeSpec, ReplaceAudioSpec, Resize, ThumbnailSpec,
    Trim, VideoSpec,
};
use crate::{Failure, Limits, image_ops};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

/// Default x264 settings: fast enough for a 2-core server, CRF 23 is x264's own default.
const X264: [&str; 6] = [
    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
];
const CRF: [&str; 2] = ["-crf", "23"];
/// Tail of FFmpeg's error output kept for the failure message.
const STDERR_TAIL: usize = 2000;

/// What `ffprobe` says about one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvInfo {
    pub duration_ms: u64,
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStream {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// As FFmpeg writes it, e.g. `30000/1001`.
    pub frame_rate: String,
    pub pix_fmt: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStream {
    pub codec: String,
    pub sample_rate: String,
    pub channels: u32,
}

#[derive(Deserialize)]
struct FfOut {
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
    r_frame_rate: Option<String>,
    pix_fmt: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    #[serde(default)]
    disposition: std::collections::HashMap<String, i64>,
}

#[derive(Deserialize)]
struct FfFormat {
    duration: Option<String>,
}

/// Probes `path` and checks it against `limits`.
pub fn probe(path: &Path, limits: &Limits) -> Result<AvInfo, Failure> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure::new("internal", format!("running ffprobe: {e}")))?;
    if !out.status.success() {
        return Err(Failure::new(
            "corrupt-media",
            format!(
                "the file cannot be read as audio or video: {}",
                tail(&String::from_utf8_lossy(&out.stderr))
            ),
        ));
    }
    let parsed: FfOut = serde_json::from_slice(&out.stdout)
        .map_err(|e| Failure::new("internal", format!("reading ffprobe's answer: {e}")))?;
    let duration_ms = parsed
        .format
        .and_then(|f| f.duration)
        .and_then(|d| d.parse::<f64>().ok())
        .map(|s| (s * 1000.0).round() as u64)
        .unwrap_or(0);
    let video = parsed
        .streams
        .iter()
        .find(|s| {
            s.codec_type.as_deref() == Some("video")
                && s.disposition.get("attached_pic").copied().unwrap_or(0) == 0
        })
        .map(|s| VideoStream {
            codec: s.codec_name.clone().unwrap_or_default(),
            width: s.width.unwrap_or(0),
            height: s.height.unwrap_or(0),
            frame_rate: s.r_frame_rate.clone().unwrap_or_default(),
            pix_fmt: s.pix_fmt.clone().unwrap_or_default(),
        });
    let audio = parsed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"))
        .map(|s| AudioStream {
            codec: s.codec_name.clone().unwrap_or_default(),
            sample_rate: s.sample_rate.clone().unwrap_or_default(),
            channels: s.channels.unwrap_or(0),
        });
    let info = AvInfo {
        duration_ms,
        video,
        audio,
    };
    check(&info, limits)?;
    Ok(info)
}

/// Refuses what must not be processed: no stream, zero or too long a duration, too large a
/// frame.
pub fn check(info: &AvInfo, limits: &Limits) -> Result<(), Failure> {
    let AvInfo {
        duration_ms,
        video,
        audio,
    } = info;
    let duration_ms = *duration_ms;
    if video.is_none() && audio.is_none() {
        return Err(Failure::new(
            "no-media-streams",
            "the file has no audio or video stream",
        ));
    }
    if duration_ms == 0 {
        return Err(Failure::new(
            "empty-media",
            "the file has a zero-length stream",
        ));
    }
    if duration_ms > limits.max_duration_ms {
        return Err(Failure::new(
            "too-long",
            format!(
                "the file lasts {} s; at most {} s are processed",
                duration_ms / 1000,
                limits.max_duration_ms / 1000
            ),
        ));
    }
    if let Some(v) = video {
        limits.check_image(v.width, v.height)?;
    }
    Ok(())
}

/// What is known of `path` (checked against `limits` like a probe), else its probe.
pub fn info(path: &Path, known: Option<&AvInfo>, limits: &Limits) -> Result<AvInfo, Failure> {
    match known {
        Some(k) => check(k, limits).map(|()| k.clone()),
        None => probe(path, limits),
    }
}

fn tail(s: &str) -> String {
    let s = s.trim();
    let start = s.len().saturating_sub(STDERR_TAIL);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s[start..].to_string()
}

/// Runs `ffmpeg` with `args` (inputs, filters, output), reporting progress as a fraction of
/// `total_ms` of output time.
pub fn ffmpeg(
    args: &[String],
    total_ms: u64,
    progress: &mut dyn FnMut(f64),
) -> Result<(), Failure> {
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-nostats",
        ])
        .args(["-progress", "pipe:1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::new("internal", format!("running ffmpeg: {e}")))?;
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(us) = line.strip_prefix("out_time_us=")
            && let Ok(us) = us.trim().parse::<i64>()
            && total_ms > 0
        {
            progress((us.max(0) as f64 / 1000.0 / total_ms as f64).min(1.0));
        }
    }
    let status = child
        .wait()
        .map_err(|e| Failure::new("internal", format!("waiting for ffmpeg: {e}")))?;
    let errors = errors.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Err(Failure::new(
                "resource-limit",
                format!("ffmpeg was stopped by signal {sig} (a CPU or memory limit)"),
            ));
        }
    }
    Err(Failure::new(
        "processing-failed",
        format!("ffmpeg could not process the media: {}", tail(&errors)),
    ))
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn even(v: f64) -> u32 {
    ((v / 2.0).round() as u32 * 2).max(2)
}

/// The filter chain that turns a `src` frame into the `resize` box (always even sides, as
/// H.264 in 4:2:0 needs), or just evens out odd sides without a resize.
pub fn scale_filter(src: (u32, u32), resize: Option<&Resize>) -> String {
    let (w, h) = (f64::from(src.0), f64::from(src.1));
    let Some(r) = resize else {
        return format!(
            "scale={}:{}:flags=bicubic,setsar=1",
            even(w - 1.0),
            even(h - 1.0)
        );
    };
    let (tw, th) = (f64::from(r.width), f64::from(r.height));
    let (bw, bh) = (even(tw - 1.0), even(th - 1.0));
    match r.fit {
        Fit::Exact => format!("scale={bw}:{bh}:flags=bicubic,setsar=1"),
        Fit::Contain => {
            let k = (tw / w).min(th / h);
            format!(
                "scale={}:{}:flags=bicubic,setsar=1",
                even(w * k).min(bw),
                even(h * k).min(bh)
            )
        }
        Fit::Pad => {
            let k = (tw / w).min(th / h);
            let (sw, sh) = (even(w * k).min(bw), even(h * k).min(bh));
            let [cr, cg, cb] = r
                .background
                .as_deref()
                .map(|_| r.background_rgb())
                .unwrap_or([0, 0, 0]);
            format!(
                "scale={sw}:{sh}:flags=bicubic,pad={bw}:{bh}:{}:{}:color=0x{cr:02x}{cg:02x}{cb:02x},setsar=1",
                (bw - sw) / 2,
                (bh - sh) / 2
            )
        }
        Fit::Cover => {
            let k = (tw / w).max(th / h);
            let (sw, sh) = (even(w * k).max(bw), even(h * k).max(bh));
            let (fx, fy) = r.focal.map(|f| (f.x, f.y)).unwrap_or((0.5, 0.5));
            let x = (fx * f64::from(sw) - f64::from(bw) / 2.0).clamp(0.0, f64::from(sw - bw));
            let y = (fy * f64::from(sh) - f64::from(bh) / 2.0).clamp(0.0, f64::from(sh - bh));
            format!(
                "scale={sw}:{sh}:flags=bicubic,crop={bw}:{bh}:{}:{},setsar=1",
                x.round() as u32,
                y.round() as u32
            )
        }
    }
}

/// `-ss`/`-t` input options of a trim, and the duration that remains.
fn trim_args(trim: Option<&Trim>, duration_ms: u64) -> Result<(Vec<String>, u64), Failure> {
    let Some(t) = trim else {
        return Ok((Vec::new(), duration_ms));
    };
    let end = t.end_ms.unwrap_or(duration_ms).min(duration_ms);
    if t.start_ms >= end {
        return Err(Failure::new(
            "invalid-trim",
            format!(
                "the trim starts at {} ms but the media ends at {end} ms",
                t.start_ms
            ),
        ));
    }
    let args = vec![
        s("-ss"),
        format!("{:.3}", t.start_ms as f64 / 1000.0),
        s("-t"),
        format!("{:.3}", (end - t.start_ms) as f64 / 1000.0),
    ];
    Ok((args, end - t.start_ms))
}

fn require_video(info: &AvInfo) -> Result<&VideoStream, Failure> {
    info.video
        .as_ref()
        .ok_or_else(|| Failure::new("no-video-stream", "the file has no video stream"))
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Resize, trim, frame rate and bitrate of one video; H.264 + AAC in MP4.
pub fn video(
    input: &Path,
    output: &Path,
    known: Option<&AvInfo>,
    spec: &VideoSpec,
    limits: &Limits,
    progress: &mut dyn FnMut(f64),
) -> Result<(), Failure> {
    let info = info(input, known, limits)?;
    let v = require_video(&info)?;
    let (trim, duration_ms) = trim_args(spec.trim.as_ref(), info.duration_ms)?;
    let mut args = trim;
    args.extend([s("-i"), path_arg(input), s("-map"), s("0:v:0")]);
    let audio = info.audio.is_some() && !spec.mute;
    if audio {
        args.extend([s("-map"), s("0:a:0")]);
    }
    let mut filter = scale_filter((v.width, v.height), spec.resize.as_ref());
    if let Some(fps) = spec.frame_rate {
        filter.push_str(&format!(",fps={fps}"));
    }
    args.extend([s("-vf"), filter]);
    args.extend(X264.map(s));
    let audio_kbps = spec.audio_bitrate_kbps.unwrap_or(128);
    let mut rate = rate_control(spec, duration_ms, audio, audio_kbps)?;
    // x264's rate control overshoots short clips by a few percent: a file over its budget
    // is encoded again at a bitrate scaled down by the overshoot.
    for _ in 0..3 {
        let mut run = args.clone();
        match rate {
            Some((k, capped)) => {
                if capped {
                    run.extend(CRF.map(s));
                } else {
                    run.extend([s("-b:v"), format!("{k}k")]);
                }
                run.extend([
                    s("-maxrate"),
                    format!("{k}k"),
                    s("-bufsize"),
                    format!("{}k", k * 2),
                ]);
            }
            None => run.extend(CRF.map(s)),
        }
        if audio {
            run.extend([s("-c:a"), s("aac"), s("-b:a"), format!("{audio_kbps}k")]);
        } else {
            run.push(s("-an"));
        }
        run.extend([s("-movflags"), s("+faststart"), path_arg(output)]);
        ffmpeg(&run, duration_ms, progress)?;
        let (Some(budget), Some((k, _))) = (spec.max_bytes, rate) else {
            return Ok(());
        };
        let size = std::fs::metadata(output)
            .map_err(|e| Failure::new("io", format!("reading the output: {e}")))?
            .len();
        if size <= budget {
            return Ok(());
        }
        let scaled = f64::from(k) * budget as f64 / size as f64 * 0.95;
        if scaled < 50.0 {
            break;
        }
        rate = Some((scaled as u32, false));
    }
    Err(Failure::new(
        "cannot-meet-size",
        format!(
            "the video could not be encoded in {} bytes",
            spec.max_bytes.unwrap_or_default()
        ),
    ))
}

/// Bitrate of the video stream: `None` for plain CRF, else the kbit/s ceiling and whether
/// CRF runs under it (a generous size budget) rather than a fixed bitrate.
fn rate_control(
    spec: &VideoSpec,
    duration_ms: u64,
    audio: bool,
    audio_kbps: u32,
) -> Result<Option<(u32, bool)>, Failure> {
    // Above this, CRF 23 rarely needs more: the budget becomes a ceiling, not a target.
    const GENEROUS_KBPS: f64 = 8000.0;
    let Some(budget) = spec.max_bytes else {
        return Ok(spec.video_bitrate_kbps.map(|k| (k, false)));
    };
    // 4% for the container, and the audio's share of the budget.
    let total = budget as f64 * 8.0 * 0.96 / (duration_ms.max(1) as f64 / 1000.0) / 1000.0;
    let fits = total - if audio { f64::from(audio_kbps) } else { 0.0 };
    if fits < 50.0 {
        return Err(Failure::new(
            "cannot-meet-size",
            format!(
                "{} s of video cannot fit in {budget} bytes at a watchable bitrate",
                duration_ms / 1000
            ),
        ));
    }
    Ok(Some(match spec.video_bitrate_kbps {
        Some(k) => (k.min(fits as u32), false),
        None if fits >= GENEROUS_KBPS => (fits.min(50_000.0) as u32, true),
        None => (fits as u32, false),
    }))
}

/// Whether clips can be joined by copying their streams: same codecs, size, frame rate,
/// pixel format and audio layout.
fn same_shape(a: &AvInfo, b: &AvInfo) -> bool {
    a.video == b.video && a.audio == b.audio
}

/// Joins `inputs` in order; `known[i]` is what is known of `inputs[i]` (probed if none).
pub fn merge(
    inputs: &[&Path],
    known: &[Option<AvInfo>],
    output: &Path,
    spec: &MergeSpec,
    limits: &Limits,
    progress: &mut dyn FnMut(f64),
) -> Result<(), Failure> {
    let infos = inputs
        .iter()
        .enumerate()
        .map(|(i, p)| info(p, known.get(i).and_then(Option::as_ref), limits))
        .collect::<Result<Vec<_>, _>>()?;
    for info in &infos {
        require_video(info)?;
    }
    let total_ms: u64 = infos.iter().map(|i| i.duration_ms).sum();
    if total_ms > limits.max_duration_ms {
        return Err(Failure::new(
            "too-long",
            format!(
                "the clips last {} s together; at most {} s are processed",
                total_ms / 1000,
                limits.max_duration_ms / 1000
            ),
        ));
    }
    let copy = spec.resize.is_none()
        && infos.iter().all(|i| same_shape(i, &infos[0]))
        && infos[0].video.as_ref().is_some_and(|v| v.codec == "h264");
    let mut args = Vec::new();
    if copy {
        // The concat demuxer offsets each clip's timestamps itself; stream copy keeps the
        // encoded frames as they are.
        let list = output.with_extension("txt");
        let body: String = inputs
            .iter()
            .map(|p| format!("file '{}'\n", path_arg(p).replace('\'', "'\\''")))
            .collect();
        std::fs::write(&list, body)
            .map_err(|e| Failure::new("io", format!("writing the clip list: {e}")))?;
        args.extend([
            s("-f"),
            s("concat"),
            s("-safe"),
            s("0"),
            s("-i"),
            path_arg(&list),
        ]);
        args.extend([
            s("-c"),
            s("copy"),
            s("-movflags"),
            s("+faststart"),
            path_arg(output),
        ]);
        let result = ffmpeg(&args, total_ms, progress);
        let _ = std::fs::remove_file(&list);
        return result;
    }
    let first = infos[0].video.as_ref().expect("checked above");
    let target = spec.resize.clone().unwrap_or(Resize {
        width: even(f64::from(first.width) - 1.0),
        height: even(f64::from(first.height) - 1.0),
        fit: Fit::Pad,
        focal: None,
        background: None,
    });
    let fps = if first.frame_rate.is_empty() || first.frame_rate == "0/0" {
        "30".to_string()
    } else {
        first.frame_rate.clone()
    };
    let with_audio = infos.iter().any(|i| i.audio.is_some());
    for p in inputs {
        args.extend([s("-i"), path_arg(p)]);
    }
    // Clips without sound get silence of their length, so the audio stays in step.
    let mut silent = Vec::new();
    if with_audio {
        for (i, info) in infos.iter().enumerate() {
            if info.audio.is_none() {
                silent.push((i, inputs.len() + silent.len()));
                args.extend([
                    s("-f"),
                    s("lavfi"),
                    s("-t"),
                    format!("{:.3}", info.duration_ms as f64 / 1000.0),
                    s("-i"),
                    s("anullsrc=r=48000:cl=stereo"),
                ]);
            }
        }
    }
    let mut graph = String::new();
    let mut pads = String::new();
    for (i, info) in infos.iter().enumerate() {
        let v = info.video.as_ref().expect("checked above");
        graph.push_str(&format!(
            "[{i}:v:0]{},fps={fps},format=yuv420p[v{i}];",
            scale_filter((v.width, v.height), Some(&target))
        ));
        pads.push_str(&format!("[v{i}]"));
        if with_audio {
            let source = match silent.iter().find(|(clip, _)| *clip == i) {
                Some((_, extra)) => format!("[{extra}:a:0]"),
                None => format!("[{i}:a:0]"),
            };
            graph.push_str(&format!(
                "{source}aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo[a{i}];"
            ));
            pads.push_str(&format!("[a{i}]"));
        }
    }
    graph.push_str(&format!(
        "{pads}concat=n={}:v=1:a={}[v]{}",
        infos.len(),
        u8::from(with_audio),
        if with_audio { "[a]" } else { "" }
    ));
    args.extend([s("-filter_complex"), graph, s("-map"), s("[v]")]);
    if with_audio {
        args.extend([
            s("-map"),
            s("[a]"),
            s("-c:a"),
            s("aac"),
            s("-b:a"),
            s("128k"),
        ]);
    }
    args.extend(X264.map(s));
    args.extend(CRF.map(s));
    args.extend([s("-movflags"), s("+faststart"), path_arg(output)]);
    ffmpeg(&args, total_ms, progress)
}

/// One frame at `at_ms` (the last one past the end), through the image pipeline.
pub fn thumbnail(
    input: &Path,
    output: &Path,
    known: Option<&AvInfo>,
    spec: &ThumbnailSpec,
    limits: &Limits,
) -> Result<image_ops::Encoded, Failure> {
    let info = info(input, known, limits)?;
    require_video(&info)?;
    let at = spec.at_ms.min(info.duration_ms.saturating_sub(100));
    let frame = output.with_extension("frame.png");
    let args = vec![
        s("-ss"),
        format!("{:.3}", at as f64 / 1000.0),
        s("-i"),
        path_arg(input),
        s("-frames:v"),
        s("1"),
        s("-f"),
        s("image2"),
        s("-c:v"),
        s("png"),
        path_arg(&frame),
    ];
    ffmpeg(&args, 0, &mut |_| {})?;
    if !frame.exists() {
        return Err(Failure::new(
            "processing-failed",
            format!("the video has no frame at {at} ms"),
        ));
    }
    let result = image_ops::run(
        &frame,
        output,
        &ImageSpec {
            resize: spec.resize.clone(),
            format: spec.format,
            quality: spec.quality,
            lossless: false,
            max_bytes: None,
        },
        limits,
    );
    let _ = std::fs::remove_file(&frame);
    result
}

fn audio_filter(volume_db: Option<f64>, normalize: bool) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(db) = volume_db {
        parts.push(format!("volume={db}dB"));
    }
    if normalize {
        parts.push(s("loudnorm=I=-16:TP=-1.5:LRA=11"));
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

fn audio_codec_args(format: AudioFormat, kbps: u32) -> Vec<String> {
    match format {
        AudioFormat::Mp3 => vec![s("-c:a"), s("libmp3lame"), s("-b:a"), format!("{kbps}k")],
        AudioFormat::Aac => vec![
            s("-c:a"),
            s("aac"),
            s("-b:a"),
            format!("{kbps}k"),
            s("-movflags"),
            s("+faststart"),
        ],
        AudioFormat::Wav => vec![s("-c:a"), s("pcm_s16le")],
    }
}

/// Convert, level or trim audio; on a video, its audio track.
pub fn audio(
    input: &Path,
    output: &Path,
    known: Option<&AvInfo>,
    spec: &AudioSpec,
    limits: &Limits,
    progress: &mut dyn FnMut(f64),
) -> Result<(), Failure> {
    let info = info(input, known, limits)?;
    if info.audio.is_none() {
        return Err(Failure::new(
            "no-audio-stream",
            "the file has no audio track",
        ));
    }
    let (trim, duration_ms) = trim_args(spec.trim.as_ref(), info.duration_ms)?;
    let mut args = trim;
    args.extend([s("-i"), path_arg(input), s("-map"), s("0:a:0"), s("-vn")]);
    if let Some(f) = audio_filter(spec.volume_db, spec.normalize) {
        args.extend([s("-af"), f]);
    }
    if spec.normalize {
        // loudnorm works at 192 kHz internally; bring it back to a normal rate.
        args.extend([s("-ar"), s("48000")]);
    }
    args.extend(audio_codec_args(
        spec.format,
        spec.bitrate_kbps.unwrap_or(192),
    ));
    args.push(path_arg(output));
    ffmpeg(&args, duration_ms, progress)
}

/// The video of `video` with the audio of `audio` (cut to the video's length); `known`
/// is what is known of each.
pub fn replace_audio(
    (video, audio): (&Path, &Path),
    known: [Option<&AvInfo>; 2],
    output: &Path,
    spec: &ReplaceAudioSpec,
    limits: &Limits,
    progress: &mut dyn FnMut(f64),
) -> Result<(), Failure> {
    let vinfo = info(video, known[0], limits)?;
    require_video(&vinfo)?;
    let ainfo = info(audio, known[1], limits)?;
    if ainfo.audio.is_none() {
        return Err(Failure::new(
            "no-audio-stream",
            "the replacement has no audio track",
        ));
    }
    let mut args = vec![
        s("-i"),
        path_arg(video),
        s("-i"),
        path_arg(audio),
        s("-map"),
        s("0:v:0"),
        s("-map"),
        s("1:a:0"),
        s("-c:v"),
        s("copy"),
    ];
    if let Some(f) = audio_filter(spec.volume_db, false) {
        args.extend([s("-af"), f]);
    }
    args.extend([
        s("-c:a"),
        s("aac"),
        s("-b:a"),
        s("192k"),
        s("-t"),
        format!("{:.3}", vinfo.duration_ms as f64 / 1000.0),
        s("-movflags"),
        s("+faststart"),
        path_arg(output),
    ]);
    ffmpeg(&args, vinfo.duration_ms, progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Focal;

    fn r(w: u32, h: u32, fit: Fit) -> Resize {
        Resize {
            width: w,
            height: h,
            fit,
            focal: None,
            background: None,
        }
    }

    #[test]
    fn filters_produce_the_box_with_even_sides() {
        assert_eq!(
            scale_filter((1920, 1080), Some(&r(1080, 1920, Fit::Cover))),
            "scale=3414:1920:flags=bicubic,crop=1080:1920:1167:0,setsar=1"
        );
        assert_eq!(
            scale_filter((1920, 1080), Some(&r(1080, 1920, Fit::Pad))),
            "scale=1080:608:flags=bicubic,pad=1080:1920:0:656:color=0x000000,setsar=1"
        );
        let mut left = r(1080, 1920, Fit::Cover);
        left.focal = Some(Focal { x: 0.0, y: 0.5 });
        assert!(scale_filter((1920, 1080), Some(&left)).contains("crop=1080:1920:0:0"));
        assert_eq!(
            scale_filter((641, 359), None),
            "scale=640:358:flags=bicubic,setsar=1"
        );
    }
}
