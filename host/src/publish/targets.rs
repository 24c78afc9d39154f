//! Post targets as the state machine sees them, and their conditional transitions.

use crate::app::App;
use crate::events::Event;
use crate::jobs::now_ms;
use crate::on_db;
use anyhow::Result;

#[derive(Debug, Clone)]
pub struct TargetRow {
    pub id: String,
    pub post_id: String,
    pub workspace_id: String,
    pub account_id: String,
    pub plugin: String,
    pub status: String,
    pub attempts: i32,
    pub pending_handle: Option<String>,
    pub scheduled_at: Option<i64>,
}

pub async fn load(app: &App, id: &str) -> Result<Option<TargetRow>> {
    let sql = app.db.sql(
        "SELECT id, post_id, workspace_id, account_id, plugin_id, status, attempts, pending_handle, scheduled_at FROM post_targets WHERE id = ?",
    );
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        i32,
        Option<String>,
        Option<i64>,
    );
    let row: Option<Row> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await?);
    Ok(row.map(|r| TargetRow {
        id: r.0,
        post_id: r.1,
        workspace_id: r.2,
        account_id: r.3,
        plugin: r.4,
        status: r.5,
        attempts: r.6,
        pending_handle: r.7,
        scheduled_at: r.8,
    }))
}

/// Fields a transition may set besides the status.
#[derive(Default)]
pub struct Change<'a> {
    pub remote_id: Option<&'a str>,
    pub remote_url: Option<&'a str>,
    pub error: Option<&'a str>,
    pub problems: Option<&'a serde_json::Value>,
    pub pending_handle: Option<&'a str>,
    pub deferred_reason: Option<&'a str>,
    pub count_attempt: bool,
    pub published: bool,
}

/// Moves a target to `to` if it is in one of `from`; false if it was not (someone else
/// moved it: cancelled, or another worker). Emits the status event.
pub async fn transition(
    app: &App,
    t: &TargetRow,
    from: &[&str],
    to: &str,
    c: Change<'_>,
) -> Result<bool> {
    // `from` is short and fixed by the caller; its values are bound, so the statement text
    // stays static.
    let sql = app.db.sql(
        "UPDATE post_targets SET status = ?, \
         remote_id = COALESCE(?, remote_id), remote_url = COALESCE(?, remote_url), \
         last_error = ?, problems = COALESCE(?, problems), pending_handle = ?, deferred_reason = ?, \
         attempts = attempts + ?, published_at = COALESCE(?, published_at), updated_at = ? \
         WHERE id = ? AND status IN (?, ?, ?, ?)",
    );
    let problems = c.problems.map(|p| p.to_string());
    let mut from4: Vec<&str> = from.to_vec();
    from4.resize(4, "");
    let n: u64 = on_db!(&app.db, |p| sqlx::query(sql)
        .bind(to)
        .bind(c.remote_id)
        .bind(c.remote_url)
        .bind(c.error)
        .bind(&problems)
        .bind(c.pending_handle)
        .bind(c.deferred_reason)
        .bind(i32::from(c.count_attempt))
        .bind(c.published.then(now_ms))
        .bind(chrono::Utc::now())
        .bind(&t.id)
        .bind(from4[0])
        .bind(from4[1])
        .bind(from4[2])
        .bind(from4[3])
        .execute(p)
        .await?
        .rows_affected());
    if n == 1 {
        let event = Event::target(t, to, c.error.or(c.deferred_reason));
        // Outgoing webhooks are durable jobs; a failure to queue them must not undo the
        // transition, so it is logged.
        if let Err(e) = crate::webhooks::dispatch(app, &event).await {
            tracing::warn!(target_id = %t.id, error = %format!("{e:#}"), "queueing webhook deliveries failed");
        }
        app.events.emit(event);
    }
    Ok(n == 1)
}
