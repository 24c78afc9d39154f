//! Analytics: the `refresh-metrics` job asks an account's plugin for the account's metrics
//! and those of each post target it published in the last [`POST_WINDOW_DAYS`] days, and
//! stores them as time series. A sweep schedules it per account every [`EVERY`], spread
//! by jitter so accounts connected together do not all refresh at once; the API enqueues
//! it on demand.

pub mod series;

use crate::app::App;
use crate::jobs::queue::{self, NewJob, kinds};
use crate::jobs::{Handler, Job, Outcome, now_ms};
use crate::on_db;
use crate::store::inbox as runs;
use crate::store::metrics::{self as store, Sample};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::Feature;
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use std::sync::Arc;
use std::time::Duration;

/// How often each account's metrics are refreshed.
pub const EVERY: Duration = Duration::from_secs(60 * 60);
/// Scheduled refreshes start up to this much later than due.
pub const JITTER: Duration = Duration::from_secs(5 * 60);
/// Posts published longer ago than this are no longer refreshed.
pub const POST_WINDOW_DAYS: i64 = 30;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Queues a refresh of the account in `delay_ms`; None when one is already waiting.
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
            dedupe_key: Some(format!("refresh-metrics:{account_id}")),
            ..NewJob::now(kinds::REFRESH_METRICS, serde_json::json!({}))
        },
    )
    .await?;
    if id.is_some() {
        app.jobs_waker.wake();
    }
    Ok(id)
}

/// Whether the active version of `plugin` declares `feature`.
pub async fn has_feature(app: &App, plugin: &str, feature: Feature) -> bool {
    match app.runtime.describe_platform(plugin).await {
        Ok(info) => info.features.contains(&feature),
        Err(_) => false,
    }
}

/// Queues a refresh for every active account whose plugin reports metrics and whose last
/// refresh is older than [`EVERY`], each up to `jitter` later. Returns how many it queued.
pub async fn sweep(app: &App, jitter: Duration) -> anyhow::Result<usize> {
    let before = chrono::Utc::now() - chrono::Duration::from_std(EVERY)?;
    let mut queued = 0;
    for (account, workspace, plugin) in
        runs::due_accounts(&app.db, kinds::REFRESH_METRICS, before).await?
    {
        if !has_feature(app, &plugin, Feature::Metrics).await {
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
                tracing::warn!(error = %format!("{e:#}"), "metrics sweep failed");
            }
            drop(app);
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    })
}

/// How a job ends after the plugin refused: waits out rate limits, retries what may pass,
/// gives up on the rest.
pub(crate) fn outcome_of(e: &PluginError) -> Outcome {
    let text = crate::accounts::plugin_error_text(e);
    match e {
        PluginError::RateLimited(r) => Outcome::Defer {
            reason: text,
            at_ms: now_ms() + i64::from(r.retry_after_secs.max(1)) * 1000,
        },
        PluginError::Transient(_) => Outcome::Retry {
            error: text,
            after: None,
        },
        _ => Outcome::Fail(text),
    }
}

/// Why a refresh stopped.
enum Stop {
    Plugin(PluginError),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Stop {
        Stop::Other(e)
    }
}

async fn metrics_of(
    app: &App,
    workspace_id: &str,
    account_id: &str,
    plugin: &str,
    remote_id: Option<String>,
) -> Result<Vec<(String, f64)>, Stop> {
    let ctx = crate::accounts::call_context(app, workspace_id, account_id)
        .await
        .map_err(|e| Stop::Other(e.into()))?;
    let call = app
        .runtime
        .platform(plugin, "metrics", ctx)
        .await
        .map_err(|e| Stop::Other(e.into()))?;
    match call
        .metrics(remote_id)
        .await
        .map_err(|e| Stop::Other(e.into()))?
    {
        Ok(list) => Ok(list
            .into_iter()
            .filter(|m| m.value.is_finite())
            .map(|m| (m.name, m.value))
            .collect()),
        Err(e) => Err(Stop::Plugin(e)),
    }
}

/// Targets of the account published in the last `days` days, newest first: (target id,
/// remote id).
pub(crate) async fn recent_targets(
    app: &App,
    account_id: &str,
    days: i64,
) -> anyhow::Result<Vec<(String, String)>> {
    let since = now_ms() - days * 86_400_000;
    let sql = app.db.sql(
        "SELECT id, remote_id FROM post_targets WHERE account_id = ? AND status = 'published' AND remote_id IS NOT NULL AND published_at >= ? ORDER BY published_at DESC",
    );
    Ok(on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(account_id)
        .bind(since)
        .fetch_all(p)
        .await?))
}

/// One refresh of an account: every sample is stored together, or none.
async fn refresh(app: &App, account_id: &str) -> Result<usize, Stop> {
    let Some(account) = crate::store::accounts::get_any(&app.db, account_id).await? else {
        return Ok(0);
    };
    let (ws, plugin) = (&account.workspace_id, &account.plugin_id);
    let now = chrono::Utc::now();
    let sample = |target_id: Option<&String>, (name, value): (String, f64)| Sample {
        target_id: target_id.cloned(),
        name,
        value,
        captured_at: now,
    };
    let mut samples: Vec<Sample> = metrics_of(app, ws, account_id, plugin, None)
        .await?
        .into_iter()
        .map(|m| sample(None, m))
        .collect();
    for (target, remote) in recent_targets(app, account_id, POST_WINDOW_DAYS).await? {
        match metrics_of(app, ws, account_id, plugin, Some(remote)).await {
            Ok(list) => samples.extend(list.into_iter().map(|m| sample(Some(&target), m))),
            // A post deleted on the platform has no metrics any more; the others still do.
            Err(Stop::Plugin(PluginError::Permanent(m))) => {
                tracing::info!(target_id = %target, error = %m, "no metrics for a post");
            }
            Err(e) => return Err(e),
        }
    }
    let mut tx = app.db.write_tx(&format!("metrics:{account_id}")).await?;
    store::insert(&app.db, &mut tx, ws, account_id, &samples).await?;
    tx.commit().await?;
    Ok(samples.len())
}

pub struct RefreshMetricsHandler;

#[async_trait::async_trait]
impl Handler for RefreshMetricsHandler {
    fn kind(&self) -> &'static str {
        kinds::REFRESH_METRICS
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        let Some(account) = job.subject_id.as_deref() else {
            return Outcome::Fail("refresh-metrics job without an account".into());
        };
        // Counted as a run whatever happens, so a failing account waits for its next turn
        // instead of being queued again by every sweep.
        if let Err(e) = runs::mark_run(&app.db, account, kinds::REFRESH_METRICS).await {
            return Outcome::Retry {
                error: format!("{e:#}"),
                after: None,
            };
        }
        match refresh(app, account).await {
            Ok(n) => Outcome::Done(Some(serde_json::json!({ "samples": n }))),
            Err(Stop::Plugin(e)) => outcome_of(&e),
            Err(Stop::Other(e)) => Outcome::Retry {
                error: format!("{e:#}"),
                after: None,
            },
        }
    }
}
