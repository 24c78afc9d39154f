//! The comments inbox: list and read comments and mentions, mark them handled or ignored,
//! draft a reply with AI, edit and approve it (sent by the `comment-reply` job), poll an
//! account on demand, and manage an account's auto-reply rules.

use super::caller::{Member, Role};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::inbox::{self, ReplyError, poll, rules};
use crate::store::inbox::{self as store, Filter, Item, LogEntry, Rule};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(set_state))
        .routes(routes!(draft_ai, edit_draft))
        .routes(routes!(approve))
        .routes(routes!(poll_now))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(delete_rule))
}

impl From<ReplyError> for Problem {
    fn from(e: ReplyError) -> Problem {
        match e {
            ReplyError::InFlight => Problem::conflict("reply-in-flight", e.to_string()),
            ReplyError::AlreadySent => Problem::conflict("already-replied", e.to_string()),
            ReplyError::Invalid(m) => Problem::unprocessable("invalid-reply", m),
            ReplyError::Internal(err) => Problem::internal(&err),
        }
    }
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("inbox item `{id}` not found"))
}

async fn item_of(app: &App, member: &Member, id: &str) -> Result<Item, Problem> {
    store::get(&app.db, &member.workspace_id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// An account of the caller's workspace (any status), else 404.
async fn account_of(
    app: &App,
    member: &Member,
    id: &str,
) -> Result<crate::store::accounts::AccountRow, Problem> {
    crate::store::accounts::get(&app.db, &member.workspace_id, id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("account `{id}` not found")))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this account's items.
    pub account: Option<String>,
    /// `pending`, `handled` or `ignored`.
    pub state: Option<String>,
    /// `comment` or `mention`.
    pub kind: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub next_cursor: Option<String>,
}

const STATES: &[&str] = &[store::PENDING, store::HANDLED, store::IGNORED];

#[utoipa::path(get, path = "/workspaces/{workspace_id}/inbox", tag = "inbox", summary = "Comments and mentions, newest first",
    params(("workspace_id" = String, Path), ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ItemPage), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(app): State<Arc<App>>,
    member: Member,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<ItemPage>, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Problem::bad_request(
            "invalid-query",
            "`limit` must be 1 to 100",
        ));
    }
    if q.state.as_deref().is_some_and(|s| !STATES.contains(&s)) {
        return Err(Problem::bad_request(
            "invalid-query",
            "`state` is pending, handled or ignored",
        ));
    }
    if q.kind
        .as_deref()
        .is_some_and(|k| k != inbox::COMMENT && k != inbox::MENTION)
    {
        return Err(Problem::bad_request(
            "invalid-query",
            "`kind` is comment or mention",
        ));
    }
    let mut items = store::list(
        &app.db,
        &member.workspace_id,
        &Filter {
            account_id: q.account,
            state: q.state,
            kind: q.kind,
            before: q.cursor,
            limit: limit + 1,
        },
    )
    .await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|i| i.id.clone())
    } else {
        None
    };
    Ok(axum::Json(ItemPage { items, next_cursor }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemDetail {
    pub item: Item,
    /// What happened to the item, oldest first.
    pub log: Vec<LogEntry>,
}

async fn detail(app: &App, member: &Member, id: &str) -> Result<ItemDetail, Problem> {
    let item = item_of(app, member, id).await?;
    let log = store::log_of(&app.db, &item.id).await?;
    Ok(ItemDetail { item, log })
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/inbox/{item_id}", tag = "inbox", summary = "One comment with its log",
    params(("workspace_id" = String, Path), ("item_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ItemDetail), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, id)): Path<(String, String)>,
) -> Result<axum::Json<ItemDetail>, Problem> {
    Ok(axum::Json(detail(&app, &member, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateInput {
    /// `pending`, `handled` or `ignored`.
    pub state: String,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/inbox/{item_id}/state", tag = "inbox", summary = "Mark handled, ignored or pending again",
    params(("workspace_id" = String, Path), ("item_id" = String, Path)), request_body = StateInput, security(("bearer" = [])),
    responses((status = 200, body = ItemDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_state(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, id)): Path<(String, String)>,
    Json(input): Json<StateInput>,
) -> Result<axum::Json<ItemDetail>, Problem> {
    member.require(Role::Editor)?;
    if !STATES.contains(&input.state.as_str()) {
        return Err(Problem::unprocessable(
            "invalid-state",
            "`state` is pending, handled or ignored",
        ));
    }
    let item = item_of(&app, &member, &id).await?;
    let mut tx = app.db.write_tx(&format!("inbox:{}", item.id)).await?;
    store::set_state(&app.db, &mut tx, &item.id, &input.state).await?;
    store::log(
        &app.db,
        &mut tx,
        &item.id,
        Some(&member.user.id),
        "state_changed",
        serde_json::json!({ "from": item.state, "to": input.state }),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(detail(&app, &member, &id).await?))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/inbox/{item_id}/draft", tag = "inbox", summary = "Draft a reply with AI",
    description = "Asks the workspace's AI providers for a reply and keeps it as the item's draft, to edit and approve. Nothing is sent.",
    params(("workspace_id" = String, Path), ("item_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ItemDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem)))]
pub async fn draft_ai(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, id)): Path<(String, String)>,
) -> Result<axum::Json<ItemDetail>, Problem> {
    member.require(Role::Editor)?;
    let item = item_of(&app, &member, &id).await?;
    let text = inbox::ai_draft(&app, &item).await?;
    let mut tx = app.db.write_tx(&format!("inbox:{}", item.id)).await?;
    store::set_draft(&app.db, &mut tx, &item.id, &text, "ai").await?;
    store::log(
        &app.db,
        &mut tx,
        &item.id,
        Some(&member.user.id),
        "draft_ai",
        serde_json::json!({ "text": text }),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(detail(&app, &member, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftInput {
    pub text: String,
}

#[utoipa::path(put, path = "/workspaces/{workspace_id}/inbox/{item_id}/draft", tag = "inbox", summary = "Write or edit the reply draft",
    params(("workspace_id" = String, Path), ("item_id" = String, Path)), request_body = DraftInput, security(("bearer" = [])),
    responses((status = 200, body = ItemDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn edit_draft(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, id)): Path<(String, String)>,
    Json(input): Json<DraftInput>,
) -> Result<axum::Json<ItemDetail>, Problem> {
    member.require(Role::Editor)?;
    let text = input.text.trim();
    if text.is_empty() || text.chars().count() > inbox::MAX_REPLY_CHARS {
        return Err(Problem::unprocessable(
            "invalid-reply",
            format!("a reply is 1 to {} characters", inbox::MAX_REPLY_CHARS),
        ));
    }
    let item = item_of(&app, &member, &id).await?;
    let mut tx = app.db.write_tx(&format!("inbox:{}", item.id)).await?;
    store::set_draft(&app.db, &mut tx, &item.id, text, "person").await?;
    store::log(
        &app.db,
        &mut tx,
        &item.id,
        Some(&member.user.id),
        "draft_edited",
        serde_json::json!({ "text": text }),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(detail(&app, &member, &id).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveInput {
    /// The reply to send; default the item's draft.
    pub text: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Queued {
    pub job_id: String,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/inbox/{item_id}/approve", tag = "inbox", summary = "Approve the reply and send it",
    description = "Queues a `comment-reply` job that sends the draft (or `text`) through the account's plugin; the item becomes handled once the platform accepted it.",
    params(("workspace_id" = String, Path), ("item_id" = String, Path)), request_body = ApproveInput, security(("bearer" = [])),
    responses((status = 202, body = Queued), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn approve(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, id)): Path<(String, String)>,
    Json(input): Json<ApproveInput>,
) -> Result<(StatusCode, axum::Json<Queued>), Problem> {
    member.require(Role::Editor)?;
    let item = item_of(&app, &member, &id).await?;
    let text = input.text.or_else(|| item.draft.clone()).ok_or_else(|| {
        Problem::unprocessable("no-draft", "there is no draft to approve; send `text`")
    })?;
    let job_id = inbox::queue_reply(&app, &item, Some(&member.user.id), &text).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Queued { job_id })))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/accounts/{account_id}/comments/poll", tag = "inbox", summary = "Fetch new comments now",
    description = "Queues a `poll-comments` job for an account whose platform lists comments.",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)), security(("bearer" = [])),
    responses((status = 202, body = Queued), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn poll_now(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, account_id)): Path<(String, String)>,
) -> Result<(StatusCode, axum::Json<Queued>), Problem> {
    member.require(Role::Editor)?;
    let account = account_of(&app, &member, &account_id).await?;
    use plugboard_bindings::platform::exports::plugboard::plugin::publisher::Feature;
    if !crate::analytics::has_feature(&app, &account.plugin_id, Feature::Comments).await {
        return Err(Problem::unprocessable(
            "unsupported",
            format!("`{}` does not list comments", account.plugin_id),
        ));
    }
    let job_id = poll::enqueue(&app, &member.workspace_id, &account.id, 0)
        .await?
        .ok_or_else(|| {
            Problem::conflict("poll-in-flight", "a poll of this account is already queued")
        })?;
    Ok((StatusCode::ACCEPTED, axum::Json(Queued { job_id })))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleList {
    pub rules: Vec<Rule>,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/accounts/{account_id}/auto-reply-rules", tag = "inbox", summary = "An account's auto-reply rules",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RuleList), (status = 404, body = Problem)))]
pub async fn list_rules(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, account_id)): Path<(String, String)>,
) -> Result<axum::Json<RuleList>, Problem> {
    let account = account_of(&app, &member, &account_id).await?;
    let rules = store::rules(&app.db, &member.workspace_id, &account.id).await?;
    Ok(axum::Json(RuleList { rules }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// Matched case-insensitively anywhere in a new comment.
    pub keyword: String,
    /// `template` or `ai`.
    pub mode: String,
    /// The reply for `template` rules.
    pub template: Option<String>,
    /// Default false: a rule answers nothing until turned on.
    #[serde(default)]
    pub enabled: bool,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/accounts/{account_id}/auto-reply-rules", tag = "inbox", summary = "Add an auto-reply rule",
    description = "A new comment containing the keyword is answered without review: with the template, or with an AI draft. Disabled unless `enabled` is true.",
    params(("workspace_id" = String, Path), ("account_id" = String, Path)), request_body = RuleInput, security(("bearer" = [])),
    responses((status = 201, body = Rule), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_rule(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, account_id)): Path<(String, String)>,
    Json(input): Json<RuleInput>,
) -> Result<(StatusCode, axum::Json<Rule>), Problem> {
    member.require(Role::Editor)?;
    let account = account_of(&app, &member, &account_id).await?;
    let keyword = input.keyword.trim().to_string();
    if keyword.is_empty() || keyword.chars().count() > rules::MAX_KEYWORD_CHARS {
        return Err(Problem::unprocessable(
            "invalid-rule",
            format!("`keyword` is 1 to {} characters", rules::MAX_KEYWORD_CHARS),
        ));
    }
    let template = match (input.mode.as_str(), input.template) {
        (rules::TEMPLATE, Some(t))
            if !t.trim().is_empty() && t.chars().count() <= inbox::MAX_REPLY_CHARS =>
        {
            Some(t.trim().to_string())
        }
        (rules::TEMPLATE, _) => {
            return Err(Problem::unprocessable(
                "invalid-rule",
                format!(
                    "a `template` rule needs a `template` of 1 to {} characters",
                    inbox::MAX_REPLY_CHARS
                ),
            ));
        }
        (rules::AI, None) => None,
        (rules::AI, Some(_)) => {
            return Err(Problem::unprocessable(
                "invalid-rule",
                "an `ai` rule has no `template`",
            ));
        }
        _ => {
            return Err(Problem::unprocessable(
                "invalid-rule",
                "`mode` is template or ai",
            ));
        }
    };
    let rule = Rule {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: account.id.clone(),
        keyword,
        mode: input.mode,
        template,
        enabled: input.enabled,
        created_at: chrono::Utc::now(),
    };
    // The rule and its activity entry commit together.
    let mut tx = app.db.write_tx(&format!("rules:{}", account.id)).await?;
    store::insert_rule(&app.db, &mut tx, &member.workspace_id, &rule).await?;
    crate::store::activity::record_in(
        &app.db,
        &mut tx,
        crate::store::activity::Entry {
            workspace_id: &member.workspace_id,
            actor_id: Some(&member.user.id),
            action: "auto_reply_rule.created",
            subject_type: "account",
            subject_id: Some(&account.id),
            details: serde_json::json!({ "rule_id": rule.id, "enabled": rule.enabled }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(rule)))
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/accounts/{account_id}/auto-reply-rules/{rule_id}", tag = "inbox", summary = "Remove an auto-reply rule",
    params(("workspace_id" = String, Path), ("account_id" = String, Path), ("rule_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_rule(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, account_id, rule_id)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    member.require(Role::Editor)?;
    // The removal and its activity entry commit together, like the creation.
    let mut tx = app.db.write_tx(&format!("rules:{account_id}")).await?;
    if !store::delete_rule(
        &app.db,
        &mut tx,
        &member.workspace_id,
        &account_id,
        &rule_id,
    )
    .await?
    {
        return Err(Problem::not_found(format!("rule `{rule_id}` not found")));
    }
    crate::store::activity::record_in(
        &app.db,
        &mut tx,
        crate::store::activity::Entry {
            workspace_id: &member.workspace_id,
            actor_id: Some(&member.user.id),
            action: "auto_reply_rule.deleted",
            subject_type: "account",
            subject_id: Some(&account_id),
            details: serde_json::json!({ "rule_id": rule_id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
