//! The `check-status` job: polls a pending target (the platform is still processing) at the
//! platform's pace until it is published or fails.

use super::handler::{explain, mark_needs_reconnect};
use super::targets::{self, Change};
use crate::app::App;
use crate::jobs::queue::kinds;
use crate::jobs::{Handler, Job, Outcome, now_ms};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::PublishOutcome;
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use std::sync::Arc;

pub struct CheckStatusHandler;

impl CheckStatusHandler {
    async fn check(&self, app: &App, t: &targets::TargetRow) -> anyhow::Result<Outcome> {
        let handle = t.pending_handle.clone().unwrap_or_default();
        let ctx = crate::accounts::call_context(app, &t.workspace_id, &t.account_id).await?;
        let out = app
            .runtime
            .platform(&t.plugin, "check-status", ctx)
            .await?
            .check_status(handle)
            .await?;
        Ok(match out {
            Ok(PublishOutcome::Published(p)) => {
                targets::transition(
                    app,
                    t,
                    &["pending"],
                    "published",
                    Change {
                        remote_id: Some(&p.remote_id),
                        remote_url: p.url.as_deref(),
                        published: true,
                        ..Default::default()
                    },
                )
                .await?;
                Outcome::Done(Some(serde_json::json!({"remote_id": p.remote_id})))
            }
            Ok(PublishOutcome::Pending(p)) => {
                targets::transition(
                    app,
                    t,
                    &["pending"],
                    "pending",
                    Change {
                        pending_handle: Some(&p.handle),
                        deferred_reason: Some(&p.message),
                        ..Default::default()
                    },
                )
                .await?;
                Outcome::Defer {
                    reason: p.message,
                    at_ms: now_ms() + i64::from(p.poll_after_secs.max(1)) * 1000,
                }
            }
            Err(PluginError::RateLimited(r)) => Outcome::Defer {
                reason: r.message,
                at_ms: now_ms() + i64::from(r.retry_after_secs) * 1000,
            },
            Err(PluginError::AuthExpired(m)) => match crate::accounts::refresh(app, &t.account_id)
                .await
            {
                Ok(_) => Outcome::Retry {
                    error: m,
                    after: Some(std::time::Duration::from_secs(1)),
                },
                Err(e) => {
                    let reason =
                        format!("The account needs to be reconnected: {m} (refresh failed: {e})");
                    mark_needs_reconnect(app, &t.account_id, &reason).await?;
                    targets::transition(
                        app,
                        t,
                        &["pending"],
                        "paused",
                        Change {
                            error: Some(&reason),
                            pending_handle: t.pending_handle.as_deref(),
                            ..Default::default()
                        },
                    )
                    .await?;
                    Outcome::Fail(reason)
                }
            },
            Err(e @ PluginError::Transient(_)) => Outcome::Retry {
                error: explain(&e),
                after: None,
            },
            Err(e) => {
                let reason = explain(&e);
                targets::transition(
                    app,
                    t,
                    &["pending"],
                    "failed",
                    Change {
                        error: Some(&reason),
                        ..Default::default()
                    },
                )
                .await?;
                Outcome::Fail(reason)
            }
        })
    }
}

#[async_trait::async_trait]
impl Handler for CheckStatusHandler {
    fn kind(&self) -> &'static str {
        kinds::CHECK_STATUS
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        let Some(id) = job.subject_id.as_deref() else {
            return Outcome::Fail("check-status job without a target".into());
        };
        match targets::load(app, id).await {
            Ok(Some(t)) if t.status == "pending" => {
                self.check(app, &t)
                    .await
                    .unwrap_or_else(|e| Outcome::Retry {
                        error: format!("{e:#}"),
                        after: None,
                    })
            }
            Ok(_) => Outcome::Done(None),
            Err(e) => Outcome::Retry {
                error: format!("{e:#}"),
                after: None,
            },
        }
    }
}
