//! AI assistance of a workspace: provider settings, the strategist chat (stored
//! conversations, answers as JSON or streamed as server-sent events), content assists,
//! generated images and speech into the media library, and token usage against the
//! workspace's monthly budget.

use super::auth::invalid_field;
use super::caller::{Member, Role};
use super::json::Json;
use super::media::MediaView;
use super::problem::Problem;
use crate::ai::assist::{self, Adapted, Asker, PromptKind, Target};
use crate::ai::chat::{self, Conversation, StoredMessage};
use crate::ai::media::{self as generated, ImageAsk, ImageMode, SpeechAsk};
use crate::ai::providers::{self, AiSettings, ProviderChoice};
use crate::ai::stream::{self, Event};
use crate::ai::usage::{self, Usage};
use crate::ai::{AiError, Request, Streamed, Tokens};
use crate::app::App;
use crate::runtime::error::CallError;
use crate::runtime::manifest::World;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(get_conversation, delete_conversation))
        .routes(routes!(post_message))
        .routes(routes!(improve))
        .routes(routes!(improve_prompt))
        .routes(routes!(adapt))
        .routes(routes!(hashtags))
        .routes(routes!(cta))
        .routes(routes!(images))
        .routes(routes!(speech))
        .routes(routes!(get_usage))
}

impl From<AiError> for Problem {
    fn from(e: AiError) -> Problem {
        let detail = e.to_string();
        match e {
            AiError::NoProvider(d) => Problem::conflict("ai-provider-missing", d),
            AiError::LimitExceeded { .. } => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "ai-limit-exceeded", detail)
            }
            AiError::Provider { error, .. } => match error {
                PluginError::RateLimited(_) => {
                    Problem::new(StatusCode::TOO_MANY_REQUESTS, "ai-rate-limited", detail)
                }
                PluginError::Transient(_) => {
                    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "ai-unavailable", detail)
                }
                PluginError::AuthExpired(_) => Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "ai-provider-auth",
                    format!("{detail}; check the API key in the workspace's app for this provider"),
                ),
                PluginError::InvalidContent(problems) => {
                    let errors = problems
                        .iter()
                        .map(|p| {
                            serde_json::json!({"field": p.field, "code": p.code, "message": p.message})
                        })
                        .collect();
                    Problem::unprocessable("ai-invalid-request", detail).with_errors(errors)
                }
                PluginError::Unsupported(_) => Problem::unprocessable("ai-unsupported", detail),
                PluginError::Permanent(_) => {
                    Problem::new(StatusCode::BAD_GATEWAY, "ai-provider-error", detail)
                }
            },
            AiError::Call(CallError::NotInstalled(_)) => {
                Problem::conflict("ai-provider-missing", detail)
            }
            AiError::Call(_) => {
                tracing::warn!(error = %detail, "AI plugin call failed");
                Problem::new(StatusCode::BAD_GATEWAY, "plugin-failed", detail)
            }
            AiError::Invalid { kind, detail } => Problem::unprocessable(kind, detail),
            AiError::NotFound(d) => Problem::not_found(d),
            AiError::Internal(err) => Problem::internal(&err),
        }
    }
}

fn asker(member: &Member) -> Asker {
    Asker {
        workspace_id: member.workspace_id.clone(),
        user_id: member.user.id.clone(),
    }
}

