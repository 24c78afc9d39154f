//! Workers: claim due jobs, run their handler with a heartbeat renewing the lease, and
//! record the outcome. Concurrency is bounded; idle workers sleep until woken by new work,
//! the next due job, or a short poll.

use super::queue::{self, Job};
use super::{Waker, backoff, now_ms};
use crate::app::App;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How a job ended.
pub enum Outcome {
    Done(Option<serde_json::Value>),
    /// Try again later: after the platform's Retry-After if given, else with backoff.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Not the job's fault (a rate limit or quota): run again at `at_ms` without counting
    /// an attempt.
    Defer {
        reason: String,
        at_ms: i64,
    },
    /// Give up; the job is kept as dead with this reason.
    Fail(String),
}

#[async_trait::async_trait]
pub trait Handler: Send + Sync {
    fn kind(&self) -> &'static str;
    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome;
}

#[derive(Clone)]
pub struct WorkerOptions {
    pub concurrency: usize,
    pub lease: Duration,
    /// Longest sleep without checking for work (covers other nodes on SQLite, which has no
    /// notifications).
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 64,
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(500),
        }
    }
}

/// The running workers of this process; dropping it stops claiming new jobs.
pub struct Workers {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Workers {
    pub fn start(
        app: Arc<App>,
        waker: Arc<Waker>,
        handlers: Vec<Arc<dyn Handler>>,
        opts: WorkerOptions,
    ) -> Workers {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let owner = format!("{}-{}", hostname(), uuid::Uuid::now_v7());
        let handlers: Arc<HashMap<&'static str, Arc<dyn Handler>>> =
            Arc::new(handlers.into_iter().map(|h| (h.kind(), h)).collect());
        let task = tokio::spawn(run_loop(app, waker, handlers, opts, owner, stop_rx));
        Workers { stop, task }
    }

    /// Stops claiming and waits for the loop to end (jobs in flight finish on their own tasks
    /// or are taken over when their lease lapses).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into())
}

async fn run_loop(
    app: Arc<App>,
    waker: Arc<Waker>,
    handlers: Arc<HashMap<&'static str, Arc<dyn Handler>>>,
    opts: WorkerOptions,
    owner: String,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.concurrency));
    let lease_ms = opts.lease.as_millis() as i64;
    while !*stop.borrow() {
        let free = slots.available_permits();
        let claimed = if free > 0 {
            match queue::claim(&app.db, &owner, free as i64, lease_ms).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "claiming jobs failed");
                    tokio::time::sleep(opts.poll).await;
                    continue;
                }
            }
        } else {
            Vec::new()
        };
        let got = claimed.len();
        for job in claimed {
            let permit = slots
                .clone()
                .acquire_owned()
                .await
                .expect("the worker semaphore is never closed");
            let (app, handlers, owner, lease) =
                (app.clone(), handlers.clone(), owner.clone(), opts.lease);
            tokio::spawn(async move {
                execute(&app, &handlers, &owner, lease, job).await;
                drop(permit);
            });
        }
        if got == 0 || slots.available_permits() == 0 {
            // Sleep until new work, the next due job, or the poll interval.
            let wait = match queue::next_due(&app.db).await {
                Ok(Some(due)) => Duration::from_millis(
                    (due - now_ms()).clamp(0, opts.poll.as_millis() as i64) as u64,
                ),
                _ => opts.poll,
            };
            if slots.available_permits() == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            } else if !wait.is_zero() {
                waker.wait(wait).await;
            }
        }
    }
}

async fn execute(
    app: &Arc<App>,
    handlers: &HashMap<&'static str, Arc<dyn Handler>>,
    owner: &str,
    lease: Duration,
    job: Job,
) {
    let lease_ms = lease.as_millis() as i64;
    let Some(handler) = handlers.get(job.kind.as_str()).cloned() else {
        let _ = queue::kill(
            &app.db,
            &job.id,
            owner,
            &format!("no handler for job kind `{}`", job.kind),
        )
        .await;
        return;
    };
    // The heartbeat renews the lease while the handler runs; the job is someone else's
    // if it fails.
    let beat = {
        let (db, id, owner) = (app.db.clone(), job.id.clone(), owner.to_string());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match queue::heartbeat(&db, &id, &owner, lease_ms).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %id, "lost the lease of a running job");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(job = %id, error = %format!("{e:#}"), "heartbeat failed")
                    }
                }
            }
        })
    };
    let started = std::time::Instant::now();
    let outcome = handler.run(app, &job).await;
    beat.abort();
    let (label, result) = match outcome {
        Outcome::Done(result) => (
            "done",
            queue::complete(&app.db, &job.id, owner, result.as_ref()).await,
        ),
        Outcome::Defer { reason, at_ms } => (
            "deferred",
            queue::retry(&app.db, &job.id, owner, at_ms, &reason, true).await,
        ),
        Outcome::Retry { error, after } if job.attempts < job.max_attempts => {
            let delay = backoff::delay(job.attempts.max(1) as u32, after);
            (
                "retry",
                queue::retry(
                    &app.db,
                    &job.id,
                    owner,
                    now_ms() + delay.as_millis() as i64,
                    &error,
                    false,
                )
                .await,
            )
        }
        Outcome::Retry { error, .. } => (
            "dead",
            queue::kill(
                &app.db,
                &job.id,
                owner,
                &format!("gave up after {} attempts: {error}", job.attempts),
            )
            .await,
        ),
        Outcome::Fail(error) => ("dead", queue::kill(&app.db, &job.id, owner, &error).await),
    };
    metrics::counter!("plugboard_jobs_total", "kind" => job.kind.clone(), "outcome" => label)
        .increment(1);
    metrics::histogram!("plugboard_job_seconds", "kind" => job.kind.clone())
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(job = %job.id, "job finished after its lease was taken over; its outcome was not recorded")
        }
        Err(e) => {
            tracing::error!(job = %job.id, error = %format!("{e:#}"), "recording the job outcome failed")
        }
    }
}
