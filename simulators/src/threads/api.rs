//! Every client request: recorded, faulted, then routed by path (Graph
//! accepts any `/vNN.N` prefix, and one path serves both containers and posts).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::error::GraphError;
use super::faults::FaultAction;
use super::params::{collect, token, unversioned};
use super::record::RecordedRequest;
use super::state::{Sim, State as Service, Token};
use super::{oauth, posts};

/// A parsed client request.
pub(crate) struct Call {
    pub method: Method,
    pub params: BTreeMap<String, String>,
    pub token: Option<String>,
}

impl Call {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, GraphError> {
        self.get(name)
            .ok_or_else(|| GraphError::param(format!("The parameter {name} is required")))
    }
}

pub(crate) async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let Some(params) = collect(uri.query(), &headers, &body) else {
        return GraphError::param("The request body could not be parsed").into_response();
    };
    let token = token(&headers, &params);
    let seq = sim.next_seq();
    let fault = {
        let mut state = sim.lock();
        let fault = state.take_fault(&method, &path);
        let mut record =
            RecordedRequest::new(seq, method.as_str(), &path, &params, token.is_some());
        record.fault = fault.clone();
        state.requests.push(record);
        fault
    };
    let call = Call {
        method: method.clone(),
        params,
        token,
    };
    let response = match fault {
        Some(FaultAction::RateLimited {
            code,
            regain_minutes,
        }) => throttled(&sim, code, regain_minutes),
        Some(FaultAction::ServerError { status, body }) => server_error(status, body),
        Some(FaultAction::ExpireSession) => {
            GraphError::expired(&Utc::now().format("%A, %d-%b-%y %H:%M:%S UTC").to_string())
                .into_response()
        }
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            route(&sim, &path, call).await
        }
        Some(FaultAction::RevokeToken) => {
            if let Some(value) = call.token.as_deref()
                && let Some(token) = sim.lock().tokens.get_mut(value)
            {
                token.revoked = true;
            }
            route(&sim, &path, call).await
        }
        None => route(&sim, &path, call).await,
    };
    let status = response.status().as_u16();
    if let Some(r) = sim.lock().requests.iter_mut().rev().find(|r| r.seq == seq) {
        r.status = Some(status);
    }
    tracing::info!(%method, %path, status, "threads request");
    response
}

async fn route(sim: &Arc<Sim>, path: &str, call: Call) -> Response {
    let segments: Vec<&str> = unversioned(path)
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let result = match (call.method.clone(), segments.as_slice()) {
        (Method::GET, ["oauth", "authorize"]) => return oauth::authorize(sim, &call),
        (Method::POST, ["oauth", "access_token"]) => oauth::exchange(sim, &call),
        (Method::GET, ["access_token"]) => oauth::long_lived(sim, &call),
        (Method::GET, ["refresh_access_token"]) => oauth::refresh(sim, &call),
        (Method::GET, ["me"]) => posts::me(sim, &call),
        (Method::POST, [user, "threads"]) => posts::create(sim, user, &call).await,
        (Method::GET, [user, "threads"]) => posts::list(sim, user, &call),
        (Method::POST, [user, "threads_publish"]) => posts::publish(sim, user, &call),
        (Method::GET, [user, "threads_publishing_limit"]) => posts::quota(sim, user, &call),
        (Method::GET, [id]) => posts::show(sim, id, &call),
        _ => Err(GraphError::new(
            100,
            format!("Unknown path components: /{}", segments.join("/")),
        )
        .subcode(2500)),
    };
    match result {
        Ok(value) => (StatusCode::OK, axum::Json(value)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The caller's token, checked: known, not revoked, not expired, with `scope`.
pub(crate) fn authorize(state: &Service, call: &Call, scope: &str) -> Result<Token, GraphError> {
    let value = call.token.as_deref().ok_or_else(GraphError::no_token)?;
    let token = state.tokens.get(value).ok_or_else(GraphError::bad_token)?;
    if token.revoked {
        return Err(GraphError::revoked());
    }
    if token.expires_at <= Utc::now() {
        return Err(GraphError::expired(
            &token
                .expires_at
                .format("%A, %d-%b-%y %H:%M:%S UTC")
                .to_string(),
        ));
    }
    if !token.scopes.iter().any(|s| s == scope) {
        return Err(GraphError::permission(scope));
    }
    Ok(token.clone())
}

fn throttled(sim: &Sim, code: u32, regain_minutes: u64) -> Response {
    let message = match code {
        4 => "Application request limit reached",
        17 => "User request limit reached",
        32 => "Page request limit reached",
        _ => "There have been too many calls for this account. Wait a bit and try again.",
    };
    let mut response = GraphError::new(code, message)
        .status(StatusCode::TOO_MANY_REQUESTS)
        .into_response();
    let usage = json!({
        sim.config.user_id.clone(): [{
            "type": "threads",
            "call_count": 100,
            "total_cputime": 40,
            "total_time": 60,
            "estimated_time_to_regain_access": regain_minutes,
        }]
    });
    let app_usage = json!({"call_count": 100, "total_cputime": 40, "total_time": 60});
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&usage.to_string()) {
        headers.insert("x-business-use-case-usage", v);
    }
    if let Ok(v) = HeaderValue::from_str(&app_usage.to_string()) {
        headers.insert("x-app-usage", v);
    }
    response
}

fn server_error(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let json = serde_json::from_str::<serde_json::Value>(&body).is_ok();
    let mut response = (status, body).into_response();
    let kind = if json {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(kind),
    );
    response
}
