//! Queue slots: an account's posting times per weekday in an IANA zone (Mon–Fri 09:00 and
//! 17:30, Sat 11:00, …). "Add to queue" puts each target of a post at its account's next
//! free slot; a slot is taken when a target of that account is already scheduled for that
//! instant.
//!
//! Slots are local times: a 09:00 slot is 09:00 in winter and in summer, so its UTC instant
//! moves with daylight saving. A slot inside a daylight-saving gap, or in a repeated hour,
//! resolves as one-off schedules do ([`resolve`]).

use super::schedule::{enqueue_publish, mark_scheduled, resolve};
use crate::app::App;
use crate::store::posts::Post;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

/// Most slots one account may have (every hour of the week fits).
pub const MAX_SLOTS: usize = 200;
/// How many upcoming slot times the queue looks through for a free one.
pub const MAX_CANDIDATES: usize = 20_000;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }
}

/// One posting time: a weekday and a local time of day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub weekday: Day,
    /// Local time of day, `HH:MM` (24-hour clock).
    #[schema(example = "09:00")]
    pub time: String,
}

/// A checked slot set: sorted by weekday and time, without duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct Slots(Vec<(Day, NaiveTime)>);

impl Slots {
    /// Checks every slot; the error names the first bad one.
    pub fn parse(slots: &[Slot]) -> Result<Slots, String> {
        if slots.len() > MAX_SLOTS {
            return Err(format!("at most {MAX_SLOTS} slots per account"));
        }
        let mut out = Vec::with_capacity(slots.len());
        for (i, s) in slots.iter().enumerate() {
            let time = NaiveTime::parse_from_str(&s.time, "%H:%M")
                .ok()
                .filter(|_| s.time.len() == 5)
                .ok_or_else(|| {
                    format!(
                        "slots[{i}].time: `{}` is not a time of day like 09:00",
                        s.time
                    )
                })?;
            out.push((s.weekday, time));
        }
        out.sort();
        if let Some(w) = out.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!(
                "{} {} is given twice",
                serde_json::to_value(w[0].0)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                w[0].1.format("%H:%M")
            ));
        }
        Ok(Slots(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The slots as the API shows them.
    pub fn views(&self) -> Vec<Slot> {
        self.0
            .iter()
            .map(|(d, t)| Slot {
                weekday: *d,
                time: t.format("%H:%M").to_string(),
            })
            .collect()
    }

    /// Slot times strictly after `after`, earliest first (endless unless there are no slots).
    pub fn upcoming(&self, zone: Tz, after: DateTime<Utc>) -> Upcoming<'_> {
        // A slot late on the day before can land after midnight once moved past a gap.
        let day = zone
            .from_utc_datetime(&after.naive_utc())
            .date_naive()
            .pred_opt()
            .unwrap_or(NaiveDate::MIN);
        Upcoming {
            slots: self,
            zone,
            after,
            day,
            heap: BinaryHeap::new(),
            last: None,
        }
    }

    /// The first slot time after `after` whose instant (Unix ms) is not in `taken`, looking
    /// through at most [`MAX_CANDIDATES`] slot times.
    pub fn first_free(
        &self,
        zone: Tz,
        after: DateTime<Utc>,
        taken: &HashSet<i64>,
    ) -> Option<SlotTime> {
        self.upcoming(zone, after)
            .take(MAX_CANDIDATES)
            .find(|s| !taken.contains(&s.at.timestamp_millis()))
    }
}

/// One slot on one date.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotTime {
    /// The slot's local time as set (even when a gap moved the instant).
    pub local: NaiveDateTime,
    pub at: DateTime<Utc>,
    /// Set when daylight saving adjusted the local time.
    pub note: Option<String>,
}

/// A resolved slot waiting in [`Upcoming`]: instant, local time, the day it was made for,
/// note.
type Pending = (DateTime<Utc>, NaiveDateTime, NaiveDate, Option<String>);

/// Slot times in instant order. Days are resolved one at a time; since resolving can move
/// a slot forward past a gap (even past midnight), a day's times are only given out once
/// the next day has been resolved too, through a small heap.
pub struct Upcoming<'a> {
    slots: &'a Slots,
    zone: Tz,
    after: DateTime<Utc>,
    /// The next day to resolve.
    day: NaiveDate,
    heap: BinaryHeap<Reverse<Pending>>,
    last: Option<DateTime<Utc>>,
}

impl Iterator for Upcoming<'_> {
    type Item = SlotTime;

    fn next(&mut self) -> Option<SlotTime> {
        if self.slots.is_empty() {
            return None;
        }
        loop {
            // Times of days before the last resolved one can no longer be overtaken.
            let settled = self.day.pred_opt()?;
            if self.heap.iter().any(|Reverse(e)| e.2 < settled) {
                let Reverse((at, local, _, note)) = self.heap.pop()?;
                if at <= self.after || self.last.is_some_and(|l| l >= at) {
                    continue;
                }
                self.last = Some(at);
                return Some(SlotTime { local, at, note });
            }
            let day = self.day;
            for (_, time) in self
                .slots
                .0
                .iter()
                .filter(|(d, _)| d.weekday() == day.weekday())
            {
                let local = day.and_time(*time);
                let r = resolve(local, self.zone);
                self.heap.push(Reverse((r.at, local, day, r.note)));
            }
            self.day = day.succ_opt()?;
        }
    }
}

