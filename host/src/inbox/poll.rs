//! The `poll-comments` job, for plugins that list comments (the `comments` feature): the
//! account's comments, or, where the platform lists them per post only, those of each post
//! published in the last [`POST_WINDOW_DAYS`] days, from where the last poll left off.
//! A sweep schedules it per account every [`EVERY`]; the API enqueues it on demand.

use super::{COMMENT, FROM_POLL};
use crate::analytics::{has_feature, outcome_of, recent_targets};
use crate::app::App;
use crate::jobs::queue::{self, NewJob};
use crate::jobs::{Handler, Job, Outcome, now_ms};
use crate::store::accounts::AccountRow;
use crate::store::inbox as store;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::Feature;
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use std::sync::Arc;
use std::time::Duration;

pub const KIND: &str = "poll-comments";
pub const EVERY: Duration = Duration::from_secs(5 * 60);
pub const JITTER: Duration = Duration::from_secs(60);
pub const POST_WINDOW_DAYS: i64 = 14;
/// Pages read per post and poll; the rest waits for the next poll.
const MAX_PAGES: usize = 10;
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The cursor key of the account-wide listing.
const ACCOUNT_WIDE: &str = "";

/// Queues a poll of the account in `delay_ms`; None when one is already waiting.
pub async fn enqueue(
    app: &App,
    workspace_id: &str,
    account_id: &str,
    delay_ms: i64,
) -> anyhow::Result<Option<String>> {
    let id = queue::enqueue(
        &app.db,
        NewJob {
            workspace_id: Some(workspace_id.to_string()),
            subject_id: Some(account_id.to_string()),
            run_at: now_ms() + delay_ms,
            max_attempts: 5,
            dedupe_key: Some(format!("{KIND}:{account_id}")),
            ..NewJob::now(KIND, serde_json::json!({}))
        },
    )
    .await?;
    if id.is_some() {
        app.jobs_waker.wake();
    }
    Ok(id)
}

/// Queues a poll for every active account whose plugin lists comments and whose last poll
/// is older than [`EVERY`], each up to `jitter` later. Returns how many it queued.
pub async fn sweep(app: &App, jitter: Duration) -> anyhow::Result<usize> {
    let before = chrono::Utc::now() - chrono::Duration::from_std(EVERY)?;
    let mut queued = 0;
    for (account, workspace, plugin) in store::due_accounts(&app.db, KIND, before).await? {
        if !has_feature(app, &plugin, Feature::Comments).await {
            continue;
        }
        let delay = match jitter.as_millis() as i64 {
            0 => 0,
            max => rand::random_range(0..max),
        };
        queued += usize::from(enqueue(app, &workspace, &account, delay).await?.is_some());
    }
    Ok(queued)
}

/// Runs [`sweep`] every minute until the app is dropped.
pub fn start_sweeper(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            let Some(app) = weak.upgrade() else { break };
            if let Err(e) = sweep(&app, JITTER).await {
                tracing::warn!(error = %format!("{e:#}"), "comment poll sweep failed");
            }
            drop(app);
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    })
}

enum Stop {
    Plugin(PluginError),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Stop {
        Stop::Other(e)
    }
}

/// Reads new comments of one post (or the account) page by page; the items of each page
/// and the cursor after it are stored together. Returns the new item ids.
async fn poll(app: &App, account: &AccountRow, post: Option<&str>) -> Result<Vec<String>, Stop> {
    let key = post.unwrap_or(ACCOUNT_WIDE);
    let mut cursor = store::cursor(&app.db, &account.id, key).await?;
    let mut added = Vec::new();
    for _ in 0..MAX_PAGES {
        let ctx = crate::accounts::call_context(app, &account.workspace_id, &account.id)
            .await
            .map_err(|e| Stop::Other(e.into()))?;
        let call = app
            .runtime
            .platform(&account.plugin_id, "list-comments", ctx)
            .await
            .map_err(|e| Stop::Other(e.into()))?;
        let page = match call
            .list_comments(post.map(str::to_string), cursor.clone())
            .await
            .map_err(|e| Stop::Other(e.into()))?
        {
            Ok(page) => page,
            Err(e) => return Err(Stop::Plugin(e)),
        };
        let more = !page.comments.is_empty() && page.next_cursor.is_some();
        let items: Vec<_> = page
            .comments
            .into_iter()
            .map(|c| super::new_item(account, COMMENT, c, FROM_POLL))
            .collect();
        if page.next_cursor.is_some() {
            cursor = page.next_cursor;
        }
        let mut tx = app.db.write_tx(super::NEW_ITEMS_LOCK).await?;
        for item in &items {
            added.extend(super::insert_logged(app, &mut tx, item).await?);
        }
        store::set_cursor(&app.db, &mut tx, &account.id, key, cursor.as_deref()).await?;
        tx.commit().await?;
        if !more {
            break;
        }
    }
    Ok(added)
}

/// One poll of the account: account-wide where the plugin lists that way, else per post.
async fn poll_account(app: &App, account: &AccountRow) -> Result<Vec<String>, Stop> {
    match poll(app, account, None).await {
        Err(Stop::Plugin(PluginError::Unsupported(_))) => {}
        other => return other,
    }
    let mut added = Vec::new();
    for (target, remote) in recent_targets(app, &account.id, POST_WINDOW_DAYS).await? {
        match poll(app, account, Some(&remote)).await {
            Ok(ids) => added.extend(ids),
            // A post deleted on the platform has no comments to list; the others still do.
            Err(Stop::Plugin(PluginError::Permanent(m))) => {
                tracing::info!(target_id = %target, error = %m, "no comments for a post");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(added)
}

pub struct PollCommentsHandler;

#[async_trait::async_trait]
impl Handler for PollCommentsHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        let Some(account_id) = job.subject_id.as_deref() else {
            return Outcome::Fail("poll-comments job without an account".into());
        };
        // Counted whatever happens, so a failing account waits for its next turn.
        if let Err(e) = store::mark_run(&app.db, account_id, KIND).await {
            return Outcome::Retry {
                error: format!("{e:#}"),
                after: None,
            };
        }
        let account = match crate::store::accounts::get_any(&app.db, account_id).await {
            Ok(Some(a)) => a,
            Ok(None) => return Outcome::Done(Some(serde_json::json!({"skipped": "no account"}))),
            Err(e) => {
                return Outcome::Retry {
                    error: format!("{e:#}"),
                    after: None,
                };
            }
        };
        match poll_account(app, &account).await {
            Ok(added) => {
                super::after_received(app, &added).await;
                Outcome::Done(Some(serde_json::json!({ "new_comments": added.len() })))
            }
            Err(Stop::Plugin(e)) => outcome_of(&e),
            Err(Stop::Other(e)) => Outcome::Retry {
                error: format!("{e:#}"),
                after: None,
            },
        }
    }
}
