//! The jobs table: enqueue, claim with a lease, heartbeat, finish. Every change to a claimed
//! job is conditional on the caller still holding its lease (fencing): a worker that lost
//! its lease to another cannot overwrite the other's result.

use super::now_ms;
use crate::on_db;
use crate::store::Db;
use anyhow::Result;
use serde::Serialize;

/// Job kinds the server runs.
pub mod kinds {
    pub const PUBLISH: &str = "publish";
    pub const CHECK_STATUS: &str = "check-status";
    pub const REFRESH_TOKEN: &str = "refresh-token";
    pub const REFRESH_METRICS: &str = "refresh-metrics";
    pub const MEDIA: &str = "media";
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub workspace_id: Option<String>,
    pub subject_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub status: String,
    /// Unix milliseconds.
    pub run_at: i64,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    pub progress: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
}

type JobRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    i32,
    i32,
    Option<String>,
    Option<f64>,
    Option<String>,
);

macro_rules! job_columns {
    () => {
        "id, kind, workspace_id, subject_id, payload, status, run_at, attempts, max_attempts, last_error, progress, result"
    };
}

fn decode(r: JobRow) -> Job {
    Job {
        id: r.0,
        kind: r.1,
        workspace_id: r.2,
        subject_id: r.3,
        payload: serde_json::from_str(&r.4).unwrap_or(serde_json::Value::Null),
        status: r.5,
        run_at: r.6,
        attempts: r.7,
        max_attempts: r.8,
        last_error: r.9,
        progress: r.10,
        result: r.11.and_then(|s| serde_json::from_str(&s).ok()),
    }
}

pub struct NewJob {
    pub kind: &'static str,
    pub workspace_id: Option<String>,
    pub subject_id: Option<String>,
    pub payload: serde_json::Value,
    /// Unix milliseconds; now if in the past.
    pub run_at: i64,
    pub max_attempts: i32,
    /// At most one queued or running job per key.
    pub dedupe_key: Option<String>,
}

impl NewJob {
    pub fn now(kind: &'static str, payload: serde_json::Value) -> NewJob {
        NewJob {
            kind,
            workspace_id: None,
            subject_id: None,
            payload,
            run_at: now_ms(),
            max_attempts: 8,
            dedupe_key: None,
        }
    }
}

