//! Server-sent events: post-target and account status changes of one workspace, as they
//! happen.

use super::caller::Member;
use crate::app::App;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(stream))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/events", tag = "events", summary = "Status changes as server-sent events",
    description = "Each event is `event: <kind>` with a JSON `data` (see the Event schema). A client that falls behind gets a `lagged` event with the number of events it missed, and should reload state.",
    params(("workspace_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = crate::events::Event), (status = 404, body = super::problem::Problem)))]
pub async fn stream(
    State(app): State<Arc<App>>,
    member: Member,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let mut rx = app.events.subscribe();
    let ws = member.workspace_id;
    let s = async_stream::stream! {
        loop {
            match rx.recv().await {
                Ok(e) if e.workspace_id == ws => {
                    let data = serde_json::to_string(&e).unwrap_or_default();
                    yield Ok(SseEvent::default().event(e.kind.clone()).data(data));
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    yield Ok(SseEvent::default().event("lagged").data(n.to_string()));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    };
    Sse::new(s).keep_alive(KeepAlive::default())
}
