//! The RRULE subset (RFC 5545 §3.3.10) recurring posts accept, and the occurrences a rule
//! produces from a DTSTART given as a local time in an IANA zone.
//!
//! ```text
//! rule      = ["RRULE:"] part *(";" part)     ; case-insensitive; each part at most once
//! part      = "FREQ=" ("DAILY" / "WEEKLY" / "MONTHLY")      ; required
//!           / "INTERVAL=" 1*4DIGIT                          ; 1–1000, default 1
//!           / "BYDAY=" weekday *("," weekday)               ; FREQ=WEEKLY only
//!           / "BYMONTHDAY=" monthday *("," monthday)        ; FREQ=MONTHLY only
//!           / "COUNT=" 1*5DIGIT                             ; 1–10000, not with UNTIL
//!           / "UNTIL=" date ["T" time ["Z"]]                ; inclusive, not with COUNT
//!           / "WKST=MO"                                     ; weeks start on Monday
//! weekday   = "MO" / "TU" / "WE" / "TH" / "FR" / "SA" / "SU"
//! monthday  = ["-"] 1*2DIGIT                    ; 1–31, or -1–-31 counting from the end
//! date      = 8DIGIT                            ; YYYYMMDD
//! time      = 6DIGIT                            ; HHMMSS
//! ```
//!
//! - Every occurrence is at DTSTART's local time of day in the zone, whatever the offset
//!   that day: a 09:00 rule posts at 09:00 in winter and in summer. A local time that does
//!   not exist (clocks go forward) or happens twice resolves as one-off schedules do.
//! - DAILY: every INTERVAL days from DTSTART's date. WEEKLY: every INTERVAL weeks from
//!   DTSTART's week, on each BYDAY (default DTSTART's weekday). MONTHLY: every INTERVAL
//!   months from DTSTART's month, on each BYMONTHDAY (default DTSTART's day of the month);
//!   a day the month lacks (the 31st in April) is skipped, as RFC 5545 says.
//! - Nothing before DTSTART is produced, and DTSTART itself only when it matches the rule
//!   (as python-dateutil and calendar apps read it). COUNT counts from there.
//! - UNTIL is inclusive: a date means through that local day, a date-time without `Z` is
//!   local to the zone, with `Z` it is UTC.
//!
//! Anything else — FREQ=YEARLY, HOURLY…, BYSETPOS, BYMONTH, BYHOUR, BYDAY with an ordinal
//! like `1MO`, BYDAY outside WEEKLY — is refused with the part named.

use crate::posts::schedule::resolve;
use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use std::collections::{HashSet, VecDeque};
use std::fmt;

pub const MAX_INTERVAL: u32 = 1000;
pub const MAX_COUNT: u32 = 10_000;
/// A monthly rule naming days its months never have (the 31st every 12 months from April)
/// produces nothing; the iterator gives up after this many empty periods in a row (real
/// rules have at most a handful: the 29th of February every 4 years skips 2100).
const MAX_EMPTY_PERIODS: u32 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freq {
    Daily,
    Weekly,
    Monthly,
}

/// The end of a rule given by UNTIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Through this local day.
    Date(NaiveDate),
    /// Through this local time.
    Local(NaiveDateTime),
    Utc(DateTime<Utc>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub freq: Freq,
    pub interval: u32,
    /// WEEKLY: the weekdays, Monday first (empty: DTSTART's weekday).
    pub by_day: Vec<Weekday>,
    /// MONTHLY: days of the month, negative from the end (empty: DTSTART's day).
    pub by_month_day: Vec<i32>,
    pub count: Option<u32>,
    pub until: Option<Until>,
}

/// Why a rule is refused; `part` names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "`{part}` is not supported; recurring posts take FREQ (DAILY, WEEKLY or MONTHLY), INTERVAL, BYDAY (weekly), BYMONTHDAY (monthly), and COUNT or UNTIL"
    )]
    Unsupported { part: String },
    #[error("`{part}`: {message}")]
    Invalid { part: String, message: String },
}

