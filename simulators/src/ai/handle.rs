//! The running simulator a test (or `plugboard-sim`) holds.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::core::{Core, serve};
use super::faults::AiFault;
use super::record::AiRequest;

/// A running AI provider simulator. Dropping it stops the server.
pub struct AiSim {
    core: Arc<Core>,
    base_url: String,
    server: JoinHandle<()>,
}

impl AiSim {
    /// Binds `127.0.0.1:port` (0 picks a free port) and serves the router `build` makes
    /// for the bound base URL.
    pub(crate) async fn start(
        port: u16,
        core: Arc<Core>,
        build: impl FnOnce(String) -> Router,
    ) -> anyhow::Result<AiSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let base_url = format!("http://{address}");
        let server = tokio::spawn(serve(listener, build(base_url.clone())));
        Ok(AiSim {
            core,
            base_url,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every client request so far, in arrival order.
    pub fn requests(&self) -> Vec<AiRequest> {
        self.core.lock().requests.clone()
    }

    /// Queues `fault` behind those already queued.
    pub fn inject(&self, fault: AiFault) {
        self.core.lock().inject(fault);
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.core.lock().faults.clear();
    }

    /// Forgets recordings, faults, revoked keys and the quota window.
    pub fn reset(&self) {
        self.core.reset();
    }

    /// Pause before each streamed text delta, so tests can watch deltas arrive one by one.
    pub fn set_token_delay(&self, delay: Duration) {
        self.core.lock().token_delay = delay;
    }

    /// Withdraws an API key: later requests with it answer 401.
    pub fn revoke_key(&self, key: &str) {
        self.core.lock().revoked_keys.insert(key.to_owned());
    }

    /// Stops serving.
    pub async fn shutdown(mut self) {
        self.server.abort();
        // The only possible error is the cancellation just asked for.
        let _ = (&mut self.server).await;
    }
}

impl Drop for AiSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}
