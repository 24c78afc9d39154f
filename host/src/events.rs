//! Status events: post-target and account changes, fanned out to server-sent-event
//! streams of the frontend (and to outgoing webhooks).

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub workspace_id: String,
    /// `target.status` or `account.needs_reconnect`.
    pub kind: String,
    pub post_id: Option<String>,
    pub target_id: Option<String>,
    pub account_id: Option<String>,
    pub status: Option<String>,
    /// The reason shown to the user (the platform's words mapped to plain language).
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

impl Event {
    pub fn target(
        t: &crate::publish::targets::TargetRow,
        status: &str,
        message: Option<&str>,
    ) -> Event {
        Event {
            workspace_id: t.workspace_id.clone(),
            kind: "target.status".into(),
            post_id: Some(t.post_id.clone()),
            target_id: Some(t.id.clone()),
            account_id: Some(t.account_id.clone()),
            status: Some(status.into()),
            message: message.map(str::to_string),
            at: Utc::now(),
        }
    }

    pub fn needs_reconnect(workspace_id: &str, account_id: &str, message: &str) -> Event {
        Event {
            workspace_id: workspace_id.into(),
            kind: "account.needs_reconnect".into(),
            post_id: None,
            target_id: None,
            account_id: Some(account_id.into()),
            status: Some("needs_reconnect".into()),
            message: Some(message.into()),
            at: Utc::now(),
        }
    }
}

/// In-process fan-out. Slow subscribers lose the oldest events (and are told so) rather
/// than holding memory without bound.
pub struct Events {
    tx: tokio::sync::broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: tokio::sync::broadcast::channel(4096).0,
        }
    }
}

impl Events {
    pub fn emit(&self, event: Event) {
        // No subscriber is fine: events are also in the database state.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
