//! Schedules in IANA time zones: a post is scheduled at a local time in a zone (kept as
//! given) and resolved to an instant with the zone's rules, daylight-saving transitions
//! included. Also the step every scheduling mode (one-off, queue slots, recurrences,
//! imports) ends with: targets marked `scheduled`, then their `publish` jobs enqueued.

use crate::app::App;
use crate::jobs::queue::{self, NewJob, kinds};
use crate::store::{Db, Tx};
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Target statuses that may be (re)scheduled.
pub const SCHEDULABLE: [&str; 4] = ["draft", "scheduled", "queued", "failed"];

/// An instant resolved from a local time, with a note when the local time was adjusted.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("`{name}` is not an IANA time zone (e.g. Europe/Berlin, America/New_York)")
    })
}

/// Resolves `local` in `zone`. A repeated local time (clocks going back) takes its first
/// occurrence; a local time that does not exist (clocks going forward) moves forward by the
/// length of the gap, as calendars do — both are said in the note.
pub fn resolve(local: NaiveDateTime, zone: Tz) -> Resolved {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Resolved {
            at: t.with_timezone(&Utc),
            note: None,
        },
        LocalResult::Ambiguous(first, _) => Resolved {
            at: first.with_timezone(&Utc),
            note: Some(format!(
                "{local} happens twice in {zone} (clocks go back); the first occurrence was used"
            )),
        },
        LocalResult::None => {
            // RFC 5545's reading: a time inside the gap uses the offset in force before it,
            // which lands it as far past the gap's end as it was past its start.
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe -= Duration::minutes(1);
                if let LocalResult::Single(before) | LocalResult::Ambiguous(_, before) =
                    zone.from_local_datetime(&probe)
                {
                    let offset = before.offset().fix();
                    let at = Utc.from_utc_datetime(
                        &(local - Duration::seconds(i64::from(offset.local_minus_utc()))),
                    );
                    return Resolved {
                        at,
                        note: Some(format!(
                            "{local} does not exist in {zone} (clocks go forward); it was moved past the gap to {}",
                            at.with_timezone(&zone).format("%H:%M")
                        )),
                    };
                }
            }
            // No zone has a gap of a day; answer the UTC reading rather than fail.
            Resolved {
                at: Utc.from_utc_datetime(&local),
                note: Some(format!(
                    "{local} could not be placed in {zone}; read as UTC"
                )),
            }
        }
    }
}

/// Reads a local date and time without offset: `2026-03-29T09:30`, with optional seconds,
/// or with a space instead of `T` as spreadsheets write it.
pub fn parse_local(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.trim();
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .ok_or_else(|| {
        format!(
            "`{text}` is not a local date and time like 2026-03-29T09:30 (no offset: the zone is given apart)"
        )
    })
}

/// Marks one target `scheduled` at `at` (kept with the zone and local time it was asked
/// in) inside the caller's transaction; false when the target was not schedulable (draft,
/// scheduled, queued or failed).
pub async fn mark_scheduled(
    db: &Db,
    tx: &mut Tx,
    target_id: &str,
    at: DateTime<Utc>,
    zone: &str,
    local: Option<&str>,
) -> anyhow::Result<bool> {
    let sql = db.sql(
        "UPDATE post_targets SET status = 'scheduled', scheduled_at = ?, schedule_zone = ?, schedule_local = ?, last_error = NULL, problems = NULL, deferred_reason = NULL, updated_at = ? \
         WHERE id = ? AND status IN ('draft', 'scheduled', 'queued', 'failed')",
    );
    let n: u64 = crate::on_tx!(tx, |c| sqlx::query(sql)
        .bind(at.timestamp_millis())
        .bind(zone)
        .bind(local)
        .bind(Utc::now())
        .bind(target_id)
        .execute(&mut **c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Enqueues the `publish` job of a scheduled target at `at`, replacing a queued one (a
/// reschedule). Called once the transaction that scheduled the target has committed; the
/// caller wakes the workers.
pub async fn enqueue_publish(
    app: &App,
    workspace_id: &str,
    target_id: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    queue::cancel_for(&app.db, target_id).await?;
    queue::enqueue(
        &app.db,
        NewJob {
            workspace_id: Some(workspace_id.to_string()),
            subject_id: Some(target_id.to_string()),
            run_at: at.timestamp_millis(),
            max_attempts: 8,
            dedupe_key: Some(format!("publish:{target_id}")),
            ..NewJob::now(kinds::PUBLISH, serde_json::json!({}))
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn berlin_spring_gap_moves_forward() {
        let r = resolve(
            local("2026-03-29T02:30"),
            parse_zone("Europe/Berlin").unwrap(),
        );
        assert_eq!(r.at.to_rfc3339(), "2026-03-29T01:30:00+00:00");
        assert!(r.note.unwrap().contains("does not exist"));
    }

    #[test]
    fn berlin_autumn_repeat_takes_the_first() {
        let r = resolve(
            local("2026-10-25T02:30"),
            parse_zone("Europe/Berlin").unwrap(),
        );
        assert_eq!(r.at.to_rfc3339(), "2026-10-25T00:30:00+00:00");
        assert!(r.note.unwrap().contains("twice"));
    }

    #[test]
    fn new_york_transitions() {
        let ny = parse_zone("America/New_York").unwrap();
        assert_eq!(
            resolve(local("2026-03-08T02:15"), ny).at.to_rfc3339(),
            "2026-03-08T07:15:00+00:00"
        );
        assert_eq!(
            resolve(local("2026-11-01T01:30"), ny).at.to_rfc3339(),
            "2026-11-01T05:30:00+00:00"
        );
        let plain = resolve(local("2026-07-04T09:00"), ny);
        assert_eq!(
            (plain.at.to_rfc3339().as_str(), plain.note),
            ("2026-07-04T13:00:00+00:00", None)
        );
    }

    #[test]
    fn local_times_with_or_without_seconds() {
        let want = local("2026-03-29T09:30");
        for text in [
            "2026-03-29T09:30",
            "2026-03-29T09:30:00",
            " 2026-03-29 09:30 ",
        ] {
            assert_eq!(parse_local(text), Ok(want), "{text}");
        }
        for bad in [
            "2026-03-29",
            "09:30",
            "2026-03-29T09:30Z",
            "2026-02-30T09:30",
        ] {
            assert!(parse_local(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zones_are_iana_names() {
        assert!(parse_zone("Europe/Berlin").is_ok());
        assert!(parse_zone("+02:00").is_err());
        assert!(parse_zone("CEST").is_err());
    }
}
