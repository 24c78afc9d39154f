//! The worker process: one operation per process, so that a malformed or malicious file
//! can at worst kill the worker, never the server. The parent writes a [`WorkOrder`] file
//! and starts `plugboard media-worker <order>`; the worker caps its own address space and
//! CPU time (inherited by the `ffmpeg` it starts), runs the operation and reports on stdout,
//! one JSON [`Message`] per line: progress, then `done` or `failed`.

use crate::av::AvInfo;
use crate::spec::Operation;
use crate::{Failure, Limits, av, image_ops};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the parent asks of one worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkOrder {
    pub operation: Operation,
    /// The source first, then the operation's other inputs in order.
    pub inputs: Vec<PathBuf>,
    /// What is already known of each input (the library probed it on upload), in the
    /// order of `inputs`; an input without it is probed by the worker.
    #[serde(default)]
    pub known: Vec<Option<AvInfo>>,
    /// Where to write the result (its extension is [`output_extension`]).
    pub output: PathBuf,
    pub limits: Limits,
    /// RLIMIT_AS of the worker (bytes).
    pub memory_bytes: u64,
    /// RLIMIT_CPU of the worker (seconds).
    pub cpu_secs: u64,
}

/// One line of the worker's stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// 0–100, from the output's timestamps.
    Progress {
        percent: f64,
    },
    Done,
    Failed(Failure),
}

/// File extension of an operation's output.
pub fn output_extension(op: &Operation) -> &'static str {
    match op {
        Operation::Image(s) => s.format.extension(),
        Operation::Thumbnail(t) => t.format.extension(),
        Operation::Video(_) | Operation::Merge(_) | Operation::ReplaceAudio(_) => "mp4",
        Operation::Audio(a) => a.format.extension(),
    }
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct passed by reference.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Caps this process's address space and CPU seconds; children inherit both.
pub fn limit_self(memory_bytes: u64, cpu_secs: u64) -> std::io::Result<()> {
    set_limit(libc::RLIMIT_AS, memory_bytes)?;
    set_limit(libc::RLIMIT_CPU, cpu_secs)
}

/// Runs the order, reporting progress through `report`.
pub fn execute(order: &WorkOrder, report: &mut dyn FnMut(Message)) -> Result<(), Failure> {
    let input = |i: usize| -> Result<&Path, Failure> {
        order
            .inputs
            .get(i)
            .map(PathBuf::as_path)
            .ok_or_else(|| Failure::new("internal", format!("the order has no input {i}")))
    };
    let mut last = -1.0f64;
    let mut progress = |fraction: f64| {
        let percent = (fraction * 100.0).clamp(0.0, 100.0).floor();
        if percent > last {
            last = percent;
            report(Message::Progress { percent });
        }
    };
    let known = |i: usize| order.known.get(i).and_then(Option::as_ref);
    let out = order.output.as_path();
    let limits = &order.limits;
    match &order.operation {
        Operation::Image(spec) => image_ops::run(input(0)?, out, spec, limits).map(|_| ()),
        Operation::Thumbnail(spec) => {
            av::thumbnail(input(0)?, out, known(0), spec, limits).map(|_| ())
        }
        Operation::Video(spec) => av::video(input(0)?, out, known(0), spec, limits, &mut progress),
        Operation::Merge(spec) => {
            let inputs: Vec<&Path> = order.inputs.iter().map(PathBuf::as_path).collect();
            av::merge(&inputs, &order.known, out, spec, limits, &mut progress)
        }
        Operation::Audio(spec) => av::audio(input(0)?, out, known(0), spec, limits, &mut progress),
        Operation::ReplaceAudio(spec) => av::replace_audio(
            (input(0)?, input(1)?),
            [known(0), known(1)],
            out,
            spec,
            limits,
            &mut progress,
        ),
    }?;
    progress(1.0);
    Ok(())
}

/// The worker's main: reads the order at `order_path`, limits itself, runs, reports.
/// Returns the process exit code.
pub fn main(order_path: &Path) -> i32 {
    let mut stdout = std::io::stdout().lock();
    let mut send = |m: Message| {
        if let Ok(line) = serde_json::to_string(&m) {
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        }
    };
    let order: WorkOrder = match std::fs::read(order_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(o) => o,
        Err(e) => {
            send(Message::Failed(Failure::new(
                "internal",
                format!("reading the work order: {e}"),
            )));
            return 2;
        }
    };
    if let Err(e) = limit_self(order.memory_bytes, order.cpu_secs) {
        send(Message::Failed(Failure::new(
            "internal",
            format!("setting the worker's limits: {e}"),
        )));
        return 2;
    }
    match execute(&order, &mut send) {
        Ok(()) => {
            send(Message::Done);
            0
        }
        Err(f) => {
            send(Message::Failed(f));
            1
        }
    }
}
