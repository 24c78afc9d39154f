//! Samples grouped into series per (target, metric), optionally one point per hour or day.
//! Platform metrics are running totals (followers, likes so far), so a bucket shows the
//! last value captured in it, stamped with the bucket's start.

use crate::store::metrics::Sample;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    fn start(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let width = match self {
            Bucket::Hour => TimeDelta::hours(1),
            Bucket::Day => TimeDelta::days(1),
        };
        at.duration_trunc(width).unwrap_or(at)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// One metric of the account (`target_id` None) or of one post target.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub name: String,
    pub target_id: Option<String>,
    /// Oldest first.
    pub points: Vec<Point>,
    /// The newest value in the range.
    pub latest: Option<Point>,
}

/// Groups samples (oldest first) into series ordered by target and name.
pub fn build(samples: Vec<Sample>, bucket: Option<Bucket>) -> Vec<Series> {
    let mut grouped: BTreeMap<(Option<String>, String), Vec<Point>> = BTreeMap::new();
    for s in samples {
        let at = bucket.map_or(s.captured_at, |b| b.start(s.captured_at));
        let points = grouped.entry((s.target_id, s.name)).or_default();
        match points.last_mut() {
            Some(last) if bucket.is_some() && last.at == at => last.value = s.value,
            _ => points.push(Point { at, value: s.value }),
        }
    }
    grouped
        .into_iter()
        .map(|((target_id, name), points)| Series {
            latest: points.last().cloned(),
            name,
            target_id,
            points,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, at: &str, value: f64) -> Sample {
        Sample {
            target_id: None,
            name: name.into(),
            value,
            captured_at: at.parse().unwrap(),
        }
    }

    #[test]
    fn buckets_keep_the_last_value_of_each_period() {
        let samples = vec![
            sample("followers", "2026-03-01T10:05:00Z", 1.0),
            sample("followers", "2026-03-01T10:55:00Z", 2.0),
            sample("followers", "2026-03-01T11:10:00Z", 5.0),
            sample("followers", "2026-03-02T09:00:00Z", 7.0),
        ];
        let hourly = build(samples.clone(), Some(Bucket::Hour));
        let values: Vec<f64> = hourly[0].points.iter().map(|p| p.value).collect();
        assert_eq!(values, vec![2.0, 5.0, 7.0]);
        assert_eq!(
            hourly[0].points[0].at,
            "2026-03-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let daily = build(samples.clone(), Some(Bucket::Day));
        let values: Vec<f64> = daily[0].points.iter().map(|p| p.value).collect();
        assert_eq!(values, vec![5.0, 7.0]);
        assert_eq!(daily[0].latest.as_ref().unwrap().value, 7.0);
        assert_eq!(build(samples, None)[0].points.len(), 4);
    }
}
