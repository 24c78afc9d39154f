//! Slows down password guessing: after [`MAX_FAILURES`] failed sign-ins for one email
//! within [`WINDOW`], further attempts for it are refused until the oldest failure leaves
//! the window. A refusal is a wait, not a lock-out, so nobody can lock a victim out for
//! longer than the window. Kept in memory per node: each node of a cluster allows its own
//! share of attempts.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Emails tracked at most; beyond it the ones whose failures all left the window go first.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    /// How long `key` must wait before it may try again, if it must.
    pub fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().expect("throttle");
        let times = failures.get_mut(key)?;
        prune(times, now);
        if times.len() < MAX_FAILURES {
            return None;
        }
        times
            .front()
            .map(|oldest| (*oldest + WINDOW).saturating_duration_since(now))
    }

    pub fn failed(&self, key: &str, now: Instant) {
        let mut failures = self.failures.lock().expect("throttle");
        if failures.len() >= MAX_KEYS && !failures.contains_key(key) {
            failures.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        let times = failures.entry(key.to_string()).or_default();
        prune(times, now);
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    /// A successful sign-in forgets the failures.
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("throttle").remove(key);
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_after_too_many_failures_until_the_oldest_leaves_the_window() {
        let t = Throttle::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(t.wait("a@example.com", start), None);
            t.failed("a@example.com", start + Duration::from_secs(i as u64));
        }
        let now = start + Duration::from_secs(60);
        assert_eq!(
            t.wait("a@example.com", now),
            Some(WINDOW - Duration::from_secs(60))
        );
        assert_eq!(t.wait("b@example.com", now), None, "other emails are free");
        assert_eq!(t.wait("a@example.com", start + WINDOW), None);
    }

    #[test]
    fn success_forgets_the_failures() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..MAX_FAILURES {
            t.failed("a@example.com", now);
        }
        assert!(t.wait("a@example.com", now).is_some());
        t.succeeded("a@example.com");
        assert_eq!(t.wait("a@example.com", now), None);
    }
}
