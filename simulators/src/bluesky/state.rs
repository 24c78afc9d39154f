//! Everything the simulated PDS knows, behind one lock (never held across an await).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::BlueskyConfig;
use super::faults::Fault;

pub(crate) struct Sim {
    pub config: BlueskyConfig,
    pub base_url: String,
    /// Signs the JWTs (HS256); the plugin never needs it, it only reads `exp`.
    pub jwt_key: [u8; 32],
    next_seq: AtomicU64,
    state: Mutex<State>,
}

impl Sim {
    pub fn new(config: BlueskyConfig, base_url: String) -> Self {
        Sim {
            state: Mutex::new(State::default()),
            config,
            base_url,
            jwt_key: rand::random(),
            next_seq: AtomicU64::new(1),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn reset(&self) {
        *self.lock() = State::default();
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// Refresh-JWT ids still usable (a refresh spends its token: rotation).
    pub live_refresh: HashMap<String, DateTime<Utc>>,
    /// Access JWTs issued so far, and those a fault declared expired.
    pub issued_access: Vec<String>,
    pub expired_access: std::collections::HashSet<String>,
    pub blobs: HashMap<String, Blob>,
    /// The repo's records, oldest first, deleted ones excluded.
    pub records: Vec<StoredRecord>,
    /// `(time, points)` of writes, for the hourly and daily budgets.
    pub writes: Vec<(DateTime<Utc>, u32)>,
    pub faults: Vec<Fault>,
    pub requests: Vec<RecordedRequest>,
    pub rev: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub mime: String,
    pub size: usize,
}

/// A record in the repo, as tests inspect it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub uri: String,
    pub cid: String,
    pub collection: String,
    pub rkey: String,
    pub value: serde_json::Value,
}

/// One request as the simulator received it (admin `/__sim/` excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub seq: u64,
    pub method: String,
    /// The XRPC method, e.g. `com.atproto.repo.createRecord`.
    pub nsid: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    /// JSON bodies as sent (passwords and tokens never travel in them except
    /// `createSession`'s password, which is redacted).
    pub json: Option<serde_json::Value>,
    pub body_bytes: usize,
    pub status: Option<u16>,
    pub fault: Option<super::faults::FaultAction>,
}

impl State {
    /// Points spent in the last `secs` seconds.
    pub fn points_since(&self, secs: i64) -> u32 {
        let since = Utc::now() - chrono::Duration::seconds(secs);
        self.writes
            .iter()
            .filter(|(t, _)| *t > since)
            .map(|(_, p)| p)
            .sum()
    }
}
