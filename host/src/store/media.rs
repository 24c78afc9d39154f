//! The media library and its resumable upload sessions in the database. Every lookup names
//! the workspace, so one workspace never sees another's rows.

use super::Db;
use super::activity::{self, Entry};
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Utc};

/// The columns of [`MediaRow`], as a literal for `concat!`.
macro_rules! media_columns {
    () => {
        "id, workspace_id, object_key, filename, mime_type, kind, size, sha256, width, height, duration_ms, frame_rate, video_codec, audio_codec, has_audio, folder, tags, alt_text, probe, created_by, created_at"
    };
}

/// The columns of [`UploadRow`], as a literal for `concat!`.
macro_rules! upload_columns {
    () => {
        "id, workspace_id, media_id, filename, filetype, alt_text, folder, tags, upload_length, upload_offset, created_by, created_at, expires_at, completed_at"
    };
}

/// Binds every column of a [`MediaRow`], in `media_columns!()` order (the same code for
/// both dialects' query types).
macro_rules! bind_media {
    ($q:expr, $m:expr) => {
        $q.bind(&$m.id)
            .bind(&$m.workspace_id)
            .bind(&$m.object_key)
            .bind(&$m.filename)
            .bind(&$m.mime_type)
            .bind(&$m.kind)
            .bind($m.size)
            .bind(&$m.sha256)
            .bind($m.width)
            .bind($m.height)
            .bind($m.duration_ms)
            .bind($m.frame_rate)
            .bind(&$m.video_codec)
            .bind(&$m.audio_codec)
            .bind($m.has_audio)
            .bind(&$m.folder)
            .bind(&$m.tags)
            .bind(&$m.alt_text)
            .bind(&$m.probe)
            .bind(&$m.created_by)
            .bind($m.created_at)
    };
}

/// One stored media object.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MediaRow {
    pub id: String,
    pub workspace_id: String,
    pub object_key: String,
    pub filename: String,
    pub mime_type: String,
    /// `image`, `video` or `audio`.
    pub kind: String,
    pub size: i64,
    pub sha256: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
    pub frame_rate: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub has_audio: bool,
    pub folder: Option<String>,
    /// JSON array of strings.
    pub tags: String,
    pub alt_text: Option<String>,
    /// JSON summary of the probe.
    pub probe: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Option<MediaRow>> {
    let sql = db.sql(concat!(
        "SELECT ",
        media_columns!(),
        " FROM media WHERE workspace_id = ? AND id = ?"
    ));
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(p)
        .await?))
}

/// Filters of a library listing; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Case-insensitive substring of the filename or alt text.
    pub q: Option<String>,
    pub kind: Option<String>,
    pub folder: Option<String>,
    pub tag: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Continue after this (created_at, id), newest first.
    pub after: Option<(DateTime<Utc>, String)>,
}

/// `LIKE` pattern matching `text` literally anywhere (escape character `\`).
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// Newest first; at most `limit` rows.
pub async fn list(
    db: &Db,
    workspace_id: &str,
    f: &ListFilter,
    limit: i64,
) -> Result<Vec<MediaRow>> {
    // One static statement for every combination of filters: an absent filter binds NULL.
    let sql = db.sql(concat!(
        "SELECT ",
        media_columns!(),
        " FROM media WHERE workspace_id = ?",
        " AND (? IS NULL OR LOWER(filename) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(alt_text, '')) LIKE ? ESCAPE '\\')",
        " AND (? IS NULL OR kind = ?)",
        " AND (? IS NULL OR folder = ?)",
        " AND (? IS NULL OR tags LIKE ? ESCAPE '\\')",
        " AND (? IS NULL OR created_at >= ?)",
        " AND (? IS NULL OR created_at < ?)",
        " AND (? IS NULL OR created_at < ? OR (created_at = ? AND id < ?))",
        " ORDER BY created_at DESC, id DESC LIMIT ?"
    ));
    let q = f.q.as_ref().map(|q| contains_pattern(&q.to_lowercase()));
    // Tags are stored as a JSON array, so `"tag"` (quotes included) matches one element.
    let tag = f
        .tag
        .as_ref()
        .map(|t| contains_pattern(&serde_json::Value::from(t.as_str()).to_string()));
    let (after_time, after_id) = match &f.after {
        Some((t, id)) => (Some(*t), Some(id.clone())),
        None => (None, None),
    };
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(&q)
        .bind(&q)
        .bind(&q)
        .bind(&f.kind)
        .bind(&f.kind)
        .bind(&f.folder)
        .bind(&f.folder)
        .bind(&tag)
        .bind(&tag)
        .bind(f.created_after)
        .bind(f.created_after)
        .bind(f.created_before)
        .bind(f.created_before)
        .bind(after_time)
        .bind(after_time)
        .bind(after_time)
        .bind(&after_id)
        .bind(limit)
        .fetch_all(p)
        .await?))
}