/// A required text of at most `max` characters (line breaks allowed).
fn body_text(field: &str, raw: &str, max: usize) -> Result<String, Problem> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(invalid_field(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(invalid_field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(t.to_string())
}

fn optional_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, Problem> {
    raw.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| body_text(field, t, max))
        .transpose()
}

fn count_in(field: &str, value: Option<u32>, default: u32, max: u32) -> Result<u32, Problem> {
    let v = value.unwrap_or(default);
    if v == 0 || v > max {
        return Err(invalid_field(field, format!("must be 1–{max}")));
    }
    Ok(v)
}

// ---------------------------------------------------------------- settings

/// New AI settings (replace the stored ones).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// Installed ai-provider plugins in fallback order; empty: every installed one.
    #[serde(default)]
    pub providers: Vec<ProviderChoice>,
    pub brand_voice: Option<String>,
    /// Tokens per calendar month (UTC); null: unlimited.
    pub monthly_token_limit: Option<i64>,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/ai/settings", tag = "ai", summary = "AI settings of the workspace",
    params(("workspace_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = AiSettings), (status = 404, body = Problem)))]
pub async fn get_settings(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<AiSettings>, Problem> {
    Ok(axum::Json(
        providers::get(&app, &member.workspace_id).await?,
    ))
}

#[utoipa::path(put, path = "/workspaces/{workspace_id}/ai/settings", tag = "ai", summary = "Set providers, brand voice and monthly token limit",
    description = "Admins only. Providers are tried in order; one that is busy, rate limited or not installed is skipped for the next (never after an answer has started streaming).",
    params(("workspace_id" = String, Path)), request_body = SettingsInput, security(("bearer" = [])),
    responses((status = 200, body = AiSettings), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_settings(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<SettingsInput>,
) -> Result<axum::Json<AiSettings>, Problem> {
    member.require(Role::Admin)?;
    let settings = providers::put(
        &app,
        &member.workspace_id,
        AiSettings {
            providers: input.providers,
            brand_voice: input.brand_voice,
            monthly_token_limit: input.monthly_token_limit,
            updated_at: None,
        },
    )
    .await?;
    crate::store::activity::record(
        &app.db,
        &member.workspace_id,
        Some(&member.user.id),
        "ai.settings.updated",
        "workspace",
        Some(&member.workspace_id),
        serde_json::json!({
            "providers": settings.providers.iter().map(|p| &p.plugin).collect::<Vec<_>>(),
            "monthly_token_limit": settings.monthly_token_limit,
        }),
    )
    .await?;
    Ok(axum::Json(settings))
}

// ---------------------------------------------------------------- conversations

#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    /// Default "New conversation".
    pub title: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    /// Oldest first.
    pub messages: Vec<StoredMessage>,
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/ai/conversations", tag = "ai", summary = "Strategist conversations, most recent first",
    params(("workspace_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConversationList), (status = 404, body = Problem)))]
pub async fn list_conversations(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<ConversationList>, Problem> {
    Ok(axum::Json(ConversationList {
        conversations: chat::list(&app, &member.workspace_id).await?,
    }))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/conversations", tag = "ai", summary = "Start a strategist conversation",
    params(("workspace_id" = String, Path)), request_body = NewConversation, security(("bearer" = [])),
    responses((status = 201, body = Conversation), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_conversation(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<NewConversation>,
) -> Result<(StatusCode, axum::Json<Conversation>), Problem> {
    member.require(Role::Editor)?;
    let title = match input.title.as_deref() {
        Some(t) => super::auth::text_field("title", t, chat::MAX_TITLE_CHARS)?,
        None => "New conversation".to_string(),
    };
    let c = chat::create(&app, &member.workspace_id, &member.user.id, &title).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

#[utoipa::path(get, path = "/workspaces/{workspace_id}/ai/conversations/{conversation_id}", tag = "ai", summary = "A conversation with its messages",
    params(("workspace_id" = String, Path), ("conversation_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConversationDetail), (status = 404, body = Problem)))]
pub async fn get_conversation(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, id)): Path<(String, String)>,
) -> Result<axum::Json<ConversationDetail>, Problem> {
    let conversation = chat::get(&app, &member.workspace_id, &id).await?;
    let messages = chat::messages(&app, &conversation.id).await?;
    Ok(axum::Json(ConversationDetail {
        conversation,
        messages,
    }))
}

#[utoipa::path(delete, path = "/workspaces/{workspace_id}/ai/conversations/{conversation_id}", tag = "ai", summary = "Delete a conversation and its messages",
    params(("workspace_id" = String, Path), ("conversation_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_conversation(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    member.require(Role::Editor)?;
    if !chat::delete(&app, &member.workspace_id, &id).await? {
        return Err(Problem::not_found(format!("conversation `{id}` not found")));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub content: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StreamQuery {
    /// Answer as server-sent events (as `Accept: text/event-stream` does).
    pub stream: Option<bool>,
}

/// The answer to a message, when not streamed.
#[derive(Serialize, ToSchema)]
pub struct ChatReply {
    pub user_message: StoredMessage,
    pub message: StoredMessage,
    pub usage: Tokens,
}

fn wants_stream(headers: &HeaderMap, query: &StreamQuery) -> bool {
    query.stream.unwrap_or(false)
        || headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/event-stream"))
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/conversations/{conversation_id}/messages", tag = "ai", summary = "Send a message to the strategist",
    description = "Answers JSON, or server-sent events with `Accept: text/event-stream` or `?stream=true`: `delta` events (`{\"text\": …}`) as the provider produces them, then `done` (`{message_id, provider, model, usage, finish_reason}`) or `error` (a problem object). A client that disconnects cancels the provider call; the partial answer is kept as `cancelled`.",
    params(("workspace_id" = String, Path), ("conversation_id" = String, Path), StreamQuery), request_body = NewMessage, security(("bearer" = [])),
    responses((status = 200, body = ChatReply, description = "the answer (JSON), or `text/event-stream`"), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn post_message(
    State(app): State<Arc<App>>,
    member: Member,
    Path((_ws, id)): Path<(String, String)>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    Json(input): Json<NewMessage>,
) -> Result<Response, Problem> {
    member.require(Role::Editor)?;
    let content = body_text("content", &input.content, chat::MAX_MESSAGE_CHARS)?;
    let conversation = chat::get(&app, &member.workspace_id, &id).await?;
    // Refusals that need no provider come before anything is stored or streamed.
    usage::check_budget(&app, &member.workspace_id).await?;
    providers::order(&app, &member.workspace_id).await?;
    let user_message = chat::append(
        &app,
        &conversation.id,
        "user",
        &content,
        chat::COMPLETE,
        None,
    )
    .await?;
    let req = Request {
        workspace_id: member.workspace_id.clone(),
        user_id: Some(member.user.id.clone()),
        purpose: "chat".into(),
        messages: chat::prompt(&app, &member.workspace_id, &conversation.id).await?,
        max_tokens: None,
        temperature: None,
    };
    if !wants_stream(&headers, &query) {
        let answer = crate::ai::run(&app, req).await?;
        let message = chat::append(
            &app,
            &conversation.id,
            "assistant",
            &answer.text,
            chat::COMPLETE,
            Some((&answer.provider, &answer.model)),
        )
        .await?;
        return Ok(axum::Json(ChatReply {
            user_message,
            message,
            usage: answer.usage,
        })
        .into_response());
    }
    let (sink, rx) = stream::channel();
    let (cancel, cancelled) = tokio::sync::oneshot::channel();
    let conversation_id = conversation.id;
    tokio::spawn(async move {
        let outcome = crate::ai::run_stream(&app, req, sink.clone(), cancelled).await;
        let finished = match outcome {
            Streamed::Done(answer) => chat::append(
                &app,
                &conversation_id,
                "assistant",
                &answer.text,
                chat::COMPLETE,
                Some((&answer.provider, &answer.model)),
            )
            .await
            .map(|m| {
                Event::Done(serde_json::json!({
                    "message_id": m.id,
                    "provider": answer.provider,
                    "model": answer.model,
                    "usage": answer.usage,
                    "finish_reason": answer.finish_reason,
                }))
            }),
            Streamed::Cancelled { text, provider } => {
                if !text.is_empty() {
                    let kept = chat::append(
                        &app,
                        &conversation_id,
                        "assistant",
                        &text,
                        chat::CANCELLED,
                        Some((&provider, "")),
                    )
                    .await;
                    if let Err(e) = kept {
                        tracing::error!(error = %e, "storing a cancelled answer failed");
                    }
                }
                return;
            }
            Streamed::Failed { error, text } => {
                if !text.is_empty()
                    && let Err(e) = chat::append(
                        &app,
                        &conversation_id,
                        "assistant",
                        &text,
                        chat::FAILED,
                        None,
                    )
                    .await
                {
                    tracing::error!(error = %e, "storing a failed answer failed");
                }
                Err(error)
            }
        };
        sink.send(match finished {
            Ok(done) => done,
            Err(e) => Event::Error(Problem::from(e)),
        });
    });
    Ok(stream::sse(rx, cancel).into_response())
}

// ---------------------------------------------------------------- assists

/// A text answer with who produced it.
#[derive(Serialize, ToSchema)]
pub struct TextAnswer {
    pub text: String,
    pub provider: String,
    pub model: String,
    pub usage: Tokens,
}

impl From<crate::ai::Answer> for TextAnswer {
    fn from(a: crate::ai::Answer) -> TextAnswer {
        TextAnswer {
            text: a.text,
            provider: a.provider,
            model: a.model,
            usage: a.usage,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImproveInput {
    pub text: String,
    /// What to change, e.g. "shorter, more playful".
    pub instructions: Option<String>,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/improve", tag = "ai", summary = "Improve a post text",
    params(("workspace_id" = String, Path)), request_body = ImproveInput, security(("bearer" = [])),
    responses((status = 200, body = TextAnswer), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn improve(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<ImproveInput>,
) -> Result<axum::Json<TextAnswer>, Problem> {
    member.require(Role::Editor)?;
    let text = body_text("text", &input.text, assist::MAX_TEXT_CHARS)?;
    let instructions = optional_text(
        "instructions",
        input.instructions.as_deref(),
        assist::MAX_INSTRUCTIONS_CHARS,
    )?;
    let a = assist::improve(&app, &asker(&member), &text, instructions.as_deref()).await?;
    Ok(axum::Json(a.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptInput {
    pub prompt: String,
    pub kind: PromptKind,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/improve-prompt", tag = "ai", summary = "Improve an image or video generation prompt",
    params(("workspace_id" = String, Path)), request_body = PromptInput, security(("bearer" = [])),
    responses((status = 200, body = TextAnswer), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn improve_prompt(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<PromptInput>,
) -> Result<axum::Json<TextAnswer>, Problem> {
    member.require(Role::Editor)?;
    let prompt = body_text("prompt", &input.prompt, generated::MAX_PROMPT_CHARS)?;
    let a = assist::improve_prompt(&app, &asker(&member), &prompt, input.kind).await?;
    Ok(axum::Json(a.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdaptInput {
    pub text: String,
    /// Post kind to adapt for (default `text`).
    pub kind: Option<String>,
    /// Connected accounts of the workspace; each is validated acting for the account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Installed platform plugins, for platforms without a connected account.
    #[serde(default)]
    pub platforms: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AdaptResult {
    /// One text per target, in the order asked (accounts, then platforms).
    pub results: Vec<Adapted>,
}

/// Most targets one adapt request may name: each costs one or two provider calls.
const MAX_ADAPT_TARGETS: usize = 20;

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/adapt", tag = "ai", summary = "Adapt one text to each target platform",
    description = "Each text is written within the platform's limits from its plugin's `describe()` and checked with the plugin's `validate`; a text that fails is asked for once more with the problems, then returned with whatever problems remain.",
    params(("workspace_id" = String, Path)), request_body = AdaptInput, security(("bearer" = [])),
    responses((status = 200, body = AdaptResult), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn adapt(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<AdaptInput>,
) -> Result<axum::Json<AdaptResult>, Problem> {
    member.require(Role::Editor)?;
    let text = body_text("text", &input.text, assist::MAX_TEXT_CHARS)?;
    let kind = match input.kind.as_deref() {
        Some(k) => super::auth::text_field("kind", k, 50)?,
        None => "text".to_string(),
    };
    let total = input.accounts.len() + input.platforms.len();
    if total == 0 || total > MAX_ADAPT_TARGETS {
        return Err(invalid_field(
            "accounts",
            format!("name 1–{MAX_ADAPT_TARGETS} targets in `accounts` and `platforms`"),
        ));
    }
    let mut targets = Vec::with_capacity(total);
    for id in &input.accounts {
        let acct = crate::posts::accounts::active(&app, &member.workspace_id, id)
            .await?
            .ok_or_else(|| {
                Problem::unprocessable(
                    "unknown-target",
                    format!("account `{id}` is not a connected account of this workspace"),
                )
            })?;
        targets.push(Target {
            plugin: acct.plugin,
            account_id: Some(id.clone()),
        });
    }
    for p in &input.platforms {
        match app.runtime.registry.get(p) {
            Some(loaded) if loaded.manifest.world == World::Platform => targets.push(Target {
                plugin: p.clone(),
                account_id: None,
            }),
            _ => {
                return Err(Problem::unprocessable(
                    "unknown-platform",
                    format!("`{p}` is not an installed platform plugin"),
                ));
            }
        }
    }
    let who = asker(&member);
    let mut results = Vec::with_capacity(targets.len());
    for t in &targets {
        results.push(assist::adapt_one(&app, &who, &text, &kind, t).await?);
    }
    Ok(axum::Json(AdaptResult { results }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HashtagInput {
    pub text: String,
    /// How many (1–30, default 5).
    pub count: Option<u32>,
    /// Platform to suggest for, e.g. "Instagram".
    pub platform: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Suggestions {
    pub suggestions: Vec<String>,
    pub provider: String,
    pub model: String,
    pub usage: Tokens,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/hashtags", tag = "ai", summary = "Suggest hashtags in the brand voice",
    params(("workspace_id" = String, Path)), request_body = HashtagInput, security(("bearer" = [])),
    responses((status = 200, body = Suggestions), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn hashtags(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<HashtagInput>,
) -> Result<axum::Json<Suggestions>, Problem> {
    member.require(Role::Editor)?;
    let text = body_text("text", &input.text, assist::MAX_TEXT_CHARS)?;
    let count = count_in("count", input.count, 5, assist::MAX_SUGGESTIONS)?;
    let platform = optional_text("platform", input.platform.as_deref(), 50)?;
    let (suggestions, a) =
        assist::hashtags(&app, &asker(&member), &text, count, platform.as_deref()).await?;
    Ok(axum::Json(Suggestions {
        suggestions,
        provider: a.provider,
        model: a.model,
        usage: a.usage,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CtaInput {
    pub text: String,
    /// What the post should make people do, e.g. "sign up for the newsletter".
    pub goal: Option<String>,
    /// How many (1–10, default 3).
    pub count: Option<u32>,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/cta", tag = "ai", summary = "Suggest calls to action in the brand voice",
    params(("workspace_id" = String, Path)), request_body = CtaInput, security(("bearer" = [])),
    responses((status = 200, body = Suggestions), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn cta(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<CtaInput>,
) -> Result<axum::Json<Suggestions>, Problem> {
    member.require(Role::Editor)?;
    let text = body_text("text", &input.text, assist::MAX_TEXT_CHARS)?;
    let count = count_in("count", input.count, 3, 10)?;
    let goal = optional_text(
        "goal",
        input.goal.as_deref(),
        assist::MAX_INSTRUCTIONS_CHARS,
    )?;
    let (suggestions, a) =
        assist::cta(&app, &asker(&member), &text, goal.as_deref(), count).await?;
    Ok(axum::Json(Suggestions {
        suggestions,
        provider: a.provider,
        model: a.model,
        usage: a.usage,
    }))
}

// ---------------------------------------------------------------- generated media

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageInput {
    /// What to generate; for `edit` the change to make; none for `variation`.
    #[serde(default)]
    pub prompt: String,
    /// e.g. `1024x1024`, as the provider accepts it.
    pub size: Option<String>,
    /// Images to make (1–4, default 1).
    pub count: Option<u32>,
    /// A media library image to edit or vary.
    pub source_media_id: Option<String>,
    /// With `source_media_id`: `edit` (default) or `variation`.
    pub mode: Option<ImageMode>,
}

#[derive(Serialize, ToSchema)]
pub struct GeneratedMedia {
    /// The new media library items.
    pub media: Vec<MediaView>,
    pub provider: String,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/images", tag = "ai", summary = "Generate images into the media library",
    description = "New images from a prompt, or an edit or variations of a library image where the provider supports it (a provider that does not is skipped for the next one).",
    params(("workspace_id" = String, Path)), request_body = ImageInput, security(("bearer" = [])),
    responses((status = 201, body = GeneratedMedia), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn images(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<ImageInput>,
) -> Result<(StatusCode, axum::Json<GeneratedMedia>), Problem> {
    member.require(Role::Editor)?;
    let count = count_in("count", input.count, 1, generated::MAX_IMAGES)?;
    let size = optional_text("size", input.size.as_deref(), 20)?;
    let source = match (input.source_media_id, input.mode) {
        (Some(id), mode) => Some((id, mode.unwrap_or(ImageMode::Edit))),
        (None, Some(_)) => {
            return Err(invalid_field("mode", "needs `source_media_id`"));
        }
        (None, None) => None,
    };
    let prompt = match &source {
        Some((_, ImageMode::Variation)) => {
            if !input.prompt.trim().is_empty() {
                return Err(invalid_field(
                    "prompt",
                    "variations take no prompt; use mode `edit` to change the image as a prompt says",
                ));
            }
            String::new()
        }
        _ => body_text("prompt", &input.prompt, generated::MAX_PROMPT_CHARS)?,
    };
    let (rows, provider) = generated::images(
        &app,
        &asker(&member),
        ImageAsk {
            prompt,
            size,
            count,
            source: source.map(|(id, _)| id),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(GeneratedMedia {
            media: rows.into_iter().map(MediaView::of).collect(),
            provider,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeechInput {
    pub text: String,
    pub voice: Option<String>,
    /// Audio format as the provider names it, e.g. `mp3`, `wav`.
    pub format: Option<String>,
}

#[utoipa::path(post, path = "/workspaces/{workspace_id}/ai/speech", tag = "ai", summary = "Generate speech into the media library",
    description = "Uses the first provider in order that supports speech.",
    params(("workspace_id" = String, Path)), request_body = SpeechInput, security(("bearer" = [])),
    responses((status = 201, body = GeneratedMedia), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn speech(
    State(app): State<Arc<App>>,
    member: Member,
    Json(input): Json<SpeechInput>,
) -> Result<(StatusCode, axum::Json<GeneratedMedia>), Problem> {
    member.require(Role::Editor)?;
    let text = body_text("text", &input.text, generated::MAX_SPEECH_CHARS)?;
    let voice = optional_text("voice", input.voice.as_deref(), 50)?;
    let format = optional_text("format", input.format.as_deref(), 20)?;
    let (row, provider) = generated::speech(
        &app,
        &asker(&member),
        SpeechAsk {
            text,
            voice,
            format,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(GeneratedMedia {
            media: vec![MediaView::of(row)],
            provider,
        }),
    ))
}

// ---------------------------------------------------------------- usage

#[utoipa::path(get, path = "/workspaces/{workspace_id}/ai/usage", tag = "ai", summary = "Token usage this month against the limit",
    params(("workspace_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Usage), (status = 404, body = Problem)))]
pub async fn get_usage(
    State(app): State<Arc<App>>,
    member: Member,
) -> Result<axum::Json<Usage>, Problem> {
    Ok(axum::Json(
        usage::this_month(&app, &member.workspace_id).await?,
    ))
}
