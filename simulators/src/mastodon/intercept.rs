//! The outermost layer of client traffic: records each request, then applies
//! the first queued fault that matches it.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::ADMIN_PREFIX;
use super::faults::FaultAction;
use super::ratelimit::{Window, too_many_requests};
use super::record::RecordedRequest;
use super::server::Connection;
use super::state::{Sim, State as Instance};

pub(crate) async fn intercept(
    State(sim): State<Arc<Sim>>,
    Extension(connection): Extension<Connection>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with(ADMIN_PREFIX) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // Failing to read means the body is over the limit (a client that went
    // away would not see any answer anyway).
    let body = axum::body::to_bytes(body, body_limit(&sim)).await.ok();
    let seq = sim.next_seq();
    let record = RecordedRequest::capture(seq, &parts, body.as_ref()).await;
    let fault = {
        let mut state = sim.lock();
        let fault = state.take_fault(&parts.method, parts.uri.path());
        state.requests.push(RecordedRequest {
            fault: fault.clone(),
            ..record
        });
        fault
    };
    let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
    let response = match body {
        None => payload_too_large(),
        Some(body) => {
            let request = Request::from_parts(parts, Body::from(body));
            apply(&sim, fault.as_ref(), request, next).await
        }
    };
    let status = response.status();
    if let Some(recorded) = sim.lock().requests.iter_mut().rev().find(|r| r.seq == seq) {
        recorded.status = Some(status.as_u16());
    }
    tracing::info!(%method, %path, status = status.as_u16(), fault = ?fault, "mastodon request");
    if let Some(FaultAction::DropAfterHandling { hang_ms }) = fault {
        match hang_ms {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => {
                connection.close();
                return std::future::pending().await;
            }
        }
    }
    response
}

async fn apply(sim: &Sim, fault: Option<&FaultAction>, request: Request, next: Next) -> Response {
    match fault {
        Some(FaultAction::RateLimited { reset_after_secs }) => {
            let limit = sim.config.api_rate_limit;
            let ahead = chrono::Duration::seconds(i64::try_from(*reset_after_secs).unwrap_or(0));
            too_many_requests(&Window {
                limit,
                count: limit.saturating_add(1),
                reset: Utc::now() + ahead,
            })
        }
        Some(FaultAction::ServerError { status, body }) => server_error(*status, body.clone()),
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            next.run(request).await
        }
        Some(FaultAction::RevokeToken { token }) => {
            revoke_token(&mut sim.lock(), token.as_deref(), &request);
            next.run(request).await
        }
        Some(FaultAction::RevokeAccountTokens { username }) => {
            revoke_account(&mut sim.lock(), username.as_deref(), &request);
            next.run(request).await
        }
        Some(FaultAction::DropAfterHandling { .. }) | None => next.run(request).await,
    }
}

fn revoke_token(state: &mut Instance, token: Option<&str>, request: &Request) {
    let target = token.or_else(|| super::auth::bearer(request.headers()));
    if let Some(token) = target.and_then(|value| state.tokens.get_mut(value)) {
        token.revoked = true;
    }
}

fn revoke_account(state: &mut Instance, username: Option<&str>, request: &Request) {
    let account_id = match username {
        Some(username) => state
            .accounts
            .iter()
            .find(|account| account.username == username)
            .map(|account| account.id.clone()),
        None => super::auth::bearer(request.headers())
            .and_then(|value| state.tokens.get(value))
            .and_then(|token| token.account_id.clone()),
    };
    if let Some(account_id) = account_id {
        state.revoke_account_tokens(&account_id);
    }
}

fn server_error(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The cap nginx puts in front of Mastodon (`client_max_body_size 99m`), with
/// room for the multipart framing around a file of exactly the largest size.
fn body_limit(sim: &Sim) -> usize {
    let largest = sim.config.image_size_limit.max(sim.config.video_size_limit);
    usize::try_from(largest)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20)
}

fn payload_too_large() -> Response {
    let mut response = (
        StatusCode::PAYLOAD_TOO_LARGE,
        "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n\
         <body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n\
         <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}
