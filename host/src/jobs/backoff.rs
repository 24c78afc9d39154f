//! Retry delays: exponential with full jitter (so retries of many jobs spread out instead of
//! hammering a platform together), capped, and never earlier than a platform's Retry-After.

use rand::Rng;
use std::time::Duration;

const BASE: Duration = Duration::from_secs(2);
const CAP: Duration = Duration::from_secs(3600);

/// Delay before attempt `attempt + 1` (attempt counts from 1).
pub fn delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = BASE.saturating_mul(
        1u32.checked_shl(attempt.saturating_sub(1).min(20))
            .unwrap_or(u32::MAX),
    );
    let ceiling = exp.min(CAP);
    // Full jitter over the upper half keeps a floor so retries are never immediate.
    let jittered = ceiling.mul_f64(rand::rng().random_range(0.5..=1.0));
    match retry_after {
        // The platform said when: wait that long, plus a little jitter against a thundering herd.
        Some(after) => after + Duration::from_millis(rand::rng().random_range(0..=500)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_with_jitter_and_cap() {
        for attempt in 1..=30 {
            let d = delay(attempt, None);
            let ceiling = BASE.saturating_mul(1 << (attempt - 1).min(20)).min(CAP);
            assert!(d <= ceiling && d >= ceiling / 2, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_wins() {
        let d = delay(1, Some(Duration::from_secs(120)));
        assert!(d >= Duration::from_secs(120) && d <= Duration::from_millis(120_500));
    }
}
