//! Platform rate limits and quotas from `describe()` (e.g. Instagram 50 posts per 24 h,
//! Threads 250 per day) and a per-plugin concurrency cap: a target that would exceed them
//! waits with a visible reason instead of failing.

use super::targets::TargetRow;
use crate::app::App;
use crate::jobs::now_ms;
use crate::on_db;
use crate::runtime::caps::ledger::Scope;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    PlatformInfo, RateScope,
};

/// Publishes of one plugin in flight at once, across accounts (platforms throttle apps).
pub const PLUGIN_CONCURRENCY: i64 = 32;

pub struct Deferral {
    pub reason: String,
    pub at_ms: i64,
}

async fn count_published(
    app: &App,
    t: &TargetRow,
    scope: RateScope,
    since_ms: i64,
) -> anyhow::Result<(i64, Option<i64>)> {
    let (sql, key) = match scope {
        RateScope::Account => (
            app.db.sql("SELECT COUNT(*), MIN(published_at) FROM post_targets WHERE account_id = ? AND published_at >= ?"),
            t.account_id.clone(),
        ),
        RateScope::App => (
            app.db.sql("SELECT COUNT(*), MIN(published_at) FROM post_targets WHERE plugin_id = ? AND published_at >= ?"),
            t.plugin.clone(),
        ),
    };
    let row: (i64, Option<i64>) = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(&key)
        .bind(since_ms)
        .fetch_one(p)
        .await?);
    Ok(row)
}

/// Whether `t` must wait, and until when. Rate rules are the plugin's, with the numbers the
/// operator granted instead where the grants say so.
pub async fn check(app: &App, t: &TargetRow) -> anyhow::Result<Option<Deferral>> {
    let sql = app
        .db
        .sql("SELECT COUNT(*) FROM post_targets WHERE plugin_id = ? AND status = 'publishing'");
    let busy: i64 = on_db!(&app.db, |p| sqlx::query_scalar(sql)
        .bind(&t.plugin)
        .fetch_one(p)
        .await?);
    if busy >= PLUGIN_CONCURRENCY {
        return Ok(Some(Deferral {
            reason: format!(
                "{} posts to {} are being published right now; this one follows shortly",
                busy, t.plugin
            ),
            at_ms: now_ms() + 2_000,
        }));
    }
    let mut info = app.runtime.describe_platform(&t.plugin).await?;
    if let Some(p) = app.runtime.registry.get(&t.plugin) {
        for rule in &mut info.rate_limits {
            rule.limit = p.grants.limits.rate_limit(&rule.counts, rule.limit);
        }
    }
    let now = now_ms();
    if let Some(d) = requests_deferral(app, t, &info, now) {
        return Ok(Some(d));
    }
    for rule in info
        .rate_limits
        .iter()
        .filter(|r| r.counts == "posts" && r.limit > 0)
    {
        let window = i64::from(rule.window_secs) * 1000;
        let (count, oldest) = count_published(app, t, rule.scope, now - window).await?;
        if count >= i64::from(rule.limit) {
            let at_ms = oldest.unwrap_or(now) + window + 1_000;
            let scope = match rule.scope {
                RateScope::Account => "this account",
                RateScope::App => "this app",
            };
            return Ok(Some(Deferral {
                reason: format!(
                    "{} allows {} posts per {} for {scope}; this post waits until {}",
                    info.display_name,
                    rule.limit,
                    human_window(rule.window_secs),
                    rfc3339(at_ms)
                ),
                at_ms,
            }));
        }
    }
    Ok(None)
}

/// `requests` rules count the plugin's HTTP requests sent from this node: a target whose
/// account (or app) used up its window waits until the oldest request leaves it.
fn requests_deferral(app: &App, t: &TargetRow, info: &PlatformInfo, now: i64) -> Option<Deferral> {
    let ledger = app.runtime.requests_sent();
    info.rate_limits
        .iter()
        .filter(|r| r.counts == "requests" && r.limit > 0)
        .find_map(|rule| {
            let window = i64::from(rule.window_secs) * 1000;
            let (scope, whom) = match rule.scope {
                RateScope::Account => (
                    Scope::Account(t.plugin.clone(), t.account_id.clone()),
                    "this account",
                ),
                RateScope::App => (Scope::Plugin(t.plugin.clone()), "this app"),
            };
            let (count, oldest) = ledger.count(&scope, window, now);
            (count >= rule.limit as usize).then(|| {
                let at_ms = oldest.unwrap_or(now) + window + 1_000;
                Deferral {
                    reason: format!(
                        "{} allows {} API requests per {} for {whom}; this post waits until {}",
                        info.display_name,
                        rule.limit,
                        human_window(rule.window_secs),
                        rfc3339(at_ms)
                    ),
                    at_ms,
                }
            })
        })
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

fn human_window(secs: u32) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} h", s / 3600),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
