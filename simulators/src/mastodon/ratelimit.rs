//! Mastodon's rack-attack throttles for authenticated API traffic.
//!
//! Windows are fixed and aligned to multiples of the period since the epoch,
//! as rack-attack's are, so every client of an account shares one reset time.
//! Requests past the limit still count. Unauthenticated traffic (throttled per
//! IP by Mastodon) is not limited here: every test client shares 127.0.0.1.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::auth::bearer;
use super::state::Sim;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Throttle {
    Api,
    Media,
}

#[derive(Debug, Default)]
pub(crate) struct Throttles(HashMap<(Throttle, String), Bucket>);

#[derive(Debug)]
struct Bucket {
    window: i64,
    count: u32,
}

/// Where one key stands in its current window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub limit: u32,
    pub count: u32,
    pub reset: DateTime<Utc>,
}

impl Window {
    pub fn exceeded(&self) -> bool {
        self.count > self.limit
    }

    pub fn apply(&self, headers: &mut HeaderMap) {
        let remaining = self.limit.saturating_sub(self.count);
        let reset = self.reset.to_rfc3339_opts(SecondsFormat::Micros, true);
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        if let Ok(reset) = HeaderValue::from_str(&reset) {
            headers.insert("x-ratelimit-reset", reset);
        }
    }
}

impl Throttles {
    /// Counts one request of `key` and reports the window it fell in.
    pub fn hit(&mut self, throttle: Throttle, key: &str, limit: u32, period_secs: u64) -> Window {
        let now = Utc::now().timestamp();
        let period = i64::try_from(period_secs.max(1)).unwrap_or(i64::MAX);
        let window = now / period;
        let bucket = self
            .0
            .entry((throttle, key.to_owned()))
            .or_insert(Bucket { window, count: 0 });
        if bucket.window != window {
            *bucket = Bucket { window, count: 0 };
        }
        bucket.count = bucket.count.saturating_add(1);
        let reset = window
            .checked_add(1)
            .and_then(|next| next.checked_mul(period))
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Window {
            limit,
            count: bucket.count,
            reset,
        }
    }
}

pub(crate) fn too_many_requests(window: &Window) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({ "error": "Too many requests" })),
    )
        .into_response();
    window.apply(response.headers_mut());
    response
}

/// Counts authenticated requests and stamps their responses with the API
/// window. Media uploads also count against the media throttle; only a 429
/// from that throttle reports the media window, as rack-attack reports the
/// throttle that matched.
pub(crate) async fn enforce(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let media_upload = request.method() == Method::POST
        && matches!(request.uri().path(), "/api/v1/media" | "/api/v2/media");
    let windows = {
        let mut state = sim.lock();
        let key = bearer(request.headers())
            .and_then(|value| state.tokens.get(value))
            .filter(|token| !token.revoked)
            .map(|token| {
                token
                    .account_id
                    .clone()
                    .unwrap_or_else(|| format!("app:{}", token.client_id))
            });
        key.map(|key| {
            let config = &sim.config;
            let api = state.throttles.hit(
                Throttle::Api,
                &key,
                config.api_rate_limit,
                config.api_rate_period_secs,
            );
            let media = media_upload.then(|| {
                state.throttles.hit(
                    Throttle::Media,
                    &key,
                    config.media_rate_limit,
                    config.media_rate_period_secs,
                )
            });
            (api, media)
        })
    };
    let Some((api, media)) = windows else {
        return next.run(request).await;
    };
    if api.exceeded() {
        return too_many_requests(&api);
    }
    if let Some(media) = media.filter(Window::exceeded) {
        return too_many_requests(&media);
    }
    let mut response = next.run(request).await;
    api.apply(response.headers_mut());
    response
}