/// The descriptive fields a member may change.
#[derive(Debug, Clone)]
pub struct Description {
    pub filename: String,
    pub alt_text: Option<String>,
    pub folder: Option<String>,
    /// JSON array of strings.
    pub tags: String,
}

/// Changes the descriptive fields; `change` sees the current row (read and written in one
/// transaction, so concurrent edits of different fields are not lost) and `record` the
/// changed one, for the activity log entry committed with it. None if no such media.
pub async fn update<'a>(
    db: &Db,
    workspace_id: &str,
    id: &str,
    change: impl FnOnce(&MediaRow) -> Description,
    record: impl FnOnce(&MediaRow) -> Entry<'a>,
) -> Result<Option<MediaRow>> {
    let select = db.sql(concat!(
        "SELECT ",
        media_columns!(),
        " FROM media WHERE workspace_id = ? AND id = ?"
    ));
    let update = db.sql(
        "UPDATE media SET filename = ?, alt_text = ?, folder = ?, tags = ? WHERE workspace_id = ? AND id = ?",
    );
    let mut tx = db.write_tx(&format!("media:{id}")).await?;
    let row: Option<MediaRow> = on_tx!(&mut tx, |c| sqlx::query_as(select)
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&mut **c)
        .await?);
    let Some(mut row) = row else {
        return Ok(None);
    };
    let d = change(&row);
    on_tx!(&mut tx, |c| sqlx::query(update)
        .bind(&d.filename)
        .bind(&d.alt_text)
        .bind(&d.folder)
        .bind(&d.tags)
        .bind(workspace_id)
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    row.filename = d.filename;
    row.alt_text = d.alt_text;
    row.folder = d.folder;
    row.tags = d.tags;
    activity::record_in(db, &mut tx, record(&row)).await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// Deletes the row, with the activity log entry `record` makes of it, and returns it (its
/// object is the caller's to delete).
pub async fn delete<'a>(
    db: &Db,
    workspace_id: &str,
    id: &str,
    record: impl FnOnce(&MediaRow) -> Entry<'a>,
) -> Result<Option<MediaRow>> {
    let select = db.sql(concat!(
        "SELECT ",
        media_columns!(),
        " FROM media WHERE workspace_id = ? AND id = ?"
    ));
    let delete = db.sql("DELETE FROM media WHERE workspace_id = ? AND id = ?");
    let mut tx = db.write_tx(&format!("media:{id}")).await?;
    let row: Option<MediaRow> = on_tx!(&mut tx, |c| sqlx::query_as(select)
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&mut **c)
        .await?);
    if let Some(row) = &row {
        on_tx!(&mut tx, |c| sqlx::query(delete)
            .bind(workspace_id)
            .bind(id)
            .execute(&mut **c)
            .await
            .map(|_| ())?);
        activity::record_in(db, &mut tx, record(row)).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// A tus upload session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub id: String,
    pub workspace_id: String,
    /// The media row (and object) the upload becomes.
    pub media_id: String,
    pub filename: String,
    /// The client's claim, kept for the record; the type is sniffed from the content.
    pub filetype: Option<String>,
    pub alt_text: Option<String>,
    pub folder: Option<String>,
    /// JSON array of strings.
    pub tags: String,
    pub upload_length: i64,
    pub upload_offset: i64,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub async fn insert_upload(db: &Db, u: &UploadRow) -> Result<()> {
    let sql = db.sql(concat!(
        "INSERT INTO uploads (",
        upload_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ));
    on_db!(db, |p| sqlx::query(sql)
        .bind(&u.id)
        .bind(&u.workspace_id)
        .bind(&u.media_id)
        .bind(&u.filename)
        .bind(&u.filetype)
        .bind(&u.alt_text)
        .bind(&u.folder)
        .bind(&u.tags)
        .bind(u.upload_length)
        .bind(u.upload_offset)
        .bind(&u.created_by)
        .bind(u.created_at)
        .bind(u.expires_at)
        .bind(u.completed_at)
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn get_upload(db: &Db, workspace_id: &str, id: &str) -> Result<Option<UploadRow>> {
    let sql = db.sql(concat!(
        "SELECT ",
        upload_columns!(),
        " FROM uploads WHERE workspace_id = ? AND id = ?"
    ));
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(p)
        .await?))
}

/// One stored PATCH body of an upload.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PartRow {
    pub start_offset: i64,
    pub size: i64,
    pub object_key: String,
}