impl RuleError {
    pub fn part(&self) -> &str {
        match self {
            RuleError::Unsupported { part } | RuleError::Invalid { part, .. } => part,
        }
    }
}

fn invalid(part: &str, message: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        part: part.to_string(),
        message: message.into(),
    }
}

fn unsupported(part: impl Into<String>) -> RuleError {
    RuleError::Unsupported { part: part.into() }
}

const DAYS: [(&str, Weekday); 7] = [
    ("MO", Weekday::Mon),
    ("TU", Weekday::Tue),
    ("WE", Weekday::Wed),
    ("TH", Weekday::Thu),
    ("FR", Weekday::Fri),
    ("SA", Weekday::Sat),
    ("SU", Weekday::Sun),
];

/// Parts RFC 5545 defines that this subset does not take.
const OTHER_PARTS: [&str; 7] = [
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTH",
    "BYSETPOS",
];

fn number(part: &str, value: &str, min: i64, max: i64) -> Result<i64, RuleError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n) && !value.starts_with('+'))
        .ok_or_else(|| {
            invalid(
                part,
                format!("`{value}` is not a number from {min} to {max}"),
            )
        })
}

fn weekday(item: &str) -> Result<Weekday, RuleError> {
    if let Some((_, d)) = DAYS.iter().find(|(code, _)| *code == item) {
        return Ok(*d);
    }
    // `1MO`, `-1FR`: the nth weekday of a month or year.
    let code = item
        .trim_start_matches(['+', '-'])
        .trim_start_matches(|c: char| c.is_ascii_digit());
    if code.len() < item.len() && DAYS.iter().any(|(c, _)| *c == code) {
        return Err(unsupported(format!("BYDAY={item}")));
    }
    Err(invalid(
        "BYDAY",
        format!("`{item}` is not a weekday (MO, TU, WE, TH, FR, SA, SU)"),
    ))
}

fn until(value: &str) -> Result<Until, RuleError> {
    let bad = || {
        invalid(
            "UNTIL",
            format!(
                "`{value}` is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, with Z for UTC)"
            ),
        )
    };
    let (date, time) = match value.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (value, None),
    };
    if date.len() != 8 {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| bad())?;
    let Some(time) = time else {
        return Ok(Until::Date(date));
    };
    let (clock, utc) = match time.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (time, false),
    };
    if clock.len() != 6 {
        return Err(bad());
    }
    let local = date.and_time(NaiveTime::parse_from_str(clock, "%H%M%S").map_err(|_| bad())?);
    Ok(if utc {
        Until::Utc(Utc.from_utc_datetime(&local))
    } else {
        Until::Local(local)
    })
}

impl std::str::FromStr for Rule {
    type Err = RuleError;

