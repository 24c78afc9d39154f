//! Inbound webhooks: platforms call `/webhooks/{plugin}` (or `/webhooks/{plugin}/{app_id}`)
//! with verification handshakes and events. The raw request goes to the plugin's
//! `handle-webhook`, which verifies the signature over the unchanged body and parses it;
//! the host answers with the plugin's reply and takes in the events it returned.
//!
//! Which app's secrets the plugin verifies with: the app named in the path (a workspace's
//! own app or a server-wide one, of this plugin), else the server-wide app of the plugin
//! when the operator registered exactly one. Platforms configure one callback URL per
//! developer app, so a workspace that brings its own app gives the platform the URL with
//! its app id; events then reach that workspace's accounts only.
//!
//! Every event key is recorded per plugin, so a replayed or duplicated delivery changes
//! nothing. Comments and mentions go to the inbox of each active account with the
//! payload's account remote id; status changes move the matching post target. When the
//! plugin refuses the request (a forged signature), nothing is stored.

use crate::accounts::apps::settings_of;
use crate::app::App;
use crate::on_db;
use crate::publish::targets::{self, Change};
use crate::runtime::error::CallError;
use crate::runtime::state::CallContext;
use crate::store::accounts::AccountRow;
use crate::store::apps::{self as apps, AppRow, Owner};
use crate::store::inbox as store;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    WebhookEvent, WebhookReply, WebhookRequest,
};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest webhook body taken in; platforms send far less (Meta batches stay under 100 KB).
pub const MAX_BODY: usize = 1 << 20;
/// Deliveries accepted per plugin and minute on this node; more answer 429 (platforms
/// retry), so a flood cannot tie up plugin instances.
pub const PER_MINUTE: u32 = 1200;

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AppRequired(String),
    #[error("the plugin refused the webhook: {}", crate::accounts::plugin_error_text(.0))]
    Rejected(PluginError),
    #[error("too many webhook deliveries for `{0}`; try again in a minute")]
    TooMany(String),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What the platform sent, as received.
pub struct Delivery {
    pub method: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What to answer the platform with, and what was taken in.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Events new to the host.
    pub taken: usize,
    /// Replays and duplicates.
    pub ignored: usize,
}

/// Fixed one-minute windows per plugin.
fn admit(plugin: &str) -> bool {
    static WINDOWS: Mutex<Option<HashMap<String, (Instant, u32)>>> = Mutex::new(None);
    let mut guard = WINDOWS.lock().unwrap_or_else(|e| e.into_inner());
    let windows = guard.get_or_insert_with(HashMap::new);
    let now = Instant::now();
    let entry = windows.entry(plugin.to_string()).or_insert((now, 0));
    if now.duration_since(entry.0) >= Duration::from_secs(60) {
        *entry = (now, 0);
    }
    entry.1 += 1;
    entry.1 <= PER_MINUTE
}

/// The app whose secrets verify deliveries for `plugin` (see the module comment).
async fn app_for(
    app: &App,
    plugin: &str,
    app_id: Option<&str>,
) -> Result<Option<AppRow>, InboundError> {
    if let Some(id) = app_id {
        return match apps::get_any(&app.db, id).await? {
            Some(row) if row.plugin_id == plugin => Ok(Some(row)),
            _ => Err(InboundError::NotFound(format!(
                "no app `{id}` of plugin `{plugin}`"
            ))),
        };
    }
    let mut server = apps::list_for_plugin(&app.db, Owner::Server, plugin).await?;
    match server.len() {
        0 | 1 => Ok(server.pop()),
        n => Err(InboundError::AppRequired(format!(
            "the server has {n} apps for `{plugin}`; point the platform at /webhooks/{plugin}/{{app_id}}"
        ))),
    }
}

/// Active accounts of the plugin with this remote id, in the app's workspace when the app
/// belongs to one.
async fn accounts_for(
    app: &App,
    plugin: &str,
    remote_id: &str,
    workspace: Option<&str>,
) -> anyhow::Result<Vec<AccountRow>> {
    let sql = app.db.sql(
        "SELECT * FROM accounts WHERE plugin_id = ? AND remote_id = ? AND status = 'active' AND (? IS NULL OR workspace_id = ?)",
    );
    Ok(on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(plugin)
        .bind(remote_id)
        .bind(workspace)
        .bind(workspace)
        .fetch_all(p)
        .await?))
}

