//! Recurring-post series and the posts made for their occurrences.

use super::{Db, Tx};
use crate::on_db;
use anyhow::Result;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct SeriesRow {
    pub id: String,
    pub workspace_id: String,
    pub template_post_id: String,
    /// The rule in its normal form.
    pub rrule: String,
    /// DTSTART, `YYYY-MM-DDTHH:MM:SS` local to `timezone`.
    pub start_local: String,
    pub timezone: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
);

fn decode(r: Row) -> SeriesRow {
    SeriesRow {
        id: r.0,
        workspace_id: r.1,
        template_post_id: r.2,
        rrule: r.3,
        start_local: r.4,
        timezone: r.5,
        created_by: r.6,
        created_at: r.7,
    }
}

macro_rules! series_columns {
    () => {
        "id, workspace_id, template_post_id, rrule, start_local, timezone, created_by, created_at"
    };
}

pub async fn insert(db: &Db, tx: &mut Tx, s: &SeriesRow) -> Result<()> {
    let sql = db.sql(concat!(
        "INSERT INTO recurrences (",
        series_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ));
    crate::on_tx!(tx, |c| {
        sqlx::query(sql)
            .bind(&s.id)
            .bind(&s.workspace_id)
            .bind(&s.template_post_id)
            .bind(&s.rrule)
            .bind(&s.start_local)
            .bind(&s.timezone)
            .bind(&s.created_by)
            .bind(s.created_at)
            .execute(&mut **c)
            .await?;
    });
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<SeriesRow>> {
    let sql = db.sql(concat!(
        "SELECT ",
        series_columns!(),
        " FROM recurrences WHERE id = ?"
    ));
    let row: Option<Row> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await?);
    Ok(row.map(decode))
}

/// The series whose template is this post.
pub async fn for_template(db: &Db, workspace_id: &str, post_id: &str) -> Result<Option<SeriesRow>> {
    let sql = db.sql(concat!(
        "SELECT ",
        series_columns!(),
        " FROM recurrences WHERE workspace_id = ? AND template_post_id = ?"
    ));
    let row: Option<Row> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(post_id)
        .fetch_optional(p)
        .await?);
    Ok(row.map(decode))
}

/// Whether the series still exists (it was not stopped meanwhile).
pub async fn exists(db: &Db, tx: &mut Tx, id: &str) -> Result<bool> {
    let sql = db.sql("SELECT COUNT(*) FROM recurrences WHERE id = ?");
    let n: i64 = crate::on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut **c)
        .await?);
    Ok(n > 0)
}

/// The post made for the occurrence at `at_ms`, if any.
pub async fn occurrence_post(db: &Db, tx: &mut Tx, id: &str, at_ms: i64) -> Result<Option<String>> {
    let sql =
        db.sql("SELECT post_id FROM recurrence_occurrences WHERE recurrence_id = ? AND at_ms = ?");
    let post: Option<String> = crate::on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(id)
        .bind(at_ms)
        .fetch_optional(&mut **c)
        .await?);
    Ok(post)
}

pub async fn link(
    db: &Db,
    tx: &mut Tx,
    id: &str,
    at_ms: i64,
    post_id: &str,
    local: &str,
) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO recurrence_occurrences (recurrence_id, at_ms, post_id, local) VALUES (?, ?, ?, ?)",
    );
    crate::on_tx!(tx, |c| {
        sqlx::query(sql)
            .bind(id)
            .bind(at_ms)
            .bind(post_id)
            .bind(local)
            .execute(&mut **c)
            .await?;
    });
    Ok(())
}

/// The posts made so far: (instant in Unix ms, post id), earliest first.
pub async fn occurrences(db: &Db, id: &str) -> Result<Vec<(i64, String)>> {
    let sql = db.sql(
        "SELECT at_ms, post_id FROM recurrence_occurrences WHERE recurrence_id = ? ORDER BY at_ms",
    );
    let rows: Vec<(i64, String)> =
        on_db!(db, |p| sqlx::query_as(sql).bind(id).fetch_all(p).await?);
    Ok(rows)
}

/// Deletes the series (its occurrence links go with it; the posts stay). False if it was
/// already gone.
pub async fn delete(db: &Db, tx: &mut Tx, id: &str) -> Result<bool> {
    let sql = db.sql("DELETE FROM recurrences WHERE id = ?");
    let n: u64 = crate::on_tx!(tx, |c| sqlx::query(sql)
        .bind(id)
        .execute(&mut **c)
        .await?
        .rows_affected());
    Ok(n > 0)
}