/// Adds a job; returns its id, or None when a live job with the same dedupe key exists.
pub async fn enqueue(db: &Db, job: NewJob) -> Result<Option<String>> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let sql = db.sql(
        "INSERT INTO jobs (id, kind, workspace_id, subject_id, payload, status, run_at, attempts, max_attempts, dedupe_key, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, 'queued', ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    );
    let payload = job.payload.to_string();
    let n: u64 = on_db!(db, |p| sqlx::query(sql)
        .bind(&id)
        .bind(job.kind)
        .bind(&job.workspace_id)
        .bind(&job.subject_id)
        .bind(&payload)
        .bind(job.run_at)
        .bind(job.max_attempts)
        .bind(&job.dedupe_key)
        .bind(now)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
    if n == 0 {
        return Ok(None);
    }
    if let Db::Postgres(p) = db {
        // Other nodes' workers wake up at once instead of at their next poll.
        sqlx::query("SELECT pg_notify('plugboard_jobs', '')")
            .execute(p)
            .await?;
    }
    Ok(Some(id))
}

/// Claims up to `limit` due jobs (and jobs whose lease lapsed) for `owner`, leasing them
/// for `lease_ms`. One statement: atomic on SQLite, `SKIP LOCKED` on PostgreSQL so nodes
/// never block each other or take the same job.
pub async fn claim(db: &Db, owner: &str, limit: i64, lease_ms: i64) -> Result<Vec<Job>> {
    let now = now_ms();
    let rows: Vec<JobRow> = match db {
        Db::Sqlite(p) => {
            sqlx::query_as(concat!(
                "UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? \
                 WHERE id IN (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= ?) OR (status = 'running' AND lease_until < ?) \
                 ORDER BY run_at LIMIT ?) RETURNING ",
                job_columns!()
            ))
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await?
        }
        Db::Postgres(p) => {
            sqlx::query_as(concat!(
                "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
                 WHERE id IN (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND lease_until < $3) \
                 ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING ",
                job_columns!()
            ))
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await?
        }
    };
    Ok(rows.into_iter().map(decode).collect())
}

/// Ends every lease at once, so the jobs are claimed again now. Only for a node that
/// knows it is alone (SQLite): whatever is still leased belonged to a process that died.
pub async fn release_leases(db: &Db) -> Result<u64> {
    let sql = db.sql("UPDATE jobs SET lease_until = 0, updated_at = ? WHERE status = 'running'");
    Ok(on_db!(db, |p| sqlx::query(sql)
        .bind(now_ms())
        .execute(p)
        .await?
        .rows_affected()))
}

/// Extends the lease; false when the lease was lost (another worker owns the job now).
pub async fn heartbeat(db: &Db, id: &str, owner: &str, lease_ms: i64) -> Result<bool> {
    let sql = db.sql("UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND lease_owner = ? AND status = 'running'");
    let now = now_ms();
    let n: u64 = on_db!(db, |p| sqlx::query(sql)
        .bind(now + lease_ms)
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Ends the lease. `lease_owner` is kept: it names the worker (node) that ran the job's
/// last attempt, which operators of a cluster look up.
async fn finish(
    db: &Db,
    id: &str,
    owner: &str,
    status: &str,
    run_at: Option<i64>,
    error: Option<&str>,
    result: Option<&serde_json::Value>,
) -> Result<bool> {
    let sql = db.sql(
        "UPDATE jobs SET status = ?, run_at = COALESCE(?, run_at), last_error = COALESCE(?, last_error), result = COALESCE(?, result), \
         lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? AND status = 'running'",
    );
    let result = result.map(|r| r.to_string());
    let n: u64 = on_db!(db, |p| sqlx::query(sql)
        .bind(status)
        .bind(run_at)
        .bind(error)
        .bind(&result)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn complete(
    db: &Db,
    id: &str,
    owner: &str,
    result: Option<&serde_json::Value>,
) -> Result<bool> {
    finish(db, id, owner, "done", None, None, result).await
}

/// Back in the queue at `run_at` (a retry, or a deferral that counts no attempt when
/// `refund` is set: rate limits and quotas are not the job's failure).
pub async fn retry(
    db: &Db,
    id: &str,
    owner: &str,
    run_at: i64,
    error: &str,
    refund: bool,
) -> Result<bool> {
    let ok = finish(db, id, owner, "queued", Some(run_at), Some(error), None).await?;
    if ok && refund {
        let sql = db.sql("UPDATE jobs SET attempts = attempts - 1 WHERE id = ? AND attempts > 0");
        on_db!(db, |p| sqlx::query(sql)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))?;
    }
    Ok(ok)
}

/// Gives up: the job stays, dead, with its reason.
pub async fn kill(db: &Db, id: &str, owner: &str, error: &str) -> Result<bool> {
    finish(db, id, owner, "dead", None, Some(error), None).await
}

pub async fn set_progress(db: &Db, id: &str, progress: f64) -> Result<()> {
    let sql = db.sql("UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ?");
    on_db!(db, |p| sqlx::query(sql)
        .bind(progress)
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Cancels queued jobs about `subject_id` (running ones finish or are reconciled).
pub async fn cancel_for(db: &Db, subject_id: &str) -> Result<u64> {
    let sql = db.sql("UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE subject_id = ? AND status = 'queued'");
    Ok(on_db!(db, |p| sqlx::query(sql)
        .bind(now_ms())
        .bind(subject_id)
        .execute(p)
        .await?
        .rows_affected()))
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Job>> {
    let sql = db.sql(concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE id = ?"
    ));
    let row: Option<JobRow> = on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await?);
    Ok(row.map(decode))
}

/// When the next queued job is due (to sleep exactly until then).
pub async fn next_due(db: &Db) -> Result<Option<i64>> {
    let sql = "SELECT MIN(run_at) FROM jobs WHERE status = 'queued'";
    let v: Option<i64> = on_db!(db, |p| sqlx::query_scalar(sql).fetch_one(p).await?);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("q.db").display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        (db, dir)
    }

    #[tokio::test]
    async fn each_job_is_claimed_once_and_leases_lapse() {
        let (db, _dir) = db().await;
        for i in 0..20 {
            enqueue(
                &db,
                NewJob::now(kinds::PUBLISH, serde_json::json!({ "i": i })),
            )
            .await
            .unwrap();
        }
        let a = claim(&db, "a", 15, 60_000).await.unwrap();
        let b = claim(&db, "b", 15, 60_000).await.unwrap();
        assert_eq!((a.len(), b.len()), (15, 5));
        assert!(claim(&db, "c", 10, 60_000).await.unwrap().is_empty());
        // A lapsed lease is taken over; the old owner can no longer finish the job.
        let id = a[0].id.clone();
        let sql = db.sql("UPDATE jobs SET lease_until = 0 WHERE id = ?");
        on_db!(&db, |p| sqlx::query(sql)
            .bind(&id)
            .execute(p)
            .await
            .map(|_| ()))
        .unwrap();
        let again = claim(&db, "c", 10, 60_000).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        assert!(!complete(&db, &id, "a", None).await.unwrap());
        assert!(complete(&db, &id, "c", None).await.unwrap());
    }

    #[tokio::test]
    async fn dedupe_keys_allow_one_live_job() {
        let (db, _dir) = db().await;
        let job = || NewJob {
            dedupe_key: Some("refresh:acct".into()),
            ..NewJob::now(kinds::REFRESH_TOKEN, serde_json::json!({}))
        };
        assert!(enqueue(&db, job()).await.unwrap().is_some());
        assert!(enqueue(&db, job()).await.unwrap().is_none());
        let claimed = claim(&db, "w", 1, 60_000).await.unwrap();
        complete(&db, &claimed[0].id, "w", None).await.unwrap();
        assert!(enqueue(&db, job()).await.unwrap().is_some());
    }
}
