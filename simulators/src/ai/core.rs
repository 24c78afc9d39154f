//! The state every AI simulator shares (recordings, faults, keys, quota, pacing) and the
//! outermost layer of client traffic, which records each request and applies faults.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use tokio::net::TcpListener;

use super::ADMIN_PREFIX;
use super::faults::{AiFault, AiFaultAction};
use super::record::{AiPart, AiRequest, StreamRecord, record_headers};

/// Largest request body read (image edits carry whole images).
const BODY_LIMIT: usize = 64 << 20;

/// The provider's own error answers, for what the shared layer refuses.
pub(crate) trait Envelope: Send + Sync + 'static {
    fn rate_limited(&self, retry_after_secs: u64) -> Response;
    fn server_error(&self, status: StatusCode) -> Response;
}

/// Shared simulator state behind one lock (never held across an await).
pub(crate) struct Core {
    next_seq: AtomicU64,
    state: Mutex<CoreState>,
    envelope: Box<dyn Envelope>,
}

pub(crate) struct CoreState {
    pub requests: Vec<AiRequest>,
    pub faults: VecDeque<AiFault>,
    pub revoked_keys: HashSet<String>,
    /// Pause before each streamed text delta.
    pub token_delay: Duration,
    /// Requests allowed per minute (all keys together); `None`: unlimited.
    pub requests_per_minute: Option<u32>,
    window_start: Instant,
    window_count: u32,
}

impl Core {
    pub fn new(
        envelope: impl Envelope,
        token_delay: Duration,
        requests_per_minute: Option<u32>,
    ) -> Arc<Core> {
        Arc::new(Core {
            next_seq: AtomicU64::new(1),
            state: Mutex::new(CoreState {
                requests: Vec::new(),
                faults: VecDeque::new(),
                revoked_keys: HashSet::new(),
                token_delay,
                requests_per_minute,
                window_start: Instant::now(),
                window_count: 0,
            }),
            envelope: Box::new(envelope),
        })
    }

    /// A handler that panicked mid-update must not wedge later requests.
    pub fn lock(&self) -> MutexGuard<'_, CoreState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn is_revoked(&self, key: &str) -> bool {
        self.lock().revoked_keys.contains(key)
    }

    /// Updates the recording of request `seq`, if still kept.
    pub fn update(&self, seq: u64, change: impl FnOnce(&mut AiRequest)) {
        if let Some(r) = self.lock().requests.iter_mut().rev().find(|r| r.seq == seq) {
            change(r);
        }
    }

    pub fn update_stream(&self, seq: u64, change: impl FnOnce(&mut StreamRecord)) {
        self.update(seq, |r| {
            change(r.stream.get_or_insert_with(Default::default))
        });
    }

    /// Forgets recordings, faults, revocations and the quota window.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.requests.clear();
        state.faults.clear();
        state.revoked_keys.clear();
        state.window_count = 0;
        state.window_start = Instant::now();
    }
}

impl CoreState {
    pub fn inject(&mut self, fault: AiFault) {
        if fault.times > 0 {
            self.faults.push_back(fault);
        }
    }

    fn take_fault(&mut self, method: &axum::http::Method, path: &str) -> Option<AiFaultAction> {
        let position = self.faults.iter().position(|f| f.matches(method, path))?;
        let fault = &mut self.faults[position];
        fault.times -= 1;
        let action = fault.action.clone();
        if fault.times == 0 {
            self.faults.remove(position);
        }
        Some(action)
    }

    /// Counts a request against the per-minute quota; `Some(secs)` when over it.
    fn over_quota(&mut self) -> Option<u64> {
        let limit = self.requests_per_minute?;
        let elapsed = self.window_start.elapsed();
        if elapsed >= Duration::from_secs(60) {
            self.window_start = Instant::now();
            self.window_count = 0;
        }
        self.window_count += 1;
        (self.window_count > limit).then(|| {
            60u64
                .saturating_sub(self.window_start.elapsed().as_secs())
                .max(1)
        })
    }
}

