//! Recurring posts. A post becomes the template of a series: a rule (the RRULE subset of
//! [`rrule`]), a DTSTART local time and an IANA zone. Each occurrence is published as a new
//! post copied from the template when the occurrence is made, so edits to the template
//! reach every occurrence not yet made; the template itself stays a draft.
//!
//! Mechanism: exactly the next occurrence is kept made (a scheduled post). Making one
//! first enqueues a `recurrence` job due at the occurrence's instant, then writes the copy
//! with its targets scheduled, then enqueues their `publish` jobs. When the occurrence is
//! due, its `recurrence` job makes the following one, and so on until the rule ends. It is
//! all durable — jobs survive restarts and a crashed worker's job is taken over — and
//! running a job again is harmless: occurrences are keyed by instant, and the job also
//! re-enqueues the publish job of its own occurrence should a crash have lost it.
//! Occurrences that fell due while no worker ran are skipped rather than posted late in a
//! burst: the next one made is always the first after now.

pub mod rrule;

use self::rrule::{Occurrence, Rule};
use super::schedule::{enqueue_publish, parse_local, parse_zone};
use crate::app::App;
use crate::jobs::queue::{self, NewJob};
use crate::jobs::{Handler, Job, Outcome};
use crate::on_db;
use crate::store::post_batches::{self, BatchPost, BatchTarget, Schedule};
use crate::store::posts::{self, Post};
use crate::store::recurrences::{self as store, SeriesRow};
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use std::sync::Arc;
use std::time::Duration;

/// The job that makes a series' next occurrence.
pub const JOB_KIND: &str = "recurrence";

/// Occurrences looked at from DTSTART, at most (a daily rule: 270 years), so no request
/// can make the server walk a calendar without end.
pub const MAX_SCAN: usize = 100_000;

/// A stored series, decoded.
#[derive(Debug, Clone)]
pub struct Series {
    pub row: SeriesRow,
    pub rule: Rule,
    pub start: NaiveDateTime,
    pub zone: Tz,
}

impl Series {
    fn decode(row: SeriesRow) -> Result<Series> {
        let rule = row
            .rrule
            .parse()
            .with_context(|| format!("stored rule of recurrence {}", row.id))?;
        let start = parse_local(&row.start_local).map_err(anyhow::Error::msg)?;
        let zone = parse_zone(&row.timezone).map_err(anyhow::Error::msg)?;
        Ok(Series {
            row,
            rule,
            start,
            zone,
        })
    }

    /// Occurrences strictly after `after`, earliest first, among the first [`MAX_SCAN`].
    pub fn after(&self, after: DateTime<Utc>) -> impl Iterator<Item = Occurrence> + '_ {
        self.rule
            .occurrences(self.start, self.zone)
            .take(MAX_SCAN)
            .filter(move |o| o.at > after)
    }
}

pub async fn load(app: &App, id: &str) -> Result<Option<Series>> {
    store::get(&app.db, id)
        .await?
        .map(Series::decode)
        .transpose()
}

/// The series whose template is `post_id`.
pub async fn for_template(app: &App, workspace_id: &str, post_id: &str) -> Result<Option<Series>> {
    store::for_template(&app.db, workspace_id, post_id)
        .await?
        .map(Series::decode)
        .transpose()
}

