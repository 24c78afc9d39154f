//! Posts and their targets in the database.

use super::Db;
use crate::on_db;
use crate::posts::content::{Content, ThreadItem, Variant};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Target {
    pub id: String,
    pub account_id: String,
    pub plugin: String,
    /// draft, scheduled, queued, publishing, pending, published, failed, in_doubt
    pub status: String,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub last_error: Option<String>,
    /// Why a queued or pending target waits (a rate limit, a quota, media processing).
    pub deferred_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Post {
    pub id: String,
    pub workspace_id: String,
    pub created_by: Option<String>,
    #[serde(flatten)]
    pub content: Content,
    pub targets: Vec<Target>,
    /// Increases with every change; send it back in `If-Match` to update.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type PostRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn decode(row: PostRow, targets: Vec<Target>) -> Result<Post> {
    let (
        id,
        workspace_id,
        created_by,
        kind,
        text,
        media,
        options,
        thread,
        variants,
        auto_fit_media,
        version,
        created_at,
        updated_at,
    ) = row;
    Ok(Post {
        content: Content {
            kind,
            text,
            media: serde_json::from_str(&media).context("post media")?,
            options: serde_json::from_str::<BTreeMap<String, String>>(&options)
                .context("post options")?,
            thread: serde_json::from_str::<Vec<ThreadItem>>(&thread).context("post thread")?,
            variants: serde_json::from_str::<BTreeMap<String, Variant>>(&variants)
                .context("post variants")?,
            auto_fit_media,
        },
        id,
        workspace_id,
        created_by,
        targets,
        version,
        created_at,
        updated_at,
    })
}

macro_rules! post_columns {
    () => {
        "id, workspace_id, created_by, kind, text, media, options, thread, variants, auto_fit_media, version, created_at, updated_at"
    };
}

async fn targets_of(db: &Db, post_ids: &[String]) -> Result<Vec<(String, Target)>> {
    if post_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for pid in post_ids {
        let sql = db.sql(
            "SELECT post_id, id, account_id, plugin_id, status, remote_id, remote_url, last_error, deferred_reason, updated_at FROM post_targets WHERE post_id = ? ORDER BY created_at, id",
        );
        type Row = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            DateTime<Utc>,
        );
        let rows: Vec<Row> = on_db!(db, |p| sqlx::query_as(sql).bind(pid).fetch_all(p).await?);
        for (
            post_id,
            id,
            account_id,
            plugin,
            status,
            remote_id,
            remote_url,
            last_error,
            deferred_reason,
            updated_at,
        ) in rows
        {
            out.push((
                post_id,
                Target {
                    id,
                    account_id,
                    plugin,
                    status,
                    remote_id,
                    remote_url,
                    last_error,
                    deferred_reason,
                    updated_at,
                },
            ));
        }
    }
    Ok(out)
}

pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Option<Post>> {
    let sql = db.sql(concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts WHERE id = ? AND workspace_id = ?"
    ));
    let row: Option<PostRow> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(p)
        .await?);
    let Some(row) = row else { return Ok(None) };
    let targets = targets_of(db, &[id.to_string()])
        .await?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    Ok(Some(decode(row, targets)?))
}

/// A new target of a post.
pub struct NewTarget {
    pub account_id: String,
    pub plugin: String,
}

fn encode(content: &Content) -> Result<(String, String, String, String)> {
    Ok((
        serde_json::to_string(&content.media)?,
        serde_json::to_string(&content.options)?,
        serde_json::to_string(&content.thread)?,
        serde_json::to_string(&content.variants)?,
    ))
}

/// Creates a post with its targets in one transaction.
pub async fn create(
    db: &Db,
    workspace_id: &str,
    created_by: &str,
    content: &Content,
    targets: &[NewTarget],
) -> Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now();
    let (media, options, thread, variants) = encode(content)?;
    let mut tx = db.write_tx(workspace_id).await?;
    let sql = db.sql(concat!(
        "INSERT INTO posts (",
        post_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ));
    crate::on_tx!(&mut tx, |c| {
        sqlx::query(sql)
            .bind(&id)
            .bind(workspace_id)
            .bind(created_by)
            .bind(&content.kind)
            .bind(&content.text)
            .bind(&media)
            .bind(&options)
            .bind(&thread)
            .bind(&variants)
            .bind(content.auto_fit_media)
            .bind(1i64)
            .bind(now)
            .bind(now)
            .execute(&mut **c)
            .await?;
    });
    insert_targets(db, &mut tx, workspace_id, &id, targets).await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_targets(
    db: &Db,
    tx: &mut super::Tx,
    workspace_id: &str,
    post_id: &str,
    targets: &[NewTarget],
) -> Result<()> {
    let now = Utc::now();
    for t in targets {
        let sql = db.sql(
            "INSERT INTO post_targets (id, post_id, workspace_id, account_id, plugin_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'draft', ?, ?)",
        );
        let tid = uuid::Uuid::now_v7().to_string();
        crate::on_tx!(&mut *tx, |c| {
            sqlx::query(sql)
                .bind(&tid)
                .bind(post_id)
                .bind(workspace_id)
                .bind(&t.account_id)
                .bind(&t.plugin)
                .bind(now)
                .bind(now)
                .execute(&mut **c)
                .await?;
        });
    }
    Ok(())
}

