//! Outgoing webhooks: per-workspace endpoints receive signed JSON for published, failed,
//! in-doubt and needs-reconnect events. Each delivery is a durable job retried with
//! backoff; every attempt is logged.
//!
//! Signature: `Plugboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`
//! with the endpoint's secret (the scheme Stripe popularised: the timestamp stops replays).

use crate::app::App;
use crate::events::Event;
use crate::jobs::queue::{self, NewJob};
use crate::jobs::{Handler, Job, Outcome, now_ms};
use crate::on_db;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

pub const KIND: &str = "webhook";

/// Events endpoints can subscribe to.
pub const EVENTS: &[&str] = &[
    "post.published",
    "post.failed",
    "post.in_doubt",
    "account.needs_reconnect",
];

/// The webhook event name of a status event, if endpoints get it.
pub fn event_name(e: &Event) -> Option<&'static str> {
    match (e.kind.as_str(), e.status.as_deref()) {
        ("target.status", Some("published")) => Some("post.published"),
        ("target.status", Some("failed")) => Some("post.failed"),
        ("target.status", Some("in_doubt")) => Some("post.in_doubt"),
        ("target.status", Some("paused")) | ("account.needs_reconnect", _) => {
            Some("account.needs_reconnect")
        }
        _ => None,
    }
}

/// Enqueues a delivery to every active endpoint of the workspace that wants this event.
pub async fn dispatch(app: &App, e: &Event) -> anyhow::Result<()> {
    let Some(name) = event_name(e) else {
        return Ok(());
    };
    let sql = app
        .db
        .sql("SELECT id, events FROM webhook_endpoints WHERE workspace_id = ? AND active = ?");
    let endpoints: Vec<(String, String)> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(&e.workspace_id)
        .bind(true)
        .fetch_all(p)
        .await?);
    for (id, events) in endpoints {
        let wanted: Vec<String> = serde_json::from_str(&events).unwrap_or_default();
        if !wanted.iter().any(|w| w == name) {
            continue;
        }
        let payload = serde_json::json!({
            "id": uuid::Uuid::now_v7().to_string(),
            "event": name,
            "workspace_id": e.workspace_id,
            "data": e,
        });
        queue::enqueue(
            &app.db,
            NewJob {
                workspace_id: Some(e.workspace_id.clone()),
                subject_id: Some(id.clone()),
                max_attempts: 10,
                ..NewJob::now(
                    KIND,
                    serde_json::json!({"endpoint": id, "event": name, "body": payload}),
                )
            },
        )
        .await?;
    }
    app.jobs_waker.wake();
    Ok(())
}

pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

pub struct DeliveryHandler;

impl DeliveryHandler {
    async fn log(
        app: &App,
        job: &Job,
        endpoint: &str,
        event: &str,
        body: &str,
        status: Option<u16>,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let sql = app.db.sql(
            "INSERT INTO webhook_deliveries (id, endpoint_id, workspace_id, event, payload, attempt, status_code, error, delivered, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        on_db!(&app.db, |p| sqlx::query(sql)
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(endpoint)
            .bind(job.workspace_id.as_deref().unwrap_or_default())
            .bind(event)
            .bind(body)
            .bind(job.attempts)
            .bind(status.map(i32::from))
            .bind(error)
            .bind(delivered)
            .bind(now_ms())
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn deliver(&self, app: &App, job: &Job) -> anyhow::Result<Outcome> {
        let endpoint = job.payload["endpoint"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let event = job.payload["event"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let body = job.payload["body"].to_string();
        let sql = app
            .db
            .sql("SELECT url, secret, active FROM webhook_endpoints WHERE id = ?");
        let row: Option<(String, String, bool)> = on_db!(&app.db, |p| sqlx::query_as(sql)
            .bind(&endpoint)
            .fetch_optional(p)
            .await?);
        let Some((url, secret, active)) = row else {
            return Ok(Outcome::Done(Some(
                serde_json::json!({"skipped": "endpoint deleted"}),
            )));
        };
        if !active {
            return Ok(Outcome::Done(Some(
                serde_json::json!({"skipped": "endpoint disabled"}),
            )));
        }
        let secret = String::from_utf8(app.cipher.open(&secret)?)?;
        let parsed = url::Url::parse(&url)?;
        if let Err(e) = app.outbound.check_literal(&parsed) {
            Self::log(app, job, &endpoint, &event, &body, None, Some(&e)).await?;
            return Ok(Outcome::Fail(format!("refused to deliver to {url}: {e}")));
        }
        let ts = chrono::Utc::now().timestamp();
        let sent = app
            .outbound
            .client()
            .post(parsed)
            .timeout(Duration::from_secs(10))
            .header("Content-Type", "application/json")
            .header("Plugboard-Event", &event)
            .header("Plugboard-Delivery", job.id.as_str())
            .header("Plugboard-Signature", signature(&secret, ts, &body))
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => {
                Self::log(
                    app,
                    job,
                    &endpoint,
                    &event,
                    &body,
                    Some(resp.status().as_u16()),
                    None,
                )
                .await?;
                Ok(Outcome::Done(None))
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs);
                Self::log(
                    app,
                    job,
                    &endpoint,
                    &event,
                    &body,
                    Some(status),
                    Some(&format!("HTTP {status}")),
                )
                .await?;
                Ok(Outcome::Retry {
                    error: format!("the endpoint answered HTTP {status}"),
                    after,
                })
            }
            Err(e) => {
                let error = format!("{e}");
                Self::log(app, job, &endpoint, &event, &body, None, Some(&error)).await?;
                Ok(Outcome::Retry { error, after: None })
            }
        }
    }
}

#[async_trait::async_trait]
impl Handler for DeliveryHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, app: &Arc<App>, job: &Job) -> Outcome {
        self.deliver(app, job)
            .await
            .unwrap_or_else(|e| Outcome::Retry {
                error: format!("{e:#}"),
                after: None,
            })
    }
}

/// Re-encrypts every endpoint secret during a credentials-key rotation.
pub async fn reseal_secrets(
    db: &crate::store::Db,
    tx: &mut crate::store::Tx,
    reseal: &dyn Fn(&str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<usize> {
    use crate::on_tx;
    let sql = db.sql("SELECT id, secret FROM webhook_endpoints");
    let rows: Vec<(String, String)> =
        on_tx!(tx, |c| sqlx::query_as(sql).fetch_all(&mut **c).await?);
    let mut changed = 0;
    for (id, secret) in rows {
        let Some(new) = reseal(&secret)? else {
            continue;
        };
        let update = db.sql("UPDATE webhook_endpoints SET secret = ? WHERE id = ? AND secret = ?");
        on_tx!(tx, |c| sqlx::query(update)
            .bind(&new)
            .bind(&id)
            .bind(&secret)
            .execute(&mut **c)
            .await
            .map(|_| ())?);
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_stripe_style() {
        let s = super::signature("whsec", 1_700_000_000, "{}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
    }
}
