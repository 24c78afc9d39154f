//! Running the HTTP server.

use crate::app::App;
use crate::jobs::worker::WorkerOptions;
use crate::jobs::{Handler, Workers};
use anyhow::{Context, Result};
use std::sync::Arc;

/// A running server (for `serve` and for tests that embed it).
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub app: Arc<App>,
    handle: tokio::task::JoinHandle<()>,
    shutdown: tokio::sync::watch::Sender<bool>,
    workers: Workers,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        // Long-lived streams (server-sent events) would hold a graceful shutdown forever.
        let abort = self.handle.abort_handle();
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.handle)
            .await
            .is_err()
        {
            abort.abort();
        }
        self.workers.stop().await;
        for task in self.background {
            task.abort();
        }
    }
}

/// The job handlers this server runs.
pub fn handlers() -> Vec<Arc<dyn Handler>> {
    vec![
        Arc::new(crate::publish::handler::PublishHandler),
        Arc::new(crate::publish::status::CheckStatusHandler),
        Arc::new(crate::tokens::RefreshTokenHandler),
        Arc::new(crate::webhooks::DeliveryHandler),
        Arc::new(crate::posts::recurrence::RecurrenceHandler),
        Arc::new(crate::analytics::RefreshMetricsHandler),
        Arc::new(crate::inbox::poll::PollCommentsHandler),
        Arc::new(crate::inbox::reply::CommentReplyHandler),
        Arc::new(crate::media::studio::handler::MediaHandler),
    ]
}

/// Binds and serves until `stop`, with this node's job workers, the token-refresh sweep
/// and (on PostgreSQL) the cluster listener. The backlog is raised above tokio's default 1,024 so
/// bursts of thousands of connections are not refused.
pub async fn start(app: Arc<App>) -> Result<Running> {
    let addr = app.config.listen;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("binding {addr}"))?;
    // No Nagle delay: a streamed event (AI deltas, job progress) is a small write that
    // would otherwise wait for the client's ACK of the response headers (~20 ms measured).
    use axum::serve::ListenerExt;
    let listener = socket.listen(8192)?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let router = crate::api::router(app.clone());
    let (shutdown, mut rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "server stopped with an error");
        }
    });
    if !app.db.is_postgres() {
        // SQLite is one node: jobs still leased are those of this server's previous run,
        // which died. Taking them over now rather than when the lease lapses also lets
        // reconcile look for their posts while they are still among the newest.
        let orphans = crate::jobs::queue::release_leases(&app.db).await?;
        if orphans > 0 {
            tracing::warn!(
                jobs = orphans,
                "taking over jobs interrupted by the previous run"
            );
        }
    }
    let workers = Workers::start(
        app.clone(),
        app.jobs_waker.clone(),
        handlers(),
        WorkerOptions {
            concurrency: app.config.job_concurrency as usize,
            lease: std::time::Duration::from_secs(app.config.job_lease_secs),
            ..WorkerOptions::default()
        },
    );
    let mut background = vec![
        crate::tokens::start_sweeper(&app),
        crate::publish::watchdog::start(&app),
        crate::analytics::start_sweeper(&app),
        crate::inbox::poll::start_sweeper(&app),
    ];
    background.extend(crate::cluster::start(&app));
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        app,
        handle,
        shutdown,
        workers,
        background,
    })
}