    fn from_str(text: &str) -> Result<Rule, RuleError> {
        let upper = text.trim().to_ascii_uppercase();
        let body = upper.strip_prefix("RRULE:").unwrap_or(&upper);
        let mut seen = HashSet::new();
        let (mut freq, mut interval, mut count, mut end) = (None, 1, None, None);
        let (mut by_day, mut by_month_day) = (None::<Vec<Weekday>>, None::<Vec<i32>>);
        for part in body.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| invalid(part, "expected NAME=VALUE"))?;
            if !seen.insert(name) {
                return Err(invalid(name, "given more than once"));
            }
            match name {
                "FREQ" => {
                    freq = Some(match value {
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        "MONTHLY" => Freq::Monthly,
                        "SECONDLY" | "MINUTELY" | "HOURLY" | "YEARLY" => {
                            return Err(unsupported(format!("FREQ={value}")));
                        }
                        _ => return Err(invalid("FREQ", format!("`{value}` is not a frequency"))),
                    })
                }
                "INTERVAL" => interval = number(name, value, 1, i64::from(MAX_INTERVAL))? as u32,
                "COUNT" => count = Some(number(name, value, 1, i64::from(MAX_COUNT))? as u32),
                "UNTIL" => end = Some(until(value)?),
                "BYDAY" => {
                    let mut days = value
                        .split(',')
                        .map(weekday)
                        .collect::<Result<Vec<_>, _>>()?;
                    days.sort_by_key(|d| d.num_days_from_monday());
                    days.dedup();
                    by_day = Some(days);
                }
                "BYMONTHDAY" => {
                    let mut days = value
                        .split(',')
                        .map(|d| {
                            number(name, d, -31, 31)
                                .ok()
                                .filter(|n| *n != 0)
                                .map(|n| n as i32)
                                .ok_or_else(|| {
                                    invalid(
                                        name,
                                        format!("`{d}` is not a day from 1 to 31 or -1 to -31"),
                                    )
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    days.sort();
                    days.dedup();
                    by_month_day = Some(days);
                }
                "WKST" if value == "MO" => {}
                "WKST" => return Err(unsupported(format!("WKST={value}"))),
                n if OTHER_PARTS.contains(&n) => return Err(unsupported(n)),
                n => return Err(invalid(n, "not an RRULE part")),
            }
        }
        let freq =
            freq.ok_or_else(|| invalid("FREQ", "FREQ is required (DAILY, WEEKLY or MONTHLY)"))?;
        if by_day.is_some() && freq != Freq::Weekly {
            return Err(unsupported("BYDAY without FREQ=WEEKLY"));
        }
        if by_month_day.is_some() && freq != Freq::Monthly {
            return Err(unsupported("BYMONTHDAY without FREQ=MONTHLY"));
        }
        if count.is_some() && end.is_some() {
            return Err(invalid("UNTIL", "COUNT and UNTIL cannot both be given"));
        }
        Ok(Rule {
            freq,
            interval,
            by_day: by_day.unwrap_or_default(),
            by_month_day: by_month_day.unwrap_or_default(),
            count,
            until: end,
        })
    }
}

/// The rule in its normal form: parts in a fixed order, defaults left out.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let freq = match self.freq {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
        };
        write!(f, "FREQ={freq}")?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        if !self.by_day.is_empty() {
            let days: Vec<&str> = self
                .by_day
                .iter()
                .filter_map(|d| DAYS.iter().find(|(_, w)| w == d).map(|(c, _)| *c))
                .collect();
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        if !self.by_month_day.is_empty() {
            let days: Vec<String> = self.by_month_day.iter().map(i32::to_string).collect();
            write!(f, ";BYMONTHDAY={}", days.join(","))?;
        }
        if let Some(n) = self.count {
            write!(f, ";COUNT={n}")?;
        }
        match self.until {
            Some(Until::Date(d)) => write!(f, ";UNTIL={}", d.format("%Y%m%d")),
            Some(Until::Local(t)) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%S")),
            Some(Until::Utc(t)) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%SZ")),
            None => Ok(()),
        }
    }
}

/// One occurrence of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// 0 for the first occurrence from DTSTART.
    pub index: u32,
    /// The local time the rule names (even when a gap moved the instant).
    pub local: NaiveDateTime,
    pub at: DateTime<Utc>,
    /// Set when daylight saving adjusted the local time.
    pub note: Option<String>,
}

