//! Durable jobs in the database: a queue with leases (a crashed worker's jobs are taken
//! over when its lease lapses), retries with exponential backoff and jitter that honour
//! Retry-After, dead jobs kept with their reason, and wake-ups on new work.

pub mod backoff;
pub mod queue;
pub mod worker;

pub use queue::{Job, NewJob};
pub use worker::{Handler, Outcome, Workers};

/// Wakes idle workers of this process when work is enqueued (other nodes are woken by
/// PostgreSQL notifications).
#[derive(Default)]
pub struct Waker {
    notify: tokio::sync::Notify,
}

impl Waker {
    pub fn wake(&self) {
        self.notify.notify_waiters();
    }

    pub async fn wait(&self, at_most: std::time::Duration) {
        let _ = tokio::time::timeout(at_most, self.notify.notified()).await;
    }
}

/// Milliseconds since the Unix epoch, the queue's time unit.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
