//! The activity log: who did what in a workspace.

use super::Db;
use crate::on_db;
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Records one action. `details` never holds secrets (callers pass ids and names only).
pub async fn record(
    db: &Db,
    workspace_id: &str,
    actor_id: Option<&str>,
    action: &str,
    subject_type: &str,
    subject_id: Option<&str>,
    details: serde_json::Value,
) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO activity (id, workspace_id, actor_id, action, subject_type, subject_id, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    let id = uuid::Uuid::now_v7().to_string();
    let details = details.to_string();
    on_db!(db, |p| sqlx::query(sql)
        .bind(&id)
        .bind(workspace_id)
        .bind(actor_id)
        .bind(action)
        .bind(subject_type)
        .bind(subject_id)
        .bind(&details)
        .bind(Utc::now())
        .execute(p)
        .await
        .map(|_| ()))?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Activity {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<String>,
    /// JSON text of the action's details.
    pub details: String,
    pub created_at: DateTime<Utc>,
}
