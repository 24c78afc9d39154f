//! The media pipelines against the reference tools, on the same inputs in one run:
//! the image pipeline (decode + cover 1080×1080 + JPEG q85 of a 4000×3000 photo) against
//! Pillow (`/usr/bin/python3`, python3-pil) and libvips' `vipsthumbnail` (libvips-tools),
//! and the video/audio pipelines against the `ffmpeg` CLI given the same settings.
//! Medians of several runs; prints a Markdown table for docs/benchmarks.md.
//!
//! Like the server's worker, the pipelines are given what the media library learnt when the
//! file was uploaded (one `av::probe` before the timed runs stands for the upload's probe),
//! so the timed work is what a studio job does.

use mediakit::spec::{
    AudioFormat, AudioSpec, Fit, ImageFormat, ImageSpec, MergeSpec, Resize, VideoSpec,
};
use mediakit::{Limits, av, image_ops};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    f(); // warm-up: page cache, lazy init
    median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("starting a reference tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ffmpeg(args: &[&str]) {
    run(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args));
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn row(what: &str, ours: Duration, theirs: Duration, tool: &str) {
    println!(
        "| {what} | {} | {tool}: {} | {:.2}× |",
        ms(ours),
        ms(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let s = |path: &Path| path.to_string_lossy().into_owned();
    let limits = Limits::default();
    println!("| pipeline | ours | reference | ours ÷ reference |\n|---|---|---|---|");

    // A 4000×3000 photo-like JPEG (a detailed test pattern at quality 2 ≈ q90).
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=4000x3000:rate=1",
        "-frames:v",
        "1",
        "-q:v",
        "2",
        &s(&p("photo.jpg")),
    ]);
    let spec = ImageSpec {
        resize: Some(Resize {
            width: 1080,
            height: 1080,
            fit: Fit::Cover,
            focal: None,
            background: None,
        }),
        format: ImageFormat::Jpeg,
        quality: Some(85),
        lossless: false,
        max_bytes: None,
    };
    let ours = time(|| {
        image_ops::run(&p("photo.jpg"), &p("ours.jpg"), &spec, &limits).unwrap();
    });
    // Pillow timed inside one interpreter, so its start-up is not counted against it.
    let script = format!(
        "import time,statistics\nfrom PIL import Image, ImageOps\nts=[]\nfor i in range({}):\n t=time.perf_counter()\n im=Image.open('{}'); im=ImageOps.fit(im,(1080,1080),Image.BICUBIC); im.save('{}',quality=85)\n ts.append(time.perf_counter()-t)\nprint(statistics.median(ts[1:]))",
        RUNS + 1,
        s(&p("photo.jpg")),
        s(&p("pil.jpg"))
    );
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3 with Pillow");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pillow =
        Duration::from_secs_f64(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap());
    row(
        "image: decode + cover 1080² + JPEG q85 (4000×3000)",
        ours,
        pillow,
        "Pillow",
    );
    let vips = time(|| {
        run(Command::new("vipsthumbnail")
            .arg(p("photo.jpg"))
            .args(["-s", "1080x1080", "--smartcrop", "centre", "-o"])
            .arg(format!("{}[Q=85]", s(&p("vips.jpg")))));
    });
    row(
        "image: decode + cover 1080² + JPEG q85 (4000×3000)",
        ours,
        vips,
        "vipsthumbnail",
    );

    // Video: 10 s 1280×720 with sound → 720×1280 cover, x264 veryfast CRF 23, AAC 128k.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30:duration=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=10",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        &s(&p("clip.mp4")),
    ]);
    let vspec = VideoSpec {
        resize: Some(Resize {
            width: 720,
            height: 1280,
            fit: Fit::Cover,
            focal: None,
            background: None,
        }),
        ..VideoSpec::default()
    };
    let clip = av::probe(&p("clip.mp4"), &limits).unwrap();
    let ours = time(|| {
        av::video(
            &p("clip.mp4"),
            &p("ours.mp4"),
            Some(&clip),
            &vspec,
            &limits,
            &mut |_| {},
        )
        .unwrap()
    });
    let filter = av::scale_filter((1280, 720), vspec.resize.as_ref());
    let cli = time(|| {
        ffmpeg(&[
            "-i",
            &s(&p("clip.mp4")),
            "-map",
            "0:v:0",
            "-map",
            "0:a:0",
            "-vf",
            &filter,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-crf",
            "23",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
            &s(&p("cli.mp4")),
        ]);
    });
    row(
        "video: 10 s 720p → 9:16 cover, x264 veryfast",
        ours,
        cli,
        "ffmpeg CLI",
    );

    // Merge of two matching clips (stream copy).
    let clips = [p("clip.mp4"), p("clip.mp4")];
    let refs: Vec<&Path> = clips.iter().map(|c| c.as_path()).collect();
    let mspec = MergeSpec {
        clips: vec!["b".into()],
        resize: None,
    };
    let known = [Some(clip.clone()), Some(clip.clone())];
    let ours = time(|| {
        av::merge(
            &refs,
            &known,
            &p("merged.mp4"),
            &mspec,
            &limits,
            &mut |_| {},
        )
        .unwrap()
    });
    std::fs::write(
        p("list.txt"),
        format!("file '{0}'\nfile '{0}'\n", s(&p("clip.mp4"))),
    )
    .unwrap();
    let cli = time(|| {
        ffmpeg(&[
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            &s(&p("list.txt")),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            &s(&p("cli-merged.mp4")),
        ])
    });
    row(
        "video: merge 2 matching clips (stream copy)",
        ours,
        cli,
        "ffmpeg CLI",
    );

    // Audio: 60 s WAV → MP3 192k at −3 dB.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100:duration=60",
        &s(&p("tone.wav")),
    ]);
    let aspec = AudioSpec {
        format: AudioFormat::Mp3,
        volume_db: Some(-3.0),
        normalize: false,
        bitrate_kbps: Some(192),
        trim: None,
    };
    let tone = av::probe(&p("tone.wav"), &limits).unwrap();
    let ours = time(|| {
        av::audio(
            &p("tone.wav"),
            &p("ours.mp3"),
            Some(&tone),
            &aspec,
            &limits,
            &mut |_| {},
        )
        .unwrap()
    });
    let cli = time(|| {
        ffmpeg(&[
            "-i",
            &s(&p("tone.wav")),
            "-map",
            "0:a:0",
            "-vn",
            "-af",
            "volume=-3dB",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "192k",
            &s(&p("cli.mp3")),
        ])
    });
    row("audio: 60 s WAV → MP3 192k, −3 dB", ours, cli, "ffmpeg CLI");
}