/// Why a post could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("account `{0}` has no queue slots; set them first")]
    NoSlots(String),
    #[error("account `{0}` has no free slot among its next {MAX_CANDIDATES} slot times")]
    Full(String),
    #[error("target `{0}` changed while it was being queued; try again")]
    Changed(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Where one target was queued.
#[derive(Debug, Clone)]
pub struct Queued {
    pub target_id: String,
    pub account_id: String,
    pub slot: SlotTime,
    pub timezone: String,
}

/// Schedules every target of `post` at its account's first free slot after `after`, in
/// one transaction (two posts queued at once cannot take the same slot), then enqueues
/// the publish jobs. The caller has checked that the targets are schedulable and valid.
pub async fn queue(
    app: &App,
    workspace_id: &str,
    post: &Post,
    after: DateTime<Utc>,
) -> Result<Vec<Queued>, QueueError> {
    let mut sets = Vec::with_capacity(post.targets.len());
    for t in &post.targets {
        let set = crate::store::slots::get(&app.db, workspace_id, &t.account_id)
            .await?
            .filter(|s| !s.slots.is_empty())
            .ok_or_else(|| QueueError::NoSlots(t.account_id.clone()))?;
        let slots = Slots::parse(&set.slots)
            .map_err(|m| anyhow::anyhow!("stored slots of `{}`: {m}", t.account_id))?;
        let zone = super::schedule::parse_zone(&set.timezone).map_err(anyhow::Error::msg)?;
        sets.push((t, slots, zone, set.timezone));
    }
    let mut tx = app.db.write_tx(&format!("queue:{workspace_id}")).await?;
    let mut queued = Vec::with_capacity(sets.len());
    for (t, slots, zone, timezone) in sets {
        let taken = crate::store::slots::taken(
            &app.db,
            &mut tx,
            workspace_id,
            &t.account_id,
            after.timestamp_millis(),
            &post.id,
        )
        .await?;
        let slot = slots
            .first_free(zone, after, &taken)
            .ok_or_else(|| QueueError::Full(t.account_id.clone()))?;
        let local = slot.local.format("%Y-%m-%dT%H:%M:%S").to_string();
        if !mark_scheduled(&app.db, &mut tx, &t.id, slot.at, &timezone, Some(&local)).await? {
            return Err(QueueError::Changed(t.id.clone()));
        }
        queued.push(Queued {
            target_id: t.id.clone(),
            account_id: t.account_id.clone(),
            slot,
            timezone,
        });
    }
    tx.commit().await?;
    for q in &queued {
        enqueue_publish(app, workspace_id, &q.target_id, q.slot.at).await?;
    }
    app.jobs_waker.wake();
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posts::schedule::parse_zone;

    fn slots(list: &[(Day, &str)]) -> Slots {
        Slots::parse(
            &list
                .iter()
                .map(|(d, t)| Slot {
                    weekday: *d,
                    time: t.to_string(),
                })
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn instants(s: &Slots, zone: &str, after: &str, n: usize) -> Vec<String> {
        s.upcoming(parse_zone(zone).unwrap(), utc(after))
            .take(n)
            .map(|t| t.at.format("%Y-%m-%dT%H:%MZ").to_string())
            .collect()
    }

    #[test]
    fn slots_are_checked_and_sorted() {
        let s = slots(&[
            (Day::Sat, "11:00"),
            (Day::Mon, "17:30"),
            (Day::Mon, "09:00"),
        ]);
        let times: Vec<String> = s.views().iter().map(|v| v.time.clone()).collect();
        assert_eq!(times, ["09:00", "17:30", "11:00"]);
        let bad = |d: Day, t: &str| {
            Slots::parse(&[Slot {
                weekday: d,
                time: t.into(),
            }])
            .unwrap_err()
        };
        assert!(bad(Day::Mon, "24:00").contains("slots[0].time"));
        assert!(bad(Day::Mon, "9am").contains("not a time"));
        assert!(bad(Day::Mon, "09:00:00").contains("not a time"));
        let twice = Slots::parse(&[
            Slot {
                weekday: Day::Tue,
                time: "10:00".into(),
            },
            Slot {
                weekday: Day::Tue,
                time: "10:00".into(),
            },
        ])
        .unwrap_err();
        assert_eq!(twice, "tue 10:00 is given twice");
    }

    #[test]
    fn weekdays_and_times_in_order() {
        // 2026-06-05 is a Friday.
        let s = slots(&[
            (Day::Mon, "09:00"),
            (Day::Fri, "09:00"),
            (Day::Fri, "17:30"),
            (Day::Sat, "11:00"),
        ]);
        assert_eq!(
            instants(&s, "UTC", "2026-06-05T09:00:00Z", 4),
            [
                "2026-06-05T17:30Z",
                "2026-06-06T11:00Z",
                "2026-06-08T09:00Z",
                "2026-06-12T09:00Z"
            ]
        );
    }

    #[test]
    fn berlin_slots_keep_local_time_across_both_transitions() {
        let s = slots(&[
            (Day::Sat, "09:00"),
            (Day::Sun, "09:00"),
            (Day::Mon, "09:00"),
        ]);
        // Spring forward on Sunday 2026-03-29: 09:00 is 08:00Z before, 07:00Z after.
        assert_eq!(
            instants(&s, "Europe/Berlin", "2026-03-27T12:00:00Z", 3),
            [
                "2026-03-28T08:00Z",
                "2026-03-29T07:00Z",
                "2026-03-30T07:00Z"
            ]
        );
        // Fall back on Sunday 2026-10-25.
        assert_eq!(
            instants(&s, "Europe/Berlin", "2026-10-23T12:00:00Z", 3),
            [
                "2026-10-24T07:00Z",
                "2026-10-25T08:00Z",
                "2026-10-26T08:00Z"
            ]
        );
        let local: Vec<String> = s
            .upcoming(
                parse_zone("Europe/Berlin").unwrap(),
                utc("2026-10-23T12:00:00Z"),
            )
            .take(3)
            .map(|t| t.local.format("%a %H:%M").to_string())
            .collect();
        assert_eq!(local, ["Sat 09:00", "Sun 09:00", "Mon 09:00"]);
    }

    #[test]
    fn new_york_slots_keep_local_time_across_both_transitions() {
        let s = slots(&[(Day::Sat, "09:00"), (Day::Sun, "09:00")]);
        assert_eq!(
            instants(&s, "America/New_York", "2026-03-06T00:00:00Z", 2),
            ["2026-03-07T14:00Z", "2026-03-08T13:00Z"]
        );
        assert_eq!(
            instants(&s, "America/New_York", "2026-10-30T00:00:00Z", 2),
            ["2026-10-31T13:00Z", "2026-11-01T14:00Z"]
        );
    }

    #[test]
    fn a_slot_in_the_gap_moves_forward_and_a_repeated_one_takes_the_first() {
        let s = slots(&[(Day::Sun, "02:30"), (Day::Sun, "03:30")]);
        let zone = parse_zone("Europe/Berlin").unwrap();
        let spring: Vec<SlotTime> = s
            .upcoming(zone, utc("2026-03-28T00:00:00Z"))
            .take(2)
            .collect();
        // 02:30 does not exist; it lands on 03:30 summer time, the same instant as the
        // 03:30 slot, which counts once.
        assert_eq!(spring[0].at, utc("2026-03-29T01:30:00Z"));
        assert!(
            spring[0]
                .note
                .as_deref()
                .unwrap()
                .contains("does not exist")
        );
        assert_eq!(spring[1].at, utc("2026-04-05T00:30:00Z"));
        let autumn: Vec<SlotTime> = s
            .upcoming(zone, utc("2026-10-24T00:00:00Z"))
            .take(2)
            .collect();
        assert_eq!(autumn[0].at, utc("2026-10-25T00:30:00Z"));
        assert!(autumn[0].note.as_deref().unwrap().contains("twice"));
        assert_eq!(autumn[1].at, utc("2026-10-25T02:30:00Z"));
    }

    #[test]
    fn instants_increase_in_every_zone() {
        // Late, early and in-the-gap times every day, through a year of every zone's
        // transitions (some move a late slot past midnight, after the next day's first).
        let days = [
            Day::Mon,
            Day::Tue,
            Day::Wed,
            Day::Thu,
            Day::Fri,
            Day::Sat,
            Day::Sun,
        ];
        let list: Vec<(Day, &str)> = days
            .iter()
            .flat_map(|d| [(*d, "00:15"), (*d, "02:30"), (*d, "23:30")])
            .collect();
        let s = slots(&list);
        for zone in chrono_tz::TZ_VARIANTS {
            let got: Vec<DateTime<Utc>> = s
                .upcoming(zone, utc("2026-01-01T00:00:00Z"))
                .take(3 * 366)
                .map(|t| t.at)
                .collect();
            assert!(
                got.windows(2).all(|w| w[0] < w[1]),
                "{zone}: instants out of order"
            );
            assert!(got.len() >= 3 * 360, "{zone}: only {}", got.len());
        }
    }

    #[test]
    fn the_first_free_slot_skips_taken_ones() {
        let s = slots(&[(Day::Mon, "09:00"), (Day::Mon, "12:00")]);
        let zone = parse_zone("UTC").unwrap();
        let after = utc("2026-06-01T00:00:00Z");
        let taken: HashSet<i64> = [utc("2026-06-01T09:00:00Z").timestamp_millis()].into();
        assert_eq!(
            s.first_free(zone, after, &taken).unwrap().at,
            utc("2026-06-01T12:00:00Z")
        );
        let none = Slots::parse(&[]).unwrap();
        assert!(none.upcoming(zone, after).next().is_none());
    }
}
