//! Posts written inside the caller's transaction — imported rows, occurrences of recurring
//! posts — with their targets already scheduled (or left as drafts), so a batch is written
//! whole or not at all.

use super::{Db, Tx};
use crate::on_db;
use crate::posts::content::Content;
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// When a written post's targets publish.
pub struct Schedule<'a> {
    pub at: DateTime<Utc>,
    pub zone: &'a str,
    /// The local time as asked, `YYYY-MM-DDTHH:MM:SS`.
    pub local: &'a str,
}

/// A target to write, its id chosen by the caller.
pub struct BatchTarget {
    pub id: String,
    pub account_id: String,
    pub plugin: String,
}

/// One post to write, its id chosen by the caller.
pub struct BatchPost<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub created_by: Option<&'a str>,
    pub content: &'a Content,
    pub targets: &'a [BatchTarget],
    /// None: the targets stay drafts.
    pub schedule: Option<Schedule<'a>>,
}

pub async fn insert(db: &Db, tx: &mut Tx, post: &BatchPost<'_>) -> Result<()> {
    let now = Utc::now();
    let c = post.content;
    let sql = db.sql(
        "INSERT INTO posts (id, workspace_id, created_by, kind, text, media, options, thread, variants, version, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
    );
    let (media, options, thread, variants) = (
        serde_json::to_string(&c.media)?,
        serde_json::to_string(&c.options)?,
        serde_json::to_string(&c.thread)?,
        serde_json::to_string(&c.variants)?,
    );
    crate::on_tx!(&mut *tx, |conn| {
        sqlx::query(sql)
            .bind(post.id)
            .bind(post.workspace_id)
            .bind(post.created_by)
            .bind(&c.kind)
            .bind(&c.text)
            .bind(&media)
            .bind(&options)
            .bind(&thread)
            .bind(&variants)
            .bind(now)
            .bind(now)
            .execute(&mut **conn)
            .await?;
    });
    let status = if post.schedule.is_some() {
        "scheduled"
    } else {
        "draft"
    };
    let s = post.schedule.as_ref();
    for t in post.targets {
        let sql = db.sql(
            "INSERT INTO post_targets (id, post_id, workspace_id, account_id, plugin_id, status, scheduled_at, schedule_zone, schedule_local, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        crate::on_tx!(&mut *tx, |conn| {
            sqlx::query(sql)
                .bind(&t.id)
                .bind(post.id)
                .bind(post.workspace_id)
                .bind(&t.account_id)
                .bind(&t.plugin)
                .bind(status)
                .bind(s.map(|s| s.at.timestamp_millis()))
                .bind(s.map(|s| s.zone))
                .bind(s.map(|s| s.local))
                .bind(now)
                .bind(now)
                .execute(&mut **conn)
                .await?;
        });
    }
    Ok(())
}

/// Posts of the workspace with exactly this text and targets scheduled (not yet published)
/// at `at_ms`: each post id with the accounts scheduled then.
pub async fn scheduled_twins(
    db: &Db,
    workspace_id: &str,
    text: &str,
    at_ms: i64,
) -> Result<BTreeMap<String, Vec<String>>> {
    let sql = db.sql(
        "SELECT t.post_id, t.account_id FROM post_targets t JOIN posts p ON p.id = t.post_id \
         WHERE p.workspace_id = ? AND p.text = ? AND t.scheduled_at = ? AND t.status IN ('scheduled', 'queued')",
    );
    let rows: Vec<(String, String)> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(text)
        .bind(at_ms)
        .fetch_all(p)
        .await?);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (post, account) in rows {
        out.entry(post).or_default().push(account);
    }
    Ok(out)
}
