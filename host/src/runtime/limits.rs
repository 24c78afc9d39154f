//! Per-call limits. Each has a default, can be overridden per plugin by the operator, and
//! its breach is a typed error naming plugin, version and limit.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Limits {
    /// Guest CPU time per call. Epoch-based: counts wall time while guest code runs, not
    /// time spent waiting in host calls (those have their own timeouts).
    pub cpu_ms: u64,
    /// Whole call, host waits included: the only bound on a call stuck in I/O.
    pub wall_ms: u64,
    /// Linear memory per instance; growth beyond it traps.
    pub memory_bytes: u64,
    /// Open host resources (response streams) per call; keeps the table bounded.
    pub resources: u32,
    /// Outbound requests per call.
    pub http_requests: u32,
    /// Bytes of one HTTP response body read into the guest.
    pub http_response_bytes: u64,
    /// Default and maximum per-request timeout.
    pub http_timeout_ms: u64,
    /// Log lines per call; the rest are dropped and counted.
    pub log_lines: u32,
    /// Bytes of one log message kept.
    pub log_message_bytes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_ms: 2_000,
            wall_ms: 300_000,
            memory_bytes: 64 << 20,
            resources: 64,
            http_requests: 1_000,
            http_response_bytes: 16 << 20,
            http_timeout_ms: 60_000,
            log_lines: 200,
            log_message_bytes: 4_096,
        }
    }
}

impl Limits {
    pub fn wall(&self) -> Duration {
        Duration::from_millis(self.wall_ms)
    }

    pub fn with(mut self, o: &LimitOverrides) -> Limits {
        macro_rules! apply {
            ($($f:ident),*) => { $( if let Some(v) = o.$f { self.$f = v; } )* };
        }
        apply!(
            cpu_ms,
            wall_ms,
            memory_bytes,
            resources,
            http_requests,
            http_response_bytes,
            http_timeout_ms,
            log_lines,
            log_message_bytes
        );
        self
    }
}

/// Operator overrides of [`Limits`] for one plugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LimitOverrides {
    pub cpu_ms: Option<u64>,
    pub wall_ms: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub resources: Option<u32>,
    pub http_requests: Option<u32>,
    pub http_response_bytes: Option<u64>,
    pub http_timeout_ms: Option<u64>,
    pub log_lines: Option<u32>,
    pub log_message_bytes: Option<u32>,
    /// The operator's own numbers for the rate rules the plugin declares in `describe()`,
    /// by what they count (`{"requests": 3000}` for a Mastodon instance whose admin raised
    /// its API limit). Rules of other counts keep the plugin's numbers. Left out when unset,
    /// so grants without it read the same in an older server (a rolled-back binary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<std::collections::BTreeMap<String, u32>>,
}

impl LimitOverrides {
    /// The limit to apply to a rate rule counting `counts` that the plugin declared as
    /// `declared`.
    pub fn rate_limit(&self, counts: &str, declared: u32) -> u32 {
        self.rate_limits
            .as_ref()
            .and_then(|m| m.get(counts).copied())
            .unwrap_or(declared)
    }
}
