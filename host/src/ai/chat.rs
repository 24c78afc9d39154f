//! The strategist: conversations of a workspace with their stored messages. Continuing a
//! conversation sends the brand voice and the recent history along with the new message.

use super::{AiError, Message, Role};
use crate::app::App;
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_MESSAGE_CHARS: usize = 20_000;
/// Messages of history sent with a new one: enough context for a strategy discussion,
/// bounded so that a long conversation does not grow every call's cost without end.
pub const HISTORY_MESSAGES: i64 = 40;

pub const COMPLETE: &str = "complete";
pub const CANCELLED: &str = "cancelled";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Conversation {
    pub id: String,
    pub title: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StoredMessage {
    pub id: String,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// `complete`; `cancelled` when the client left mid-stream, `failed` when the provider
    /// failed (content is what had arrived).
    pub status: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub created_at: DateTime<Utc>,
}

const STRATEGIST: &str = "You are the content strategist of a creator's social media studio. Give concrete, actionable advice on what to post, where, when and how; propose drafts when useful; keep answers focused.";

pub async fn create(
    app: &App,
    workspace_id: &str,
    user_id: &str,
    title: &str,
) -> Result<Conversation, AiError> {
    let now = crate::media::ingest::now();
    let c = Conversation {
        id: uuid::Uuid::now_v7().to_string(),
        title: title.to_string(),
        created_by: Some(user_id.to_string()),
        created_at: now,
        updated_at: now,
    };
    let sql = app.db.sql(
        "INSERT INTO ai_conversations (id, workspace_id, title, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    on_db!(&app.db, |p| sqlx::query(sql)
        .bind(&c.id)
        .bind(workspace_id)
        .bind(&c.title)
        .bind(&c.created_by)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(c)
}

/// The workspace's conversations, most recently active first.
pub async fn list(app: &App, workspace_id: &str) -> Result<Vec<Conversation>, AiError> {
    let sql = app.db.sql(
        "SELECT id, title, created_by, created_at, updated_at FROM ai_conversations WHERE workspace_id = ? ORDER BY updated_at DESC, id DESC",
    );
    Ok(on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .fetch_all(p)
        .await?))
}

pub async fn get(app: &App, workspace_id: &str, id: &str) -> Result<Conversation, AiError> {
    let sql = app.db.sql(
        "SELECT id, title, created_by, created_at, updated_at FROM ai_conversations WHERE id = ? AND workspace_id = ?",
    );
    let found: Option<Conversation> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(p)
        .await?);
    found.ok_or_else(|| AiError::NotFound(format!("conversation `{id}` not found")))
}

/// The messages of a conversation (already checked to be the workspace's), oldest first.
pub async fn messages(app: &App, conversation_id: &str) -> Result<Vec<StoredMessage>, AiError> {
    let sql = app.db.sql(
        "SELECT id, role, content, status, provider, model, created_at FROM ai_messages WHERE conversation_id = ? ORDER BY created_at, id",
    );
    Ok(on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(conversation_id)
        .fetch_all(p)
        .await?))
}

/// Deletes a conversation with its messages; false when the workspace has no such one.
pub async fn delete(app: &App, workspace_id: &str, id: &str) -> Result<bool, AiError> {
    let mut tx = app.db.write_tx(&format!("ai-conversation:{id}")).await?;
    let messages = app.db.sql(
        "DELETE FROM ai_messages WHERE conversation_id IN (SELECT id FROM ai_conversations WHERE id = ? AND workspace_id = ?)",
    );
    on_tx!(&mut tx, |c| sqlx::query(messages)
        .bind(id)
        .bind(workspace_id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    let conversation = app
        .db
        .sql("DELETE FROM ai_conversations WHERE id = ? AND workspace_id = ?");
    let deleted = on_tx!(&mut tx, |c| sqlx::query(conversation)
        .bind(id)
        .bind(workspace_id)
        .execute(&mut **c)
        .await?
        .rows_affected());
    tx.commit().await?;
    Ok(deleted > 0)
}

/// Stores a message and marks the conversation active.
pub async fn append(
    app: &App,
    conversation_id: &str,
    role: &str,
    content: &str,
    status: &str,
    by: Option<(&str, &str)>,
) -> Result<StoredMessage, AiError> {
    let now = crate::media::ingest::now();
    let m = StoredMessage {
        id: uuid::Uuid::now_v7().to_string(),
        role: role.to_string(),
        content: content.to_string(),
        status: status.to_string(),
        provider: by.map(|b| b.0.to_string()),
        model: by.map(|b| b.1.to_string()),
        created_at: now,
    };
    let mut tx = app
        .db
        .write_tx(&format!("ai-conversation:{conversation_id}"))
        .await?;
    let insert = app.db.sql(
        "INSERT INTO ai_messages (id, conversation_id, role, content, status, provider, model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    on_tx!(&mut tx, |c| sqlx::query(insert)
        .bind(&m.id)
        .bind(conversation_id)
        .bind(&m.role)
        .bind(&m.content)
        .bind(&m.status)
        .bind(&m.provider)
        .bind(&m.model)
        .bind(m.created_at)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    let touch = app
        .db
        .sql("UPDATE ai_conversations SET updated_at = ? WHERE id = ?");
    on_tx!(&mut tx, |c| sqlx::query(touch)
        .bind(now)
        .bind(conversation_id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    tx.commit().await?;
    Ok(m)
}

/// What the provider is sent to continue a conversation: the strategist's instructions
/// with the brand voice, then the recent history (which ends with the new user message).
/// Cancelled and failed answers are left out: the user never saw them whole.
pub async fn prompt(
    app: &App,
    workspace_id: &str,
    conversation_id: &str,
) -> Result<Vec<Message>, AiError> {
    let voice = super::providers::get(app, workspace_id).await?.brand_voice;
    let sql = app.db.sql(
        "SELECT id, role, content, status, provider, model, created_at FROM ai_messages WHERE conversation_id = ? AND status = 'complete' ORDER BY created_at DESC, id DESC LIMIT ?",
    );
    let mut recent: Vec<StoredMessage> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(conversation_id)
        .bind(HISTORY_MESSAGES)
        .fetch_all(p)
        .await?);
    recent.reverse();
    let mut out = vec![Message {
        role: Role::System,
        content: super::assist::with_voice(STRATEGIST, voice.as_deref()),
    }];
    out.extend(recent.into_iter().map(|m| Message {
        role: if m.role == "assistant" {
            Role::Assistant
        } else {
            Role::User
        },
        content: m.content,
    }));
    Ok(out)
}
