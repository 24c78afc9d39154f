//! The accept loop.
//!
//! `axum::serve` gives handlers no way to drop the connection they were
//! called on, and that is exactly what a publish whose outcome the client
//! never learns looks like on the wire. So each connection is served here
//! with a [`Connection`] handle in the request extensions that closes it.

use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Closes the connection a request arrived on, without a response.
#[derive(Clone)]
pub(crate) struct Connection(Arc<Notify>);

impl Connection {
    pub fn close(&self) {
        self.0.notify_one();
    }
}

/// Serves `router` until the task running this is aborted; the connections
/// die with it, since they live in its `JoinSet`.
pub(crate) async fn serve(listener: TcpListener, router: Router) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Usually descriptor exhaustion: back off instead of spinning.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let closer = Arc::new(Notify::new());
        let service = TowerToHyperService::new(
            router
                .clone()
                .layer(Extension(Connection(Arc::clone(&closer)))),
        );
        connections.spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                // Dropping the connection future closes the socket mid-request.
                () = closer.notified() => {}
            }
        });
    }
}
