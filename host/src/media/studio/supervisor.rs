//! Runs one studio operation in a worker process (`plugboard media-worker <order>`) and
//! watches it: progress lines as they come, a wall-clock deadline, cancellation (local at
//! once, from another node within a second through the job's status). The worker leads
//! its own process group, so a kill also ends the `ffmpeg` it started.

use super::{Progress, cancelled_in_db};
use crate::app::App;
use mediakit::Failure;
use mediakit::worker::{Message, WorkOrder};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{Notify, Semaphore};

/// Limits of the worker processes, from the environment (operators tune them without a
/// config change; tests shorten the deadline).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `plugboard` binary that serves as worker.
    pub worker: PathBuf,
    pub timeout: Duration,
    pub memory_bytes: u64,
    pub cpu_secs: u64,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Settings {
    pub fn from_env() -> Settings {
        let timeout = env_u64("PLUGBOARD_MEDIA_TIMEOUT_SECS", 1800);
        Settings {
            worker: worker_binary(),
            timeout: Duration::from_secs(timeout),
            // x264 with its lookahead and threads reserves far more address space than it
            // touches; 3 GiB leaves room for that and still stops a runaway decode.
            memory_bytes: env_u64("PLUGBOARD_MEDIA_MEMORY_MB", 3072) << 20,
            cpu_secs: env_u64("PLUGBOARD_MEDIA_CPU_SECS", timeout * 2),
        }
    }
}

/// `PLUGBOARD_MEDIA_WORKER`, else this executable when it is `plugboard`, else a
/// `plugboard` next to it or one folder up (an embedding test binary in `target/*/deps`).
fn worker_binary() -> PathBuf {
    if let Ok(p) = std::env::var("PLUGBOARD_MEDIA_WORKER") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("plugboard"));
    if exe.file_stem().is_some_and(|s| s == "plugboard") {
        return exe;
    }
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    [dir.join("plugboard"), dir.join("../plugboard")]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("plugboard"))
}

/// Operations running at once on this node: each is CPU-bound, so one per core.
static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    )
});

/// Cancellation signals of the operations running on this node, by job id.
static RUNNING: LazyLock<Mutex<HashMap<String, Arc<Notify>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Stops the operation of `job_id` if it runs on this node.
pub fn cancel(job_id: &str) {
    if let Some(n) = RUNNING.lock().expect("running jobs").get(job_id) {
        n.notify_one();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Failed(Failure),
    #[error("the operation took longer than {0:?} and was stopped")]
    TimedOut(Duration),
    #[error("the operation was cancelled")]
    Cancelled,
    #[error("the worker process ended without an answer: {0}")]
    Crashed(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Kills the worker's whole process group.
fn kill_group(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) with a negative pid signals the group the worker leads.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
    }
}

/// Runs `order` for job `job_id`, reporting through `progress`.
pub async fn run(
    app: &App,
    settings: &Settings,
    job_id: &str,
    order: &WorkOrder,
    progress: &Progress,
) -> Result<(), RunError> {
    let _slot = SLOTS.acquire().await.map_err(anyhow::Error::from)?;
    let order_path = order.output.with_extension("order.json");
    tokio::fs::write(
        &order_path,
        serde_json::to_vec(order).map_err(anyhow::Error::from)?,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let cancel = Arc::new(Notify::new());
    RUNNING
        .lock()
        .expect("running jobs")
        .insert(job_id.to_string(), cancel.clone());
    let result = watch(app, settings, job_id, &order_path, progress, &cancel).await;
    RUNNING.lock().expect("running jobs").remove(job_id);
    result
}

async fn watch(
    app: &App,
    settings: &Settings,
    job_id: &str,
    order_path: &std::path::Path,
    progress: &Progress,
    cancel: &Notify,
) -> Result<(), RunError> {
    let mut child = tokio::process::Command::new(&settings.worker)
        .arg("media-worker")
        .arg(order_path)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "starting the media worker {}: {e}",
                settings.worker.display()
            )
        })?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut stderr = child.stderr.take().expect("piped stderr");
    let stderr_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = (&mut stderr).take(64 << 10).read_to_end(&mut buf).await;
        String::from_utf8_lossy(&buf).into_owned()
    });
    let deadline = tokio::time::sleep(settings.timeout);
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut answer: Option<Result<(), Failure>> = None;
    let stopped = loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => match serde_json::from_str::<Message>(&line) {
                    Ok(Message::Progress { percent }) => progress.report(app, percent).await,
                    Ok(Message::Done) => answer = Some(Ok(())),
                    Ok(Message::Failed(f)) => answer = Some(Err(f)),
                    Err(_) => tracing::debug!(job = %job_id, line, "unexpected worker output"),
                },
                _ => break None,
            },
            _ = &mut deadline => break Some(RunError::TimedOut(settings.timeout)),
            _ = cancel.notified() => break Some(RunError::Cancelled),
            _ = tick.tick() => {
                if cancelled_in_db(app, job_id).await {
                    break Some(RunError::Cancelled);
                }
            }
        }
    };
    if let Some(reason) = stopped {
        kill_group(&child);
        let _ = child.wait().await;
        return Err(reason);
    }
    let status = child.wait().await.map_err(anyhow::Error::from)?;
    let errors = stderr_task.await.unwrap_or_default();
    match answer {
        Some(Ok(())) if status.success() => Ok(()),
        Some(Err(f)) => Err(RunError::Failed(f)),
        _ => {
            use std::os::unix::process::ExitStatusExt;
            let how = match status.signal() {
                Some(libc::SIGXCPU) => "it used up its CPU time".to_string(),
                Some(libc::SIGKILL) => "it was killed (out of memory?)".to_string(),
                Some(sig) => format!("signal {sig}"),
                None => format!("exit code {}", status.code().unwrap_or(-1)),
            };
            let tail: String = errors
                .chars()
                .rev()
                .take(500)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(RunError::Crashed(format!("{how}; {}", tail.trim())))
        }
    }
}
