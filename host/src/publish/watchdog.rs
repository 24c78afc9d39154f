//! Nothing stuck in a queue: a sweep finds targets that should have a live job but have
//! none (a crash between scheduling and enqueueing, a job killed by an operator, a lost
//! check-status job) and enqueues it again. Dedupe keys make this safe to repeat, and the
//! publish job itself reconciles a target left `publishing`.

use crate::app::App;
use crate::jobs::queue::{self, NewJob, kinds};
use crate::on_db;
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(30);

/// Re-enqueues the missing jobs; returns how many.
pub async fn sweep(app: &App) -> anyhow::Result<usize> {
    let sql = app.db.sql(
        "SELECT t.id, t.workspace_id, t.status, t.scheduled_at FROM post_targets t \
         WHERE t.status IN ('scheduled', 'queued', 'publishing', 'pending') \
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.subject_id = t.id AND j.status IN ('queued', 'running')) \
         LIMIT 1000",
    );
    let orphans: Vec<(String, String, String, Option<i64>)> =
        on_db!(&app.db, |p| sqlx::query_as(sql).fetch_all(p).await?);
    let mut fixed = 0;
    for (id, workspace, status, at) in orphans {
        let (kind, key) = if status == "pending" {
            (kinds::CHECK_STATUS, format!("check-status:{id}"))
        } else {
            (kinds::PUBLISH, format!("publish:{id}"))
        };
        let job = NewJob {
            workspace_id: Some(workspace),
            subject_id: Some(id.clone()),
            run_at: at
                .unwrap_or_else(crate::jobs::now_ms)
                .max(crate::jobs::now_ms()),
            max_attempts: if status == "pending" { 500 } else { 8 },
            dedupe_key: Some(key),
            ..NewJob::now(kind, serde_json::json!({"recovered": true}))
        };
        if queue::enqueue(&app.db, job).await?.is_some() {
            tracing::warn!(target_id = %id, status = %status, "re-enqueued a target that had no job");
            fixed += 1;
        }
    }
    if fixed > 0 {
        app.jobs_waker.wake();
    }
    Ok(fixed)
}

pub fn start(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            let Some(app) = weak.upgrade() else { break };
            if let Err(e) = sweep(&app).await {
                tracing::warn!(error = %format!("{e:#}"), "publish watchdog sweep failed");
            }
        }
    })
}