fn local_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Starts a series on `template` and makes its first occurrence after now (the caller
/// checked there is one); answers the series and the occurrence's post.
pub async fn start(
    app: &App,
    template: &Post,
    created_by: &str,
    rule: Rule,
    start: NaiveDateTime,
    timezone: &str,
) -> Result<(Series, Option<String>)> {
    let series = Series {
        row: SeriesRow {
            id: uuid::Uuid::now_v7().to_string(),
            workspace_id: template.workspace_id.clone(),
            template_post_id: template.id.clone(),
            rrule: rule.to_string(),
            start_local: local_text(start),
            timezone: timezone.to_string(),
            created_by: Some(created_by.to_string()),
            created_at: Utc::now(),
        },
        zone: parse_zone(timezone).map_err(anyhow::Error::msg)?,
        rule,
        start,
    };
    let first = series
        .after(Utc::now())
        .next()
        .context("the rule has no occurrence after now")?;
    let post = make(app, &series, template, &first, true).await?;
    Ok((series, post))
}

/// Makes the occurrence `occ` of `series`: the job that will make the following one, the
/// copy of the template (with the series itself when `new_series`) in one transaction,
/// then the publish jobs. None when the series was stopped meanwhile.
async fn make(
    app: &App,
    series: &Series,
    template: &Post,
    occ: &Occurrence,
    new_series: bool,
) -> Result<Option<String>> {
    let id = &series.row.id;
    let at_ms = occ.at.timestamp_millis();
    // First, so that a crash after the copy is written still leaves the series moving.
    queue::enqueue(
        &app.db,
        NewJob {
            workspace_id: Some(series.row.workspace_id.clone()),
            subject_id: Some(id.clone()),
            run_at: at_ms,
            max_attempts: 20,
            dedupe_key: Some(format!("recurrence:{id}:{at_ms}")),
            ..NewJob::now(JOB_KIND, serde_json::json!({ "at": at_ms }))
        },
    )
    .await?;
    let local = local_text(occ.local);
    let post_id = uuid::Uuid::now_v7().to_string();
    let targets: Vec<BatchTarget> = template
        .targets
        .iter()
        .map(|t| BatchTarget {
            id: uuid::Uuid::now_v7().to_string(),
            account_id: t.account_id.clone(),
            plugin: t.plugin.clone(),
        })
        .collect();
    let mut tx = app.db.write_tx(&format!("recurrence:{id}")).await?;
    if new_series {
        store::insert(&app.db, &mut tx, &series.row).await?;
    } else if !store::exists(&app.db, &mut tx, id).await? {
        return Ok(None);
    }
    let made = match store::occurrence_post(&app.db, &mut tx, id, at_ms).await? {
        Some(existing) => existing,
        None => {
            post_batches::insert(
                &app.db,
                &mut tx,
                &BatchPost {
                    id: &post_id,
                    workspace_id: &series.row.workspace_id,
                    created_by: series.row.created_by.as_deref(),
                    content: &template.content,
                    targets: &targets,
                    schedule: Some(Schedule {
                        at: occ.at,
                        zone: &series.row.timezone,
                        local: &local,
                    }),
                },
            )
            .await?;
            store::link(&app.db, &mut tx, id, at_ms, &post_id, &local).await?;
            post_id
        }
    };
    tx.commit().await?;
    publish_scheduled(app, &series.row.workspace_id, &made, occ.at).await?;
    Ok(Some(made))
}

/// Enqueues the publish jobs of the occurrence post's targets still scheduled.
async fn publish_scheduled(
    app: &App,
    workspace_id: &str,
    post_id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(post) = posts::get(&app.db, workspace_id, post_id).await? else {
        return Ok(());
    };
    for t in post.targets.iter().filter(|t| t.status == "scheduled") {
        enqueue_publish(app, workspace_id, &t.id, at).await?;
    }
    app.jobs_waker.wake();
    Ok(())
}

/// Stops a series: no more occurrences are made, and those made but not yet publishing
/// are cancelled and deleted. Answers the deleted posts.
pub async fn stop(app: &App, series: &Series) -> Result<Vec<String>> {
    let id = &series.row.id;
    queue::cancel_for(&app.db, id).await?;
    let made = store::occurrences(&app.db, id).await?;
    let mut tx = app.db.write_tx(&format!("recurrence:{id}")).await?;
    store::delete(&app.db, &mut tx, id).await?;
    tx.commit().await?;
    let ws = &series.row.workspace_id;
    let mut cancelled = Vec::new();
    for (_, post_id) in made {
        let Some(post) = posts::get(&app.db, ws, &post_id).await? else {
            continue;
        };
        let mut untouched = true;
        for t in &post.targets {
            // Conditional: a target a worker has started publishing is left to finish.
            let sql = app.db.sql(
                "UPDATE post_targets SET status = 'draft', updated_at = ? WHERE id = ? AND status IN ('scheduled', 'queued')",
            );
            let n: u64 = on_db!(&app.db, |p| sqlx::query(sql)
                .bind(Utc::now())
                .bind(&t.id)
                .execute(p)
                .await?
                .rows_affected());
            if n == 1 {
                queue::cancel_for(&app.db, &t.id).await?;
            } else if t.status != "draft" {
                untouched = false;
            }
        }
        if untouched && posts::delete(&app.db, ws, &post_id).await? {
            cancelled.push(post_id);
        }
    }
    Ok(cancelled)
}

/// Runs a series' `recurrence` job: makes sure its own occurrence's publish jobs exist,
/// then makes the next occurrence.
pub struct RecurrenceHandler;

impl RecurrenceHandler {
    async fn advance(&self, app: &App, job: &Job) -> Result<serde_json::Value> {
        let id = job
            .subject_id
            .as_deref()
            .context("recurrence job without a series")?;
        let Some(series) = load(app, id).await? else {
            // A first occurrence due at once can be claimed before its series is committed.
            anyhow::ensure!(job.attempts > 1, "the series is not there (yet)");
            return Ok(serde_json::json!({"skipped": "the series was stopped"}));
        };
        let ws = &series.row.workspace_id;
        if let Some(at_ms) = job.payload["at"].as_i64() {
            let made = store::occurrences(&app.db, id).await?;
            if let Some((_, post_id)) = made.iter().find(|(at, _)| *at == at_ms) {
                let at = DateTime::from_timestamp_millis(at_ms).context("occurrence instant")?;
                publish_scheduled(app, ws, post_id, at).await?;
            }
        }
        let Some(template) = posts::get(&app.db, ws, &series.row.template_post_id).await? else {
            return Ok(serde_json::json!({"skipped": "the template post was deleted"}));
        };
        let Some(next) = series.after(Utc::now()).next() else {
            return Ok(serde_json::json!({"ended": true}));
        };
        let post = make(app, &series, &template, &next, false).await?;
        Ok(serde_json::json!({"next": next.at, "post_id": post}))
    }
}

#[async_trait::async_trait]
impl Handler for RecurrenceHandler {
    fn kind(&self) -> &'static str {
        JOB_KIND
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        match self.advance(app, job).await {
            Ok(result) => Outcome::Done(Some(result)),
            Err(e) => Outcome::Retry {
                error: format!("{e:#}"),
                after: Some(Duration::from_secs(5)),
            },
        }
    }
}
