//! The `publish` job: one attempt to publish one target, exactly once or with a reason.

use super::autofit::Fitting;
use super::targets::{self, Change, TargetRow};
use crate::app::App;
use crate::events::Event;
use crate::jobs::queue::{self, NewJob, kinds};
use crate::jobs::{Handler, Job, Outcome, now_ms};
use crate::runtime::caps::media::CallMedia;
use crate::runtime::error::CallError;
use crate::runtime::state::CallContext;
use crate::store::activity::{self, Entry};
use crate::store::{accounts, posts};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    Post as WitPost, PublishOutcome, ReconcileOutcome,
};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use std::sync::Arc;
use std::time::Duration;

pub struct PublishHandler;

/// How often a target waiting for a fitted rendition looks again.
const FIT_RECHECK_MS: i64 = 2_000;

/// What one call of the plugin's `publish` came to.
enum Attempt {
    Outcome(PublishOutcome),
    Plugin(PluginError),
    /// Trap, timeout, crash: the request may or may not have reached the platform.
    Unknown(String),
}

fn problems_json(e: &PluginError) -> Option<serde_json::Value> {
    match e {
        PluginError::InvalidContent(p) => Some(serde_json::Value::Array(
            p.iter()
                .map(
                    |p| serde_json::json!({"field": p.field, "code": p.code, "message": p.message}),
                )
                .collect(),
        )),
        _ => None,
    }
}

/// The platform's refusal in words a creator understands.
pub fn explain(e: &PluginError) -> String {
    match e {
        PluginError::AuthExpired(m) => format!("The account's connection expired: {m}"),
        PluginError::RateLimited(r) => format!(
            "The platform's rate limit was reached; trying again in {} s ({})",
            r.retry_after_secs, r.message
        ),
        PluginError::InvalidContent(p) => {
            let list: Vec<String> = p.iter().map(|p| p.message.clone()).collect();
            format!("The platform refused the content: {}", list.join("; "))
        }
        PluginError::Transient(m) => format!("The platform had a temporary problem: {m}"),
        PluginError::Permanent(m) => format!("The platform refused the post: {m}"),
        PluginError::Unsupported(m) => format!("Not possible on this platform: {m}"),
    }
}

