//! A record of the HTTP requests each plugin sent, per account and per plugin, so the
//! publisher can respect `requests`-type rate rules from `describe()` (e.g. Mastodon's 300
//! requests per 5 minutes per account) by deferring work before the platform answers 429.
//!
//! Kept in memory per node: a request counted here is one this process sent. On several
//! nodes each node sees its own share, so a platform's own 429 (mapped to a deferral with
//! its reset time) remains the backstop.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The longest window a rule may have that is still tracked in full (one day).
const MAX_WINDOW_MS: i64 = 86_400_000;
/// Timestamps kept per key at most: a bound on memory whatever a plugin does.
const MAX_ENTRIES: usize = 100_000;

/// Whom a request is counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// All requests of the plugin.
    Plugin(String),
    /// Requests of the plugin made for one account (host account id).
    Account(String, String),
}

#[derive(Clone, Default)]
pub struct RequestLedger {
    sent: Arc<Mutex<HashMap<Scope, VecDeque<i64>>>>,
}

impl RequestLedger {
    /// Counts one request of `plugin`, for `account` when the call acts for one.
    pub fn record(&self, plugin: &str, account: Option<&str>, at_ms: i64) {
        let mut sent = self.sent.lock().expect("request ledger");
        let mut push = |scope: Scope| {
            let times = sent.entry(scope).or_default();
            prune(times, at_ms);
            if times.len() >= MAX_ENTRIES {
                times.pop_front();
            }
            times.push_back(at_ms);
        };
        push(Scope::Plugin(plugin.to_string()));
        if let Some(a) = account {
            push(Scope::Account(plugin.to_string(), a.to_string()));
        }
    }

    /// Requests counted against `scope` in the `window_ms` before `now_ms`, and the time of
    /// the oldest of them (when the count next drops).
    pub fn count(&self, scope: &Scope, window_ms: i64, now_ms: i64) -> (usize, Option<i64>) {
        let mut sent = self.sent.lock().expect("request ledger");
        let Some(times) = sent.get_mut(scope) else {
            return (0, None);
        };
        prune(times, now_ms);
        let since = now_ms - window_ms;
        let first = times.partition_point(|&t| t < since);
        (times.len() - first, times.get(first).copied())
    }
}

fn prune(times: &mut VecDeque<i64>, now_ms: i64) {
    while times.front().is_some_and(|&t| t < now_ms - MAX_WINDOW_MS) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_plugin_and_per_account_within_the_window() {
        let ledger = RequestLedger::default();
        ledger.record("x", Some("a1"), 1_000);
        ledger.record("x", Some("a2"), 2_000);
        ledger.record("x", None, 3_000);
        ledger.record("y", Some("a1"), 3_000);
        let plugin = Scope::Plugin("x".into());
        assert_eq!(ledger.count(&plugin, 10_000, 5_000), (3, Some(1_000)));
        assert_eq!(ledger.count(&plugin, 2_500, 5_000), (1, Some(3_000)));
        let a1 = Scope::Account("x".into(), "a1".into());
        assert_eq!(ledger.count(&a1, 10_000, 5_000), (1, Some(1_000)));
        assert_eq!(ledger.count(&a1, 1_000, 5_000), (0, None));
    }

    #[test]
    fn forgets_what_is_older_than_a_day() {
        let ledger = RequestLedger::default();
        ledger.record("x", None, 0);
        ledger.record("x", None, MAX_WINDOW_MS + 10);
        let plugin = Scope::Plugin("x".into());
        assert_eq!(
            ledger.count(&plugin, MAX_WINDOW_MS * 2, MAX_WINDOW_MS + 20),
            (1, Some(MAX_WINDOW_MS + 10))
        );
    }
}
