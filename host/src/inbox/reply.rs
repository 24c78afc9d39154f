//! The `comment-reply` job: sends an approved reply through the account's plugin and
//! records the reply's remote id on the inbox item.

use crate::analytics::outcome_of;
use crate::app::App;
use crate::jobs::queue::{self, NewJob};
use crate::jobs::{Handler, Job, Outcome};
use crate::store::inbox::{self as store, Item, Reply};
use std::sync::Arc;

pub const KIND: &str = "comment-reply";

/// Queues the reply; None when one for this item is already queued or running.
pub async fn enqueue(app: &App, item: &Item, text: &str) -> anyhow::Result<Option<String>> {
    queue::enqueue(
        &app.db,
        NewJob {
            workspace_id: Some(item.workspace_id.clone()),
            subject_id: Some(item.id.clone()),
            max_attempts: 5,
            dedupe_key: Some(format!("{KIND}:{}", item.id)),
            ..NewJob::now(KIND, serde_json::json!({ "text": text }))
        },
    )
    .await
}

async fn record(
    app: &App,
    item: &Item,
    reply: Reply<'_>,
    action: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let mut tx = app.db.write_tx(&format!("inbox:{}", item.id)).await?;
    store::set_reply(&app.db, &mut tx, &item.id, &reply).await?;
    store::log(&app.db, &mut tx, &item.id, None, action, details).await?;
    tx.commit().await
}

/// One attempt: Ok(remote id), or how the job should end.
async fn send(app: &App, item: &Item, text: &str) -> Result<String, Outcome> {
    let retry = |e: anyhow::Error| Outcome::Retry {
        error: format!("{e:#}"),
        after: None,
    };
    let ctx = crate::accounts::call_context(app, &item.workspace_id, &item.account_id)
        .await
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let call = app
        .runtime
        .platform(&item.plugin_id, "reply-comment", ctx)
        .await
        .map_err(|e| retry(e.into()))?;
    match call
        .reply_comment(item.remote_id.clone(), text.to_string())
        .await
    {
        Ok(Ok(remote)) => Ok(remote),
        Ok(Err(e)) => Err(outcome_of(&e)),
        Err(e) => Err(retry(e.into())),
    }
}

pub struct CommentReplyHandler;

#[async_trait::async_trait]
impl Handler for CommentReplyHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        let (Some(ws), Some(id)) = (job.workspace_id.as_deref(), job.subject_id.as_deref()) else {
            return Outcome::Fail("comment-reply job without an inbox item".into());
        };
        let Some(text) = job.payload["text"].as_str() else {
            return Outcome::Fail("comment-reply job without text".into());
        };
        let item = match store::get(&app.db, ws, id).await {
            Ok(Some(item)) => item,
            Ok(None) => {
                return Outcome::Done(Some(serde_json::json!({"skipped": "the item is gone"})));
            }
            Err(e) => {
                return Outcome::Retry {
                    error: format!("{e:#}"),
                    after: None,
                };
            }
        };
        if item.reply_status.as_deref() == Some("sent") {
            return Outcome::Done(Some(serde_json::json!({"skipped": "already answered"})));
        }
        let outcome = match send(app, &item, text).await {
            Ok(remote) => {
                let reply = Reply {
                    status: "sent",
                    text: Some(text),
                    remote_id: Some(&remote),
                    error: None,
                };
                let details = serde_json::json!({ "remote_id": remote });
                return match record(app, &item, reply, "reply_sent", details).await {
                    Ok(()) => Outcome::Done(Some(serde_json::json!({ "remote_id": remote }))),
                    // Sent, but not recorded: a retry is answered from the platform's
                    // idempotency window instead of posting again (where it has one).
                    Err(e) => Outcome::Retry {
                        error: format!("{e:#}"),
                        after: None,
                    },
                };
            }
            Err(o) => o,
        };
        let final_error = match &outcome {
            Outcome::Fail(e) => Some(e.clone()),
            Outcome::Retry { error, .. } if job.attempts >= job.max_attempts => Some(error.clone()),
            _ => None,
        };
        if let Some(error) = final_error {
            let reply = Reply {
                status: "failed",
                text: None,
                remote_id: None,
                error: Some(&error),
            };
            let details = serde_json::json!({ "error": error });
            if let Err(e) = record(app, &item, reply, "reply_failed", details).await {
                tracing::warn!(item = %item.id, error = %format!("{e:#}"), "recording a failed reply");
            }
        }
        outcome
    }
}