/// The platform no longer accepts the account's authorization and a refresh could not
/// renew it (Mastodon has no refresh at all, so `refresh` does not mark the account
/// itself): the account shows that it needs a reconnect, and streams hear it once.
pub(super) async fn mark_needs_reconnect(
    app: &App,
    account_id: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let mut tx = app.db.write_tx(&format!("account:{account_id}")).await?;
    let Some(mut account) = accounts::get_in(&app.db, &mut tx, account_id).await? else {
        return Ok(());
    };
    let newly = !account.needs_reconnect;
    account.needs_reconnect = true;
    account.last_error = Some(reason.to_string());
    account.updated_at = chrono::Utc::now();
    accounts::update(&app.db, &mut tx, &account).await?;
    if newly {
        activity::record_in(
            &app.db,
            &mut tx,
            Entry {
                workspace_id: &account.workspace_id,
                actor_id: None,
                action: "account.needs_reconnect",
                subject_type: "account",
                subject_id: Some(&account.id),
                details: serde_json::json!({"plugin": account.plugin_id, "error": reason}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    if newly {
        // Webhook endpoints already hear this through the paused target
        // (`webhooks::event_name`), so the account event goes to streams only.
        app.events.emit(Event::needs_reconnect(
            &account.workspace_id,
            &account.id,
            reason,
        ));
    }
    Ok(())
}

/// The target's post as its plugin receives it, with the call context (account
/// credentials and the media the post may use).
async fn prepared(
    app: &App,
    t: &TargetRow,
    attempt: u32,
) -> anyhow::Result<(WitPost, CallContext)> {
    let mut post = posts::get(&app.db, &t.workspace_id, &t.post_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the post was deleted"))?;
    // Finished renditions only: `attempt` waited for them, and `reconcile` must look for
    // what was sent.
    if let Fitting::Ready(swaps) =
        super::autofit::resolve(app, &t.workspace_id, &post, &t.plugin, false).await?
    {
        super::autofit::apply(&mut post, &t.plugin, &swaps);
    }
    let target = post
        .targets
        .iter()
        .find(|x| x.id == t.id)
        .ok_or_else(|| anyhow::anyhow!("the target was removed"))?;
    let (mut wit, media, thread_media) =
        crate::posts::check::wit_post(app, &t.workspace_id, &post, target).await?;
    wit.attempt = attempt;
    wit.scheduled_at = t.scheduled_at.map(|ms| (ms / 1000) as u64);
    let mut ctx = crate::accounts::call_context(app, &t.workspace_id, &t.account_id).await?;
    ctx.media = CallMedia::new(media.into_iter().chain(thread_media.into_iter().flatten()));
    Ok((wit, ctx))
}

async fn call_publish(app: &App, t: &TargetRow, attempt: u32) -> anyhow::Result<Attempt> {
    let (wit, ctx) = prepared(app, t, attempt).await?;
    // Not started (an error here): nothing reached the platform.
    let call = app.runtime.platform(&t.plugin, "publish", ctx).await?;
    Ok(match call.publish(wit).await {
        Ok(Ok(out)) => Attempt::Outcome(out),
        Ok(Err(e)) => Attempt::Plugin(e),
        Err(e @ (CallError::LimitExceeded { .. } | CallError::Crashed { .. })) => {
            Attempt::Unknown(e.to_string())
        }
        Err(e) => return Err(e.into()),
    })
}

/// Asks the plugin whether an attempt whose outcome is unknown did publish.
async fn reconcile(app: &App, t: &TargetRow) -> anyhow::Result<ReconcileOutcome> {
    let (wit, ctx) = prepared(app, t, (t.attempts.max(1)) as u32).await?;
    match app
        .runtime
        .platform(&t.plugin, "reconcile", ctx)
        .await?
        .reconcile(wit)
        .await?
    {
        Ok(r) => Ok(r),
        Err(e) => Ok(ReconcileOutcome::Unknown(explain(&e))),
    }
}

impl PublishHandler {
    /// After an attempt with an unknown outcome: published, safe to retry, or in doubt.
    async fn settle_unknown(&self, app: &App, t: &TargetRow, why: &str) -> Outcome {
        match reconcile(app, t).await {
            Ok(ReconcileOutcome::Published(p)) => {
                let _ = targets::transition(
                    app,
                    t,
                    &["publishing"],
                    "published",
                    Change {
                        remote_id: Some(&p.remote_id),
                        remote_url: p.url.as_deref(),
                        published: true,
                        ..Default::default()
                    },
                )
                .await;
                Outcome::Done(Some(
                    serde_json::json!({"remote_id": p.remote_id, "reconciled": true}),
                ))
            }
            Ok(ReconcileOutcome::NotPublished) => {
                let _ = targets::transition(
                    app,
                    t,
                    &["publishing"],
                    "queued",
                    Change {
                        error: Some(why),
                        ..Default::default()
                    },
                )
                .await;
                Outcome::Retry {
                    error: format!("{why} (the platform confirmed nothing was posted)"),
                    after: None,
                }
            }
            Ok(ReconcileOutcome::Unknown(reason)) => {
                self.in_doubt(
                    app,
                    t,
                    &format!("{why}; the platform cannot tell whether it was posted ({reason})"),
                )
                .await
            }
            Err(e) => {
                self.in_doubt(
                    app,
                    t,
                    &format!("{why}; checking with the platform failed: {e:#}"),
                )
                .await
            }
        }
    }

    async fn in_doubt(&self, app: &App, t: &TargetRow, why: &str) -> Outcome {
        let message = format!(
            "Could not confirm whether this was posted — check the account before posting again. {why}"
        );
        let _ = targets::transition(
            app,
            t,
            &["publishing"],
            "in_doubt",
            Change {
                error: Some(&message),
                ..Default::default()
            },
        )
        .await;
        Outcome::Fail(message)
    }

    /// The plugin call could not start (account, media or plugin missing): nothing was sent,
    /// so the target goes back to the queue.
    async fn not_started(
        &self,
        app: &App,
        t: &TargetRow,
        e: anyhow::Error,
    ) -> anyhow::Result<Outcome> {
        let error = format!("{e:#}");
        targets::transition(
            app,
            t,
            &["publishing"],
            "queued",
            Change {
                error: Some(&error),
                ..Default::default()
            },
        )
        .await?;
        Ok(Outcome::Retry { error, after: None })
    }

    async fn attempt(&self, app: &Arc<App>, t: &TargetRow) -> anyhow::Result<Outcome> {
        if let Some(defer) = super::limits::check(app, t).await? {
            targets::transition(
                app,
                t,
                &["scheduled", "queued"],
                "queued",
                Change {
                    deferred_reason: Some(&defer.reason),
                    ..Default::default()
                },
            )
            .await?;
            return Ok(Outcome::Defer {
                reason: defer.reason,
                at_ms: defer.at_ms,
            });
        }
        match super::autofit::for_target(app, t, true).await? {
            Fitting::Ready(_) => {}
            Fitting::Waiting(reason) => {
                targets::transition(
                    app,
                    t,
                    &["scheduled", "queued"],
                    "queued",
                    Change {
                        deferred_reason: Some(&reason),
                        ..Default::default()
                    },
                )
                .await?;
                return Ok(Outcome::Defer {
                    reason,
                    at_ms: now_ms() + FIT_RECHECK_MS,
                });
            }
            Fitting::Failed(reason) => {
                targets::transition(
                    app,
                    t,
                    &["scheduled", "queued"],
                    "failed",
                    Change {
                        error: Some(&reason),
                        ..Default::default()
                    },
                )
                .await?;
                return Ok(Outcome::Fail(reason));
            }
        }
        // Recorded before the call: a crash from here on leaves `publishing`, which the
        // next attempt reconciles instead of re-sending.
        if !targets::transition(
            app,
            t,
            &["scheduled", "queued"],
            "publishing",
            Change {
                count_attempt: true,
                ..Default::default()
            },
        )
        .await?
        {
            return Ok(Outcome::Done(Some(
                serde_json::json!({"skipped": "the target is no longer due"}),
            )));
        }
        let attempt = (t.attempts + 1) as u32;
        let mut result = match call_publish(app, t, attempt).await {
            Ok(r) => r,
            Err(e) => return self.not_started(app, t, e).await,
        };
        if let Attempt::Plugin(PluginError::AuthExpired(msg)) = &result {
            // One refresh, one retry; a failed refresh pauses the target for a reconnect.
            match crate::accounts::refresh(app, &t.account_id).await {
                Ok(_) => {
                    result = match call_publish(app, t, attempt).await {
                        Ok(r) => r,
                        Err(e) => return self.not_started(app, t, e).await,
                    }
                }
                Err(e) => {
                    let reason =
                        format!("The account needs to be reconnected: {msg} (refresh failed: {e})");
                    mark_needs_reconnect(app, &t.account_id, &reason).await?;
                    targets::transition(
                        app,
                        t,
                        &["publishing"],
                        "paused",
                        Change {
                            error: Some(&reason),
                            ..Default::default()
                        },
                    )
                    .await?;
                    return Ok(Outcome::Fail(reason));
                }
            }
        }
        Ok(match result {
            Attempt::Outcome(PublishOutcome::Published(p)) => {
                targets::transition(
                    app,
                    t,
                    &["publishing"],
                    "published",
                    Change {
                        remote_id: Some(&p.remote_id),
                        remote_url: p.url.as_deref(),
                        published: true,
                        ..Default::default()
                    },
                )
                .await?;
                Outcome::Done(Some(
                    serde_json::json!({"remote_id": p.remote_id, "url": p.url}),
                ))
            }
            Attempt::Outcome(PublishOutcome::Pending(p)) => {
                targets::transition(
                    app,
                    t,
                    &["publishing"],
                    "pending",
                    Change {
                        pending_handle: Some(&p.handle),
                        deferred_reason: Some(&p.message),
                        ..Default::default()
                    },
                )
                .await?;
                queue::enqueue(
                    &app.db,
                    NewJob {
                        workspace_id: Some(t.workspace_id.clone()),
                        subject_id: Some(t.id.clone()),
                        run_at: now_ms() + i64::from(p.poll_after_secs.max(1)) * 1000,
                        max_attempts: 500,
                        dedupe_key: Some(format!("check-status:{}", t.id)),
                        ..NewJob::now(kinds::CHECK_STATUS, serde_json::json!({}))
                    },
                )
                .await?;
                app.jobs_waker.wake();
                Outcome::Done(Some(serde_json::json!({"pending": p.message})))
            }
            Attempt::Plugin(PluginError::RateLimited(r)) => {
                let reason = explain(&PluginError::RateLimited(r.clone()));
                targets::transition(
                    app,
                    t,
                    &["publishing"],
                    "queued",
                    Change {
                        deferred_reason: Some(&reason),
                        ..Default::default()
                    },
                )
                .await?;
                Outcome::Defer {
                    reason,
                    at_ms: now_ms() + i64::from(r.retry_after_secs) * 1000,
                }
            }
            Attempt::Plugin(
                e @ (PluginError::InvalidContent(_)
                | PluginError::Permanent(_)
                | PluginError::Unsupported(_)
                | PluginError::AuthExpired(_)),
            ) => {
                let reason = explain(&e);
                targets::transition(
                    app,
                    t,
                    &["publishing"],
                    "failed",
                    Change {
                        error: Some(&reason),
                        problems: problems_json(&e).as_ref(),
                        ..Default::default()
                    },
                )
                .await?;
                Outcome::Fail(reason)
            }
            // A transient error may come after the request reached the platform.
            Attempt::Plugin(e @ PluginError::Transient(_)) => {
                self.settle_unknown(app, t, &explain(&e)).await
            }
            Attempt::Unknown(why) => self.settle_unknown(app, t, &why).await,
        })
    }
}

#[async_trait::async_trait]
impl Handler for PublishHandler {
    fn kind(&self) -> &'static str {
        kinds::PUBLISH
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        let Some(id) = job.subject_id.as_deref() else {
            return Outcome::Fail("publish job without a target".into());
        };
        let t = match targets::load(app, id).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Outcome::Done(Some(
                    serde_json::json!({"skipped": "the target no longer exists"}),
                ));
            }
            Err(e) => {
                return Outcome::Retry {
                    error: format!("{e:#}"),
                    after: Some(Duration::from_secs(5)),
                };
            }
        };
        let result = match t.status.as_str() {
            "scheduled" | "queued" => self.attempt(app, &t).await,
            // A previous attempt was interrupted mid-call (worker crash, lease lapsed).
            "publishing" => Ok(self
                .settle_unknown(app, &t, "the previous attempt was interrupted")
                .await),
            other => Ok(Outcome::Done(Some(
                serde_json::json!({"skipped": format!("the target is {other}")}),
            ))),
        };
        let outcome = result.unwrap_or_else(|e| {
            let error = format!("{e:#}");
            tracing::warn!(target_id = %t.id, error = %error, "publish attempt failed");
            Outcome::Retry { error, after: None }
        });
        match outcome {
            // The worker buries the job after this: the target must not keep waiting for a
            // job that will never run again.
            Outcome::Retry { error, .. } if job.attempts >= job.max_attempts => {
                self.give_up(app, &t, job.attempts, &error).await
            }
            other => other,
        }
    }
}

impl PublishHandler {
    /// The last attempt failed: the target fails with the reason, or is in doubt when it
    /// was left mid-call.
    async fn give_up(&self, app: &App, t: &TargetRow, attempts: i32, error: &str) -> Outcome {
        let reason = format!("Gave up after {attempts} attempts: {error}");
        let change = Change {
            error: Some(&reason),
            ..Default::default()
        };
        match targets::transition(app, t, &["scheduled", "queued"], "failed", change).await {
            Ok(true) => Outcome::Fail(reason),
            _ => self.in_doubt(app, t, &reason).await,
        }
    }
}