/// Records a stored part and moves the offset past it, if the offset is still `start`
/// (false: another request got there first, or the upload is complete or gone).
pub async fn add_part(db: &Db, upload_id: &str, start: i64, size: i64, key: &str) -> Result<bool> {
    let advance = db.sql(
        "UPDATE uploads SET upload_offset = ? WHERE id = ? AND upload_offset = ? AND completed_at IS NULL",
    );
    let insert = db.sql(
        "INSERT INTO upload_parts (upload_id, start_offset, size, object_key) VALUES (?, ?, ?, ?)",
    );
    let mut tx = db.write_tx(&format!("upload:{upload_id}")).await?;
    let moved = on_tx!(&mut tx, |c| sqlx::query(advance)
        .bind(start + size)
        .bind(upload_id)
        .bind(start)
        .execute(&mut **c)
        .await?
        .rows_affected());
    if moved != 1 {
        return Ok(false);
    }
    on_tx!(&mut tx, |c| sqlx::query(insert)
        .bind(upload_id)
        .bind(start)
        .bind(size)
        .bind(key)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    tx.commit().await?;
    Ok(true)
}

/// The stored parts of an upload, in order.
pub async fn parts(db: &Db, upload_id: &str) -> Result<Vec<PartRow>> {
    let sql = db.sql(
        "SELECT start_offset, size, object_key FROM upload_parts WHERE upload_id = ? ORDER BY start_offset",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(upload_id)
        .fetch_all(p)
        .await?))
}

/// In one transaction: marks the upload complete, creates its media row, records `entry`
/// and forgets the parts. False if the upload was already completed (by a racing request)
/// or is gone.
pub async fn complete_upload(
    db: &Db,
    upload_id: &str,
    media: &MediaRow,
    entry: Entry<'_>,
) -> Result<bool> {
    let complete =
        db.sql("UPDATE uploads SET completed_at = ? WHERE id = ? AND completed_at IS NULL");
    let insert = db.sql(concat!(
        "INSERT INTO media (",
        media_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ));
    let forget = db.sql("DELETE FROM upload_parts WHERE upload_id = ?");
    let mut tx = db.write_tx(&format!("upload:{upload_id}")).await?;
    let done = on_tx!(&mut tx, |c| sqlx::query(complete)
        .bind(media.created_at)
        .bind(upload_id)
        .execute(&mut **c)
        .await?
        .rows_affected());
    if done != 1 {
        return Ok(false);
    }
    on_tx!(&mut tx, |c| bind_media!(sqlx::query(insert), media)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    on_tx!(&mut tx, |c| sqlx::query(forget)
        .bind(upload_id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    activity::record_in(db, &mut tx, entry).await?;
    tx.commit().await?;
    Ok(true)
}

/// Inserts a media row with its activity log entry.
pub async fn insert(db: &Db, media: &MediaRow, entry: Entry<'_>) -> Result<()> {
    let sql = db.sql(concat!(
        "INSERT INTO media (",
        media_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ));
    let mut tx = db.write_tx(&format!("media:{}", media.id)).await?;
    on_tx!(&mut tx, |c| bind_media!(sqlx::query(sql), media)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    activity::record_in(db, &mut tx, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes an upload session and returns the object keys of its parts (the caller's to
/// delete); None if there is no such session.
pub async fn delete_upload(db: &Db, workspace_id: &str, id: &str) -> Result<Option<Vec<String>>> {
    let keys = db.sql(
        "SELECT p.object_key FROM upload_parts p JOIN uploads u ON u.id = p.upload_id WHERE u.workspace_id = ? AND u.id = ?",
    );
    let delete = db.sql("DELETE FROM uploads WHERE workspace_id = ? AND id = ?");
    let mut tx = db.write_tx(&format!("upload:{id}")).await?;
    let keys: Vec<String> = on_tx!(&mut tx, |c| sqlx::query_scalar(keys)
        .bind(workspace_id)
        .bind(id)
        .fetch_all(&mut **c)
        .await?);
    let deleted = on_tx!(&mut tx, |c| sqlx::query(delete)
        .bind(workspace_id)
        .bind(id)
        .execute(&mut **c)
        .await?
        .rows_affected());
    tx.commit().await?;
    Ok((deleted == 1).then_some(keys))
}

/// Sessions past their expiry, as (workspace, upload) ids, oldest first.
pub async fn expired_uploads(
    db: &Db,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(String, String)>> {
    let sql = db.sql(
        "SELECT workspace_id, id FROM uploads WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(now)
        .bind(limit)
        .fetch_all(p)
        .await?))
}