/// What a handler learns about its request from the intercept layer.
#[derive(Clone)]
pub(crate) struct Call {
    pub seq: u64,
    pub core: Arc<Core>,
    /// Stream this many deltas, then the provider's mid-stream error.
    pub stream_error_after: Option<u32>,
}

pub(crate) async fn intercept(
    State(core): State<Arc<Core>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with(ADMIN_PREFIX) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return core.envelope.server_error(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let seq = core.next_seq.fetch_add(1, Ordering::Relaxed);
    let record = capture(seq, &parts, &body).await;
    let (fault, over_quota) = {
        let mut state = core.lock();
        let fault = state.take_fault(&parts.method, parts.uri.path());
        state.requests.push(AiRequest {
            fault: fault.clone(),
            ..record
        });
        (fault, state.over_quota())
    };
    if let Some(AiFaultAction::RevokeKey) = &fault
        && let Some(key) = presented_key(&parts.headers)
    {
        core.lock().revoked_keys.insert(key);
    }
    let response = if let Some(secs) = over_quota {
        core.envelope.rate_limited(secs)
    } else {
        match &fault {
            Some(AiFaultAction::RateLimited { retry_after_secs }) => {
                core.envelope.rate_limited(*retry_after_secs)
            }
            Some(AiFaultAction::ServerError { status }) => core.envelope.server_error(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ),
            other => {
                if let Some(AiFaultAction::Delay { ms }) = other {
                    tokio::time::sleep(Duration::from_millis(*ms)).await;
                }
                let stream_error_after = match other {
                    Some(AiFaultAction::StreamError { after_deltas }) => Some(*after_deltas),
                    _ => None,
                };
                parts.extensions.insert(Call {
                    seq,
                    core: Arc::clone(&core),
                    stream_error_after,
                });
                next.run(Request::from_parts(parts, Body::from(body))).await
            }
        }
    };
    let status = response.status().as_u16();
    core.update(seq, |r| r.status = Some(status));
    response
}

/// The key a request authenticates with, whichever header the provider uses.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<String> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    value("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| value("x-api-key"))
        .or_else(|| value("x-goog-api-key"))
        .map(str::to_owned)
}

async fn capture(seq: u64, parts: &axum::http::request::Parts, body: &Bytes) -> AiRequest {
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("application/json"))
        .then(|| serde_json::from_slice(body).ok())
        .flatten();
    let fields = match content_type.as_deref() {
        Some(ct) if ct.starts_with("multipart/form-data") => {
            multipart(ct, body.clone()).await.unwrap_or_default()
        }
        _ => Vec::new(),
    };
    AiRequest {
        seq,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: record_headers(&parts.headers),
        body: json,
        parts: fields
            .into_iter()
            .map(|f| AiPart {
                value: f
                    .file_name
                    .is_none()
                    .then(|| String::from_utf8_lossy(&f.data).into_owned()),
                size: f.data.len(),
                name: f.name,
                file_name: f.file_name,
                content_type: f.content_type,
            })
            .collect(),
        status: None,
        fault: None,
        stream: None,
    }
}

/// One field of a multipart body.
pub(crate) struct Field {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// The fields of a multipart/form-data body.
pub(crate) async fn multipart(content_type: &str, body: Bytes) -> Result<Vec<Field>, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut reader = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    while let Some(field) = reader.next_field().await.map_err(|e| e.to_string())? {
        fields.push(Field {
            name: field.name().unwrap_or_default().to_owned(),
            file_name: field.file_name().map(str::to_owned),
            content_type: field.content_type().map(ToString::to_string),
            data: field.bytes().await.map_err(|e| e.to_string())?,
        });
    }
    Ok(fields)
}

/// Serves `router` until the task running this is aborted.
pub(crate) async fn serve(listener: TcpListener, router: Router) {
    if let Err(error) = axum::serve(listener, router).await {
        tracing::warn!(%error, "AI simulator stopped");
    }
}
