//! Outgoing webhook endpoints of a workspace and their delivery log.

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::jobs::now_ms;
use crate::on_db;
use crate::webhooks::EVENTS;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(deliveries))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// https URL (http only for loopback during development).
    pub url: String,
    /// Any of post.published, post.failed, post.in_doubt, account.needs_reconnect.
    pub events: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    /// Only in the answer to the creation: the signing secret, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/webhooks", tag = "webhooks", summary = "Add an endpoint (the signing secret is shown once)",
    params(("workspace_id" = String, Path)), request_body = EndpointInput, security(("bearer" = [])),
    responses((status = 201, body = Endpoint), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<EndpointInput>,
) -> Result<(StatusCode, axum::Json<Endpoint>), Problem> {
    member.require(Role::Admin)?;
    let url = url::Url::parse(&input.url)
        .map_err(|e| Problem::unprocessable("invalid-url", format!("`url` is not a URL: {e}")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(Problem::unprocessable(
            "invalid-url",
            "webhook URLs must be https",
        ));
    }
    if input.events.is_empty() || input.events.len() > EVENTS.len() {
        return Err(Problem::unprocessable(
            "invalid-events",
            format!("choose events among {}", EVENTS.join(", ")),
        ));
    }
    if let Some(bad) = input.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(Problem::unprocessable(
            "invalid-events",
            format!("unknown event `{bad}`; choose among {}", EVENTS.join(", ")),
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let secret = crate::api::caller::new_token("whsec_");
    let sealed = app.cipher.seal(secret.as_bytes())?;
    let sql = app.db.sql("INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    let events = serde_json::to_string(&input.events).map_err(anyhow::Error::from)?;
    on_db!(&app.db, |p| sqlx::query(sql)
        .bind(&id)
        .bind(&member.workspace_id)
        .bind(url.as_str())
        .bind(&events)
        .bind(&sealed)
        .bind(true)
        .bind(now_ms())
        .execute(p)
        .await
        .map(|_| ()))?;
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "webhook.created",
        "webhook",
        Some(&id),
        serde_json::json!({"url": url.as_str()}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Endpoint {
            id,
            url: url.to_string(),
            events: input.events,
            active: true,
            secret: Some(secret),
        }),
    ))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/webhooks", tag = "webhooks", summary = "List endpoints",
    params(("workspace_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<Endpoint>), (status = 403, body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<Vec<Endpoint>>, Problem> {
    member.require(Role::Admin)?;
    let sql = app.db.sql("SELECT id, url, events, active FROM webhook_endpoints WHERE workspace_id = ? ORDER BY created_at");
    let rows: Vec<(String, String, String, bool)> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(&member.workspace_id)
        .fetch_all(p)
        .await)?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|(id, url, events, active)| Endpoint {
                id,
                url,
                events: serde_json::from_str(&events).unwrap_or_default(),
                active,
                secret: None,
            })
            .collect(),
    ))
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/webhooks/{webhook_id}", tag = "webhooks", summary = "Remove an endpoint",
    params(("workspace_id" = String, Path), ("webhook_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    member.require(Role::Admin)?;
    let sql = app
        .db
        .sql("DELETE FROM webhook_endpoints WHERE id = ? AND workspace_id = ?");
    let n: u64 = on_db!(&app.db, |p| sqlx::query(sql)
        .bind(&id)
        .bind(&member.workspace_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(Problem::not_found(format!("webhook `{id}` not found")));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: String,
    pub event: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub delivered: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/webhooks/{webhook_id}/deliveries", tag = "webhooks", summary = "The delivery log (newest first, last 100)",
    params(("workspace_id" = String, Path), ("webhook_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<Delivery>), (status = 404, body = Problem)))]
pub async fn deliveries(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_workspace_id, id)): Path<(String, String)>,
) -> Result<axum::Json<Vec<Delivery>>, Problem> {
    member.require(Role::Admin)?;
    let owned = app
        .db
        .sql("SELECT COUNT(*) FROM webhook_endpoints WHERE id = ? AND workspace_id = ?");
    let n: i64 = on_db!(&app.db, |p| sqlx::query_scalar(owned)
        .bind(&id)
        .bind(&member.workspace_id)
        .fetch_one(p)
        .await)?;
    if n == 0 {
        return Err(Problem::not_found(format!("webhook `{id}` not found")));
    }
    let sql = app.db.sql(
        "SELECT d.id, d.event, d.attempt, d.status_code, d.error, d.delivered, d.created_at FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.endpoint_id = ? AND e.workspace_id = ? ORDER BY d.created_at DESC LIMIT 100",
    );
    type Row = (String, String, i32, Option<i32>, Option<String>, bool, i64);
    let rows: Vec<Row> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(&id)
        .bind(&member.workspace_id)
        .fetch_all(p)
        .await)?;
    Ok(axum::Json(
        rows.into_iter()
            .map(
                |(id, event, attempt, status_code, error, delivered, created_at)| Delivery {
                    id,
                    event,
                    attempt,
                    status_code,
                    error,
                    delivered,
                    created_at,
                },
            )
            .collect(),
    ))
}