impl Rule {
    /// The occurrences from `start` (DTSTART, local to `zone`) in order.
    pub fn occurrences(&self, start: NaiveDateTime, zone: Tz) -> Occurrences<'_> {
        Occurrences {
            rule: self,
            start,
            zone,
            period: 0,
            pending: VecDeque::new(),
            produced: 0,
            empty: 0,
            done: false,
        }
    }

    /// The dates of period `p` (a day, week or month counted in INTERVALs from DTSTART's),
    /// on or after DTSTART's date; None past the calendar's end.
    fn period_dates(&self, start: NaiveDate, p: u64) -> Option<Vec<NaiveDate>> {
        let step = p.checked_mul(u64::from(self.interval))?;
        let dates = match self.freq {
            Freq::Daily => vec![start.checked_add_days(Days::new(step))?],
            Freq::Weekly => {
                let monday = start - Days::new(u64::from(start.weekday().num_days_from_monday()));
                let week = monday.checked_add_days(Days::new(step.checked_mul(7)?))?;
                let days = if self.by_day.is_empty() {
                    vec![start.weekday()]
                } else {
                    self.by_day.clone()
                };
                days.iter()
                    .map(|d| week.checked_add_days(Days::new(u64::from(d.num_days_from_monday()))))
                    .collect::<Option<Vec<_>>>()?
            }
            Freq::Monthly => {
                let first = start
                    .with_day(1)?
                    .checked_add_months(Months::new(u32::try_from(step).ok()?))?;
                let last = first.checked_add_months(Months::new(1))?.pred_opt()?.day() as i32;
                let wanted = if self.by_month_day.is_empty() {
                    vec![start.day() as i32]
                } else {
                    self.by_month_day.clone()
                };
                let mut days: Vec<i32> = wanted
                    .iter()
                    .map(|d| if *d < 0 { last + 1 + d } else { *d })
                    .filter(|d| (1..=last).contains(d))
                    .collect();
                days.sort();
                days.dedup();
                days.iter()
                    .map(|d| first.with_day(*d as u32))
                    .collect::<Option<Vec<_>>>()?
            }
        };
        Some(dates.into_iter().filter(|d| *d >= start).collect())
    }
}

pub struct Occurrences<'a> {
    rule: &'a Rule,
    start: NaiveDateTime,
    zone: Tz,
    period: u64,
    pending: VecDeque<NaiveDate>,
    produced: u32,
    empty: u32,
    done: bool,
}

