//! Schedules in IANA time zones: a post is scheduled at a local time in a zone (kept as
//! given) and resolved to an instant with the zone's rules, daylight-saving transitions
//! included.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

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
                if let LocalResult::Single(before) | LocalResult::Ambiguous(_, before) = zone.from_local_datetime(&probe) {
                    let offset = before.offset().fix();
                    let at = Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(offset.local_minus_utc()))));
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
                note: Some(format!("{local} could not be placed in {zone}; read as UTC")),
            }
        }
    }
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
    fn zones_are_iana_names() {
        assert!(parse_zone("Europe/Berlin").is_ok());
        assert!(parse_zone("+02:00").is_err());
        assert!(parse_zone("CEST").is_err());
    }
}
