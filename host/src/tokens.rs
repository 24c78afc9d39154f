//! Token refresh ahead of expiry: a sweep enqueues one `refresh-token` job per account
//! whose credentials expire soon (the dedupe key keeps it to one), and the job refreshes
//! through the plugin.

use crate::app::App;
use crate::jobs::queue::{self, NewJob, kinds};
use crate::jobs::{Handler, Job, Outcome};
use crate::on_db;
use std::sync::Arc;
use std::time::Duration;

/// Refresh this long before expiry, so a post due at the expiry minute still finds a
/// valid token.
pub const AHEAD: Duration = Duration::from_secs(15 * 60);
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Enqueues refresh jobs for active accounts expiring within [`AHEAD`].
pub async fn sweep(app: &App) -> anyhow::Result<usize> {
    let horizon = chrono::Utc::now() + chrono::Duration::from_std(AHEAD)?;
    let sql = app.db.sql(
        "SELECT id, workspace_id FROM accounts WHERE status = 'active' AND needs_reconnect = ? AND expires_at IS NOT NULL AND expires_at < ?",
    );
    let due: Vec<(String, String)> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(false)
        .bind(horizon)
        .fetch_all(p)
        .await?);
    let mut queued = 0;
    for (account, workspace) in due {
        let id = queue::enqueue(
            &app.db,
            NewJob {
                workspace_id: Some(workspace),
                subject_id: Some(account.clone()),
                max_attempts: 5,
                dedupe_key: Some(format!("refresh:{account}")),
                ..NewJob::now(kinds::REFRESH_TOKEN, serde_json::json!({}))
            },
        )
        .await?;
        queued += usize::from(id.is_some());
    }
    if queued > 0 {
        app.jobs_waker.wake();
    }
    Ok(queued)
}

/// Runs [`sweep`] every minute until the app is dropped.
pub fn start_sweeper(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            let Some(app) = weak.upgrade() else { break };
            if let Err(e) = sweep(&app).await {
                tracing::warn!(error = %format!("{e:#}"), "token refresh sweep failed");
            }
            drop(app);
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    })
}

pub struct RefreshTokenHandler;

#[async_trait::async_trait]
impl Handler for RefreshTokenHandler {
    fn kind(&self) -> &'static str {
        kinds::REFRESH_TOKEN
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        let Some(account) = job.subject_id.as_deref() else {
            return Outcome::Fail("refresh job without an account".into());
        };
        match crate::accounts::refresh(app, account).await {
            Ok(_) => Outcome::Done(None),
            // The account is marked needs-reconnect by the refresh itself; retrying a
            // refused grant would only loop.
            Err(e) => Outcome::Fail(format!("{e}")),
        }
    }
}
