//! Several nodes on one PostgreSQL: new jobs and plugin changes are announced with
//! `NOTIFY`, so every node's workers wake at once and every node's registry follows an
//! install, upgrade, rollback or removal within moments. (SQLite is one node; nothing to
//! announce.)

use crate::app::App;
use crate::store::Db;
use std::sync::Arc;
use std::time::Duration;

const JOBS: &str = "plugboard_jobs";
const PLUGINS: &str = "plugboard_plugins";

/// Tells the other nodes that the plugin registry changed.
pub async fn announce_plugin_change(db: &Db, plugin: &str) -> anyhow::Result<()> {
    if let Db::Postgres(p) = db {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PLUGINS)
            .bind(plugin)
            .execute(p)
            .await?;
    }
    Ok(())
}

/// Listens for announcements until the app is dropped; reconnects after errors. A missed
/// notification costs at most one poll interval for jobs, and the periodic registry check
/// below catches plugin changes made while disconnected.
pub fn start(app: &Arc<App>) -> Option<tokio::task::JoinHandle<()>> {
    let Db::Postgres(pool) = &app.db else {
        return None;
    };
    let pool = pool.clone();
    let weak = Arc::downgrade(app);
    Some(tokio::spawn(async move {
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cluster listener cannot connect; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen_all([JOBS, PLUGINS]).await {
                tracing::warn!(error = %e, "cluster listener cannot subscribe; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            // Catch up on changes made while not listening.
            if let Some(app) = weak.upgrade()
                && let Err(e) = app.runtime.registry.restore().await
            {
                tracing::warn!(error = %format!("{e:#}"), "registry catch-up failed");
            }
            loop {
                let note =
                    match tokio::time::timeout(Duration::from_secs(30), listener.recv()).await {
                        Ok(Ok(n)) => Some(n),
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "cluster listener lost its connection");
                            break;
                        }
                        Err(_) => None,
                    };
                let Some(app) = weak.upgrade() else { return };
                match note {
                    Some(n) if n.channel() == JOBS => app.jobs_waker.wake(),
                    Some(n) => {
                        tracing::info!(
                            plugin = n.payload(),
                            "plugin change announced by another node"
                        );
                        if let Err(e) = app.runtime.registry.restore().await {
                            tracing::warn!(error = %format!("{e:#}"), "following a plugin change failed");
                        }
                    }
                    // Quiet for a while: a periodic check keeps nodes converged even if a
                    // notification was lost.
                    None => {
                        if let Err(e) = app.runtime.registry.restore().await {
                            tracing::warn!(error = %format!("{e:#}"), "registry check failed");
                        }
                    }
                }
            }
        }
    }))
}