impl Iterator for Occurrences<'_> {
    type Item = Occurrence;

    fn next(&mut self) -> Option<Occurrence> {
        while !self.done {
            if self.rule.count.is_some_and(|n| self.produced >= n) {
                break;
            }
            let Some(date) = self.pending.pop_front() else {
                match self.rule.period_dates(self.start.date(), self.period) {
                    Some(dates) => {
                        self.period += 1;
                        self.empty = if dates.is_empty() { self.empty + 1 } else { 0 };
                        self.done = self.empty > MAX_EMPTY_PERIODS;
                        self.pending.extend(dates);
                    }
                    None => self.done = true,
                }
                continue;
            };
            let local = date.and_time(self.start.time());
            let r = resolve(local, self.zone);
            let past_end = match self.rule.until {
                Some(Until::Date(d)) => date > d,
                Some(Until::Local(l)) => local > l,
                Some(Until::Utc(u)) => r.at > u,
                None => false,
            };
            if past_end {
                break;
            }
            self.produced += 1;
            return Some(Occurrence {
                index: self.produced - 1,
                local,
                at: r.at,
                note: r.note,
            });
        }
        self.done = true;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posts::schedule::parse_zone;

    fn rule(text: &str) -> Rule {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn start(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    fn utc(text: &str, from: &str, zone: &str, n: usize) -> Vec<String> {
        rule(text)
            .occurrences(start(from), parse_zone(zone).unwrap())
            .take(n)
            .map(|o| o.at.format("%Y-%m-%dT%H:%MZ").to_string())
            .collect()
    }

    fn local(text: &str, from: &str, zone: &str, n: usize) -> Vec<String> {
        rule(text)
            .occurrences(start(from), parse_zone(zone).unwrap())
            .take(n)
            .map(|o| o.local.format("%Y-%m-%d %a %H:%M").to_string())
            .collect()
    }

    #[test]
    fn daily_keeps_local_time_across_berlin_spring_forward() {
        assert_eq!(
            utc(
                "FREQ=DAILY;COUNT=4",
                "2026-03-27T09:00",
                "Europe/Berlin",
                10
            ),
            [
                "2026-03-27T08:00Z",
                "2026-03-28T08:00Z",
                "2026-03-29T07:00Z",
                "2026-03-30T07:00Z"
            ]
        );
    }

    #[test]
    fn weekly_keeps_local_time_across_berlin_fall_back() {
        assert_eq!(
            utc(
                "FREQ=WEEKLY;BYDAY=SU",
                "2026-10-18T10:00",
                "Europe/Berlin",
                3
            ),
            [
                "2026-10-18T08:00Z",
                "2026-10-25T09:00Z",
                "2026-11-01T09:00Z"
            ]
        );
    }

    #[test]
    fn new_york_transitions() {
        assert_eq!(
            utc("FREQ=DAILY", "2026-03-07T09:00", "America/New_York", 2),
            ["2026-03-07T14:00Z", "2026-03-08T13:00Z"]
        );
        assert_eq!(
            utc(
                "FREQ=WEEKLY;BYDAY=SA,SU",
                "2026-10-31T09:00",
                "America/New_York",
                3
            ),
            [
                "2026-10-31T13:00Z",
                "2026-11-01T14:00Z",
                "2026-11-07T14:00Z"
            ]
        );
    }

    #[test]
    fn gap_and_repeat_resolve_like_one_off_schedules() {
        let zone = parse_zone("Europe/Berlin").unwrap();
        let spring: Vec<Occurrence> = rule("FREQ=DAILY;COUNT=3")
            .occurrences(start("2026-03-28T02:30"), zone)
            .collect();
        let at: Vec<String> = spring
            .iter()
            .map(|o| o.at.format("%d %H:%M").to_string())
            .collect();
        assert_eq!(at, ["28 01:30", "29 01:30", "30 00:30"]);
        assert!(
            spring[1]
                .note
                .as_deref()
                .unwrap()
                .contains("does not exist")
        );
        assert_eq!(spring[1].local, start("2026-03-29T02:30"));
        let autumn: Vec<Occurrence> = rule("FREQ=DAILY;COUNT=2")
            .occurrences(start("2026-10-25T02:30"), zone)
            .collect();
        assert_eq!(autumn[0].at.format("%d %H:%M").to_string(), "25 00:30");
        assert!(autumn[0].note.as_deref().unwrap().contains("twice"));
    }

    #[test]
    fn weekly_by_day_and_interval() {
        // 2026-06-03 is a Wednesday: that week gives only Friday, then every other week.
        assert_eq!(
            local(
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR",
                "2026-06-03T08:00",
                "UTC",
                5
            ),
            [
                "2026-06-05 Fri 08:00",
                "2026-06-15 Mon 08:00",
                "2026-06-19 Fri 08:00",
                "2026-06-29 Mon 08:00",
                "2026-07-03 Fri 08:00"
            ]
        );
        assert_eq!(
            local("FREQ=WEEKLY", "2026-06-03T08:00", "UTC", 2),
            ["2026-06-03 Wed 08:00", "2026-06-10 Wed 08:00"]
        );
    }

    #[test]
    fn monthly_days_skip_months_without_them() {
        assert_eq!(
            local("FREQ=MONTHLY", "2026-01-31T12:00", "UTC", 4),
            [
                "2026-01-31 Sat 12:00",
                "2026-03-31 Tue 12:00",
                "2026-05-31 Sun 12:00",
                "2026-07-31 Fri 12:00"
            ]
        );
        assert_eq!(
            local(
                "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1,-1",
                "2026-01-15T12:00",
                "UTC",
                4
            ),
            [
                "2026-01-31 Sat 12:00",
                "2026-03-01 Sun 12:00",
                "2026-03-31 Tue 12:00",
                "2026-05-01 Fri 12:00"
            ]
        );
        // The 31st every 12 months from April never happens: the iterator ends.
        assert_eq!(
            local(
                "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31",
                "2026-04-01T12:00",
                "UTC",
                1
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn count_and_until_end_the_rule() {
        assert_eq!(
            utc("FREQ=DAILY;COUNT=2", "2026-06-01T09:00", "UTC", 10).len(),
            2
        );
        // UNTIL is inclusive, as a date, a local time or a UTC time.
        for until in ["20260603", "20260603T090000", "20260603T070000Z"] {
            let got = utc(
                &format!("FREQ=DAILY;UNTIL={until}"),
                "2026-06-01T09:00",
                "Europe/Berlin",
                10,
            );
            assert_eq!(got.len(), 3, "{until}: {got:?}");
        }
        let before = utc(
            "FREQ=DAILY;UNTIL=20260603T065959Z",
            "2026-06-01T09:00",
            "Europe/Berlin",
            10,
        );
        assert_eq!(before.len(), 2);
    }

    #[test]
    fn normal_form() {
        assert_eq!(
            rule("rrule:freq=weekly;byday=fr,mo,mo;interval=2;count=5;wkst=mo").to_string(),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;COUNT=5"
        );
        assert_eq!(
            rule("FREQ=MONTHLY;BYMONTHDAY=-1,15;UNTIL=20270101T000000Z").to_string(),
            "FREQ=MONTHLY;BYMONTHDAY=-1,15;UNTIL=20270101T000000Z"
        );
        let r = rule("FREQ=DAILY;INTERVAL=1;UNTIL=20261231");
        assert_eq!(rule(&r.to_string()), r);
    }

    #[test]
    fn unsupported_parts_are_named() {
        let part = |text: &str| match text.parse::<Rule>() {
            Err(RuleError::Unsupported { part }) => part,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(part("FREQ=YEARLY"), "FREQ=YEARLY");
        assert_eq!(part("FREQ=HOURLY;COUNT=2"), "FREQ=HOURLY");
        assert_eq!(part("FREQ=MONTHLY;BYSETPOS=-1"), "BYSETPOS");
        assert_eq!(part("FREQ=DAILY;BYHOUR=9"), "BYHOUR");
        assert_eq!(part("FREQ=WEEKLY;BYMONTH=1"), "BYMONTH");
        assert_eq!(part("FREQ=MONTHLY;BYDAY=1MO"), "BYDAY=1MO");
        assert_eq!(part("FREQ=WEEKLY;BYDAY=-1FR"), "BYDAY=-1FR");
        assert_eq!(part("FREQ=DAILY;BYDAY=MO"), "BYDAY without FREQ=WEEKLY");
        assert_eq!(
            part("FREQ=WEEKLY;BYMONTHDAY=1"),
            "BYMONTHDAY without FREQ=MONTHLY"
        );
        assert_eq!(part("FREQ=WEEKLY;WKST=SU"), "WKST=SU");
        let message = "FREQ=YEARLY".parse::<Rule>().unwrap_err().to_string();
        assert!(
            message.contains("`FREQ=YEARLY` is not supported"),
            "{message}"
        );
    }

    #[test]
    fn invalid_rules_name_the_part() {
        let part = |text: &str| match text.parse::<Rule>() {
            Err(RuleError::Invalid { part, .. }) => part,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(part(""), "FREQ");
        assert_eq!(part("COUNT=3"), "FREQ");
        assert_eq!(part("FREQ=SOMETIMES"), "FREQ");
        assert_eq!(part("FREQ=DAILY;INTERVAL=0"), "INTERVAL");
        assert_eq!(part("FREQ=DAILY;INTERVAL=+2"), "INTERVAL");
        assert_eq!(part("FREQ=DAILY;COUNT=0"), "COUNT");
        assert_eq!(part("FREQ=DAILY;COUNT=2;COUNT=3"), "COUNT");
        assert_eq!(part("FREQ=DAILY;COUNT=2;UNTIL=20270101"), "UNTIL");
        assert_eq!(part("FREQ=DAILY;UNTIL=2027-01-01"), "UNTIL");
        assert_eq!(part("FREQ=WEEKLY;BYDAY=XX"), "BYDAY");
        assert_eq!(part("FREQ=MONTHLY;BYMONTHDAY=0"), "BYMONTHDAY");
        assert_eq!(part("FREQ=MONTHLY;BYMONTHDAY=32"), "BYMONTHDAY");
        assert_eq!(part("FREQ=DAILY;COLOR=RED"), "COLOR");
        assert_eq!(part("FREQ"), "FREQ");
    }
}