/// Hands the delivery to the plugin and takes in its events.
pub async fn receive(
    app: &Arc<App>,
    plugin: &str,
    app_id: Option<&str>,
    delivery: Delivery,
) -> Result<Answer, InboundError> {
    if app.runtime.registry.get(plugin).is_none() {
        return Err(InboundError::NotFound(format!(
            "plugin `{plugin}` is not installed"
        )));
    }
    if !admit(plugin) {
        return Err(InboundError::TooMany(plugin.to_string()));
    }
    let owner = app_for(app, plugin, app_id).await?;
    let app_secrets = match &owner {
        Some(row) => settings_of(app, row)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .0
            .into_iter()
            .collect(),
        None => HashMap::new(),
    };
    let ctx = CallContext {
        app_secrets,
        ..Default::default()
    };
    let reply = app
        .runtime
        .platform(plugin, "handle-webhook", ctx)
        .await?
        .handle_webhook(WebhookRequest {
            method: delivery.method,
            query: delivery.query,
            headers: delivery.headers,
            body: delivery.body,
        })
        .await?
        .map_err(InboundError::Rejected)?;
    let workspace = owner.as_ref().and_then(|a| a.workspace_id.as_deref());
    // A reply that refuses the request (bad signature, failed handshake) takes nothing in,
    // whatever events it lists.
    let (taken, ignored) = if (200..300).contains(&reply.status) {
        take_in(app, plugin, workspace, &reply).await?
    } else {
        (0, 0)
    };
    Ok(Answer {
        status: reply.status,
        headers: reply.headers,
        body: reply.body,
        taken,
        ignored,
    })
}

/// Records the events' keys and stores comments and mentions in one transaction; then
/// applies status changes (each a conditional transition of its own, harmless to repeat)
/// and auto-reply rules in the background.
async fn take_in(
    app: &Arc<App>,
    plugin: &str,
    workspace: Option<&str>,
    reply: &WebhookReply,
) -> anyhow::Result<(usize, usize)> {
    if reply.events.is_empty() {
        return Ok((0, 0));
    }
    let accounts = match &reply.account_remote_id {
        Some(remote) => accounts_for(app, plugin, remote, workspace).await?,
        None => Vec::new(),
    };
    let mut tx = app.db.write_tx(crate::inbox::NEW_ITEMS_LOCK).await?;
    let (mut taken, mut ignored) = (0, 0);
    let mut added = Vec::new();
    let mut changes = Vec::new();
    for (key, event) in &reply.events {
        if !store::claim_event(&app.db, &mut tx, plugin, key).await? {
            ignored += 1;
            continue;
        }
        taken += 1;
        let (kind, comment) = match event {
            WebhookEvent::Comment(c) => (crate::inbox::COMMENT, c),
            WebhookEvent::Mention(c) => (crate::inbox::MENTION, c),
            WebhookEvent::StatusChanged(s) => {
                changes.push(s.clone());
                continue;
            }
            WebhookEvent::Other(what) => {
                tracing::debug!(plugin, event = %what, "inbound event without an action");
                continue;
            }
        };
        if accounts.is_empty() {
            tracing::info!(plugin, key = %key, "inbound comment for no connected account");
        }
        for account in &accounts {
            let item =
                crate::inbox::new_item(account, kind, comment.clone(), crate::inbox::FROM_WEBHOOK);
            added.extend(crate::inbox::insert_logged(app, &mut tx, &item).await?);
        }
    }
    tx.commit().await?;
    let account_ids: Vec<String> = accounts.iter().map(|a| a.id.clone()).collect();
    let app = app.clone();
    tokio::spawn(async move {
        for change in changes {
            if let Err(e) = apply_status(&app, &account_ids, &change.remote_id, &change.state).await
            {
                tracing::warn!(error = %format!("{e:#}"), "applying an inbound status change");
            }
        }
        crate::inbox::after_received(&app, &added).await;
    });
    Ok((taken, ignored))
}

/// A platform's word on a post: targets of these accounts with that remote id (or pending
/// handle) that wait for it become published or failed.
async fn apply_status(
    app: &App,
    accounts: &[String],
    remote_id: &str,
    state: &str,
) -> anyhow::Result<()> {
    let sql = app
        .db
        .sql("SELECT id, account_id FROM post_targets WHERE remote_id = ? OR pending_handle = ?");
    let found: Vec<(String, String)> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(remote_id)
        .bind(remote_id)
        .fetch_all(p)
        .await?);
    for (id, account) in found {
        if !accounts.contains(&account) {
            continue;
        }
        let Some(t) = targets::load(app, &id).await? else {
            continue;
        };
        let message = format!("the platform reported the post {state}");
        let (to, change) = match state {
            "published" => (
                "published",
                Change {
                    remote_id: Some(remote_id),
                    published: true,
                    ..Default::default()
                },
            ),
            "failed" | "error" | "rejected" => (
                "failed",
                Change {
                    error: Some(&message),
                    ..Default::default()
                },
            ),
            _ => continue,
        };
        targets::transition(app, &t, &["publishing", "pending"], to, change).await?;
    }
    Ok(())
}
