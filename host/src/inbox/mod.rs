//! The comments inbox: comments and mentions arrive from inbound webhooks and from polling
//! (`poll-comments`); a person marks them handled or ignored, has an AI draft a reply,
//! edits it and approves it; the `comment-reply` job sends it through the plugin. Auto-reply
//! rules of an account (none, so off, by default) answer matching comments on their own.

pub mod poll;
pub mod reply;
pub mod rules;

use crate::ai::{AiError, Message, Role};
use crate::app::App;
use crate::store::Tx;
use crate::store::accounts::AccountRow;
use crate::store::inbox::{self as store, Item, NewItem, Reply};
use chrono::{DateTime, Utc};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::Comment;

pub const COMMENT: &str = "comment";
pub const MENTION: &str = "mention";
pub const FROM_WEBHOOK: &str = "webhook";
pub const FROM_POLL: &str = "poll";

/// Longest reply text accepted, in characters (the longest any platform takes is lower).
pub const MAX_REPLY_CHARS: usize = 10_000;

/// The item a plugin comment becomes for `account`.
pub fn new_item(
    account: &AccountRow,
    kind: &'static str,
    c: Comment,
    source: &'static str,
) -> NewItem {
    NewItem {
        workspace_id: account.workspace_id.clone(),
        account_id: account.id.clone(),
        plugin_id: account.plugin_id.clone(),
        kind,
        remote_id: c.remote_id,
        post_remote_id: c.post_remote_id,
        parent_remote_id: c.parent_remote_id,
        author_name: c.author_name,
        author_id: c.author_id,
        text: c.text,
        remote_created_at: DateTime::<Utc>::from_timestamp(c.created_at as i64, 0)
            .unwrap_or_else(Utc::now),
        source,
    }
}

/// The write-lock key of every transaction that adds items (webhook deliveries, poll
/// pages). On PostgreSQL two transactions adding the same comments in different orders (a
/// webhook batch and a poll page) would each wait on the other's unique-index entry and
/// deadlock; one lock makes them take turns, as SQLite's single writer does anyway.
pub const NEW_ITEMS_LOCK: &str = "inbox:new-items";

/// Adds an item with its `received` log entry; None when the account already has it (a
/// comment seen before, by webhook or poll). Runs in a transaction of [`NEW_ITEMS_LOCK`].
pub async fn insert_logged(
    app: &App,
    tx: &mut Tx,
    item: &NewItem,
) -> anyhow::Result<Option<String>> {
    let Some(id) = store::insert(&app.db, tx, item).await? else {
        return Ok(None);
    };
    store::log(
        &app.db,
        tx,
        &id,
        None,
        "received",
        serde_json::json!({ "source": item.source, "kind": item.kind }),
    )
    .await?;
    Ok(Some(id))
}

/// After new items were stored: auto-reply rules get their turn. A rule failing is written
/// to the item's log; the item stays pending for a person.
pub async fn after_received(app: &App, ids: &[String]) {
    for id in ids {
        if let Err(e) = rules::apply(app, id).await {
            tracing::warn!(item = %id, error = %format!("{e:#}"), "auto-reply rule failed");
            let _ = log_alone(
                app,
                id,
                "auto_reply_failed",
                serde_json::json!({"error": format!("{e:#}")}),
            )
            .await;
        }
    }
}

/// One log entry in its own transaction.
pub async fn log_alone(
    app: &App,
    item_id: &str,
    action: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let mut tx = app.db.write_tx(&format!("inbox:{item_id}")).await?;
    store::log(&app.db, &mut tx, item_id, None, action, details).await?;
    tx.commit().await
}

/// Asks the workspace's AI for a reply to the item, in the workspace's brand voice, with
/// the post the comment is on when it is one of the workspace's.
pub async fn ai_draft(app: &App, item: &Item) -> Result<String, AiError> {
    let voice = crate::ai::providers::get(app, &item.workspace_id)
        .await?
        .brand_voice;
    let system = format!(
        "You write replies to comments on a creator's {} posts. Answer briefly, warmly and on topic, in the language of the comment. Answer with the reply text only.",
        item.plugin_id
    );
    let comment = format!("Comment by {}:\n{}", item.author_name, item.text);
    let prompt = match &item.target_id {
        Some(target) => match post_text(app, target).await? {
            Some(post) => format!("The post:\n{post}\n\n{comment}"),
            None => comment,
        },
        None => comment,
    };
    let messages = vec![
        Message {
            role: Role::System,
            content: crate::ai::assist::with_voice(&system, voice.as_deref()),
        },
        Message {
            role: Role::User,
            content: prompt,
        },
    ];
    let answer = crate::ai::complete(app, &item.workspace_id, "comment-reply", messages).await?;
    let text = answer.text.trim().to_string();
    if text.is_empty() {
        return Err(AiError::Invalid {
            kind: "empty-draft",
            detail: "the AI provider answered with an empty reply".into(),
        });
    }
    Ok(text)
}

/// The text of the post a target belongs to.
async fn post_text(app: &App, target_id: &str) -> anyhow::Result<Option<String>> {
    let sql = app
        .db
        .sql("SELECT p.text FROM posts p JOIN post_targets t ON t.post_id = p.id WHERE t.id = ?");
    Ok(crate::on_db!(&app.db, |p| sqlx::query_scalar(sql)
        .bind(target_id)
        .fetch_optional(p)
        .await?))
}

/// Why a reply cannot be queued.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("a reply to this comment is already being sent")]
    InFlight,
    #[error("this comment was already answered")]
    AlreadySent,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Queues `text` as the reply to the item (`actor` approved it, None for a rule). The job
/// is queued first: its dedupe key is what keeps two approvals from sending two replies.
pub async fn queue_reply(
    app: &App,
    item: &Item,
    actor: Option<&str>,
    text: &str,
) -> Result<String, ReplyError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_REPLY_CHARS {
        return Err(ReplyError::Invalid(format!(
            "a reply is 1 to {MAX_REPLY_CHARS} characters"
        )));
    }
    if item.reply_status.as_deref() == Some("sent") {
        return Err(ReplyError::AlreadySent);
    }
    let job = reply::enqueue(app, item, text)
        .await?
        .ok_or(ReplyError::InFlight)?;
    let mut tx = app.db.write_tx(&format!("inbox:{}", item.id)).await?;
    store::set_reply(
        &app.db,
        &mut tx,
        &item.id,
        &Reply {
            status: "queued",
            text: Some(text),
            remote_id: None,
            error: None,
        },
    )
    .await?;
    store::log(
        &app.db,
        &mut tx,
        &item.id,
        actor,
        "reply_approved",
        serde_json::json!({ "job_id": job, "text": text }),
    )
    .await?;
    tx.commit().await?;
    app.jobs_waker.wake();
    Ok(job)
}