/// Outcome of a conditional update.
pub enum Update {
    Done(i64),
    /// The post changed since the version the caller had.
    Stale(i64),
    NotFound,
}

/// Replaces content (and targets when given) if the post is still at `expected` version.
pub async fn update(
    db: &Db,
    workspace_id: &str,
    id: &str,
    expected: i64,
    content: &Content,
    targets: Option<&[NewTarget]>,
) -> Result<Update> {
    let (media, options, thread, variants) = encode(content)?;
    let mut tx = db.write_tx(workspace_id).await?;
    let current_sql = db.sql("SELECT version FROM posts WHERE id = ? AND workspace_id = ?");
    let current: Option<i64> = crate::on_tx!(&mut tx, |c| sqlx::query_scalar(current_sql)
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&mut **c)
        .await?);
    match current {
        None => return Ok(Update::NotFound),
        Some(v) if v != expected => return Ok(Update::Stale(v)),
        Some(_) => {}
    }
    let next = expected + 1;
    let sql = db.sql(
        "UPDATE posts SET kind = ?, text = ?, media = ?, options = ?, thread = ?, variants = ?, auto_fit_media = ?, version = ?, updated_at = ? WHERE id = ? AND workspace_id = ? AND version = ?",
    );
    crate::on_tx!(&mut tx, |c| {
        sqlx::query(sql)
            .bind(&content.kind)
            .bind(&content.text)
            .bind(&media)
            .bind(&options)
            .bind(&thread)
            .bind(&variants)
            .bind(content.auto_fit_media)
            .bind(next)
            .bind(Utc::now())
            .bind(id)
            .bind(workspace_id)
            .bind(expected)
            .execute(&mut **c)
            .await?;
    });
    if let Some(targets) = targets {
        let del = db.sql("DELETE FROM post_targets WHERE post_id = ? AND status = 'draft'");
        crate::on_tx!(&mut tx, |c| {
            sqlx::query(del).bind(id).execute(&mut **c).await?;
        });
        insert_targets(db, &mut tx, workspace_id, id, targets).await?;
    }
    tx.commit().await?;
    Ok(Update::Done(next))
}

pub async fn delete(db: &Db, workspace_id: &str, id: &str) -> Result<bool> {
    let sql = db.sql("DELETE FROM posts WHERE id = ? AND workspace_id = ?");
    let n: u64 = on_db!(db, |p| sqlx::query(sql)
        .bind(id)
        .bind(workspace_id)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// Filters of the post list.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub account_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Exclusive: posts with a smaller id (ids are time-ordered UUIDv7, newest first).
    pub before: Option<String>,
    pub limit: i64,
}

pub async fn list(db: &Db, workspace_id: &str, f: &Filter) -> Result<Vec<Post>> {
    // Absent filters bind values that match everything (empty text, the widest time range,
    // an id above every UUID), so one statement serves every combination on both dialects.
    let sql = db.sql(concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts p WHERE workspace_id = ? \
         AND (? = '' OR EXISTS (SELECT 1 FROM post_targets t WHERE t.post_id = p.id AND t.status = ?)) \
         AND (? = '' OR EXISTS (SELECT 1 FROM post_targets t WHERE t.post_id = p.id AND t.account_id = ?)) \
         AND p.created_at >= ? AND p.created_at < ? AND p.id < ? \
         ORDER BY p.id DESC LIMIT ?"
    ));
    let status = f.status.clone().unwrap_or_default();
    let account = f.account_id.clone().unwrap_or_default();
    let from = f.from.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let to = f.to.unwrap_or_else(far_future);
    let before = f.before.clone().unwrap_or_else(|| "~".into());
    let rows: Vec<PostRow> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(&status)
        .bind(&status)
        .bind(&account)
        .bind(&account)
        .bind(from)
        .bind(to)
        .bind(&before)
        .bind(f.limit)
        .fetch_all(p)
        .await?);
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut targets = targets_of(db, &ids).await?;
    let mut out = Vec::new();
    for row in rows {
        let mine: Vec<Target> = targets
            .iter()
            .filter(|(pid, _)| *pid == row.0)
            .map(|(_, t)| t.clone())
            .collect();
        targets.retain(|(pid, _)| *pid != row.0);
        out.push(decode(row, mine)?);
    }
    Ok(out)
}

/// Later than any real time, representable in both dialects' time types.
fn far_future() -> DateTime<Utc> {
    use chrono::TimeZone;
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .expect("a valid date")
}
