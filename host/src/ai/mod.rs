//! AI assistance: completions through the workspace's AI provider plugins in fallback
//! order, with every call's token usage recorded against the workspace's monthly limit.
//! Strategist chat, content assists, images and speech build on the calls here.

pub mod assist;
pub mod chat;
pub mod media;
pub mod providers;
pub mod stream;
pub mod usage;

use crate::app::App;
use crate::runtime::error::CallError;
use plugboard_bindings::ai::exports::plugboard::plugin::provider::{Completion, CompletionRequest};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use providers::ProviderChoice;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use plugboard_bindings::ai::exports::plugboard::plugin::provider::{Message, Role};

/// Longest answer asked of a provider, in tokens: bounds cost and the size of a stream.
pub const MAX_OUTPUT_TOKENS: u32 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// No provider is configured or installed for the workspace.
    #[error("{0}")]
    NoProvider(String),
    /// The workspace used its monthly token budget.
    #[error(
        "this workspace used {used} of its {limit} AI tokens this month; the budget renews on {renews}"
    )]
    LimitExceeded {
        used: i64,
        limit: i64,
        renews: String,
    },
    /// The last provider tried failed with this error.
    #[error("AI provider `{plugin}`: {}", crate::accounts::plugin_error_text(.error))]
    Provider { plugin: String, error: PluginError },
    /// The plugin call failed on the host's side (trap, limit).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The request is not acceptable; `kind` is a stable slug.
    #[error("{detail}")]
    Invalid { kind: &'static str, detail: String },
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AiError {
    fn from(e: sqlx::Error) -> AiError {
        AiError::Internal(e.into())
    }
}

impl From<crate::accounts::AccountError> for AiError {
    fn from(e: crate::accounts::AccountError) -> AiError {
        use crate::accounts::AccountError as A;
        match e {
            A::Invalid { kind, detail } | A::Conflict { kind, detail } => {
                AiError::Invalid { kind, detail }
            }
            A::NotFound(m) => AiError::NotFound(m),
            A::Call(c) => AiError::Call(c),
            A::Internal(e) => AiError::Internal(e),
            other => AiError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

/// Tokens of one call.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Tokens {
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// The provider reported no usage: the counts are estimated from the text lengths.
    pub estimated: bool,
}

/// A finished completion and who produced it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub text: String,
    /// The provider plugin that answered.
    pub provider: String,
    pub model: String,
    pub usage: Tokens,
    pub finish_reason: Option<String>,
}

/// One completion to run for a workspace.
#[derive(Debug, Clone)]
pub struct Request {
    pub workspace_id: String,
    /// The member asking (None for work the server does on its own, e.g. drafted replies).
    pub user_id: Option<String>,
    /// What the call is for, as recorded in the usage log (`chat`, `improve`, …).
    pub purpose: String,
    pub messages: Vec<Message>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

/// Runs a completion with the workspace's providers in fallback order and records its
/// usage. The entry point for other parts of the server (e.g. drafting comment replies).
pub async fn complete(
    app: &App,
    workspace_id: &str,
    purpose: &str,
    messages: Vec<Message>,
) -> Result<Answer, AiError> {
    run(
        app,
        Request {
            workspace_id: workspace_id.to_string(),
            user_id: None,
            purpose: purpose.to_string(),
            messages,
            max_tokens: None,
            temperature: None,
        },
    )
    .await
}

/// Whether the next provider in order may be tried after this failure: the provider is
/// busy, down or missing, which another provider does not care about.
fn falls_through(e: &AiError) -> bool {
    match e {
        AiError::Call(CallError::NotInstalled(_) | CallError::WrongWorld { .. }) => true,
        AiError::Provider { error, .. } => matches!(
            error,
            PluginError::Transient(_) | PluginError::RateLimited(_)
        ),
        _ => false,
    }
}

fn completion_request(req: &Request, choice: &ProviderChoice) -> CompletionRequest {
    CompletionRequest {
        model: choice.model.clone(),
        messages: req.messages.clone(),
        max_tokens: Some(req.max_tokens.unwrap_or(MAX_OUTPUT_TOKENS)),
        temperature: req.temperature,
        options: Vec::new(),
    }
}

/// Token counts from the provider's report, else estimated (about four characters a
/// token) so that a provider that reports nothing still counts against the budget.
fn tokens(req: &Request, done: &Completion) -> Tokens {
    match &done.usage {
        Some(u) => Tokens {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            estimated: false,
        },
        None => {
            let input: usize = req.messages.iter().map(|m| m.content.len()).sum();
            Tokens {
                input_tokens: (input / 4) as u32,
                output_tokens: (done.text.len() / 4) as u32,
                estimated: true,
            }
        }
    }
}

async fn finish(
    app: &App,
    req: &Request,
    choice: &ProviderChoice,
    done: Completion,
) -> Result<Answer, AiError> {
    let usage = tokens(req, &done);
    usage::record(
        app,
        &usage::Call {
            workspace_id: &req.workspace_id,
            user_id: req.user_id.as_deref(),
            purpose: &req.purpose,
            provider: &choice.plugin,
            model: &done.model,
            tokens: usage,
        },
    )
    .await?;
    Ok(Answer {
        text: done.text,
        provider: choice.plugin.clone(),
        model: done.model,
        usage,
        finish_reason: done.finish_reason,
    })
}

/// Runs a completion (no streaming) with fallback; records usage.
pub async fn run(app: &App, req: Request) -> Result<Answer, AiError> {
    usage::check_budget(app, &req.workspace_id).await?;
    let order = providers::order(app, &req.workspace_id).await?;
    let mut last = None;
    for choice in &order {
        let attempt = async {
            let ctx = providers::call_context(app, &req.workspace_id, &choice.plugin).await?;
            let call = app.runtime.ai(&choice.plugin, "complete", ctx).await?;
            call.complete(completion_request(&req, choice))
                .await?
                .map_err(|error| AiError::Provider {
                    plugin: choice.plugin.clone(),
                    error,
                })
        };
        match attempt.await {
            Ok(done) => return finish(app, &req, choice, done).await,
            Err(e) if falls_through(&e) => {
                tracing::warn!(workspace = %req.workspace_id, provider = %choice.plugin, error = %e, "AI provider unavailable; trying the next one");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(no_provider))
}

fn no_provider() -> AiError {
    AiError::NoProvider(
        "no AI provider is installed for this workspace; install an ai-provider plugin and list it in the workspace's AI settings".into(),
    )
}

/// Records the estimated usage of a stream that ended early: the provider charged for what
/// it generated. Nothing streamed, nothing charged; a failure to record is only logged,
/// since the stream already ended for a better reason.
async fn charge_partial(app: &App, req: &Request, choice: &ProviderChoice, text: &str) {
    if text.is_empty() {
        return;
    }
    let partial = Completion {
        text: text.to_string(),
        model: choice.model.clone().unwrap_or_else(|| "unknown".into()),
        usage: None,
        finish_reason: None,
    };
    if let Err(e) = finish(app, req, choice, partial).await {
        tracing::error!(workspace = %req.workspace_id, error = %e, "recording the usage of an interrupted stream failed");
    }
}

/// How a streamed completion ended.
pub enum Streamed {
    Done(Answer),
    /// The client went away; `text` is what had been streamed until then.
    Cancelled {
        text: String,
        provider: String,
    },
    /// The provider failed (before or during the stream); `text` is what had arrived.
    Failed {
        error: AiError,
        text: String,
    },
}

/// Streams a completion into `sink`, trying the next provider only while nothing has been
/// streamed yet (a client cannot take back deltas it has shown). Resolving `cancelled`
/// drops the plugin call at once, which closes its upstream connection.
pub async fn run_stream(
    app: &App,
    req: Request,
    sink: stream::Sink,
    mut cancelled: tokio::sync::oneshot::Receiver<()>,
) -> Streamed {
    let fail = |error: AiError| Streamed::Failed {
        error,
        text: String::new(),
    };
    if let Err(e) = usage::check_budget(app, &req.workspace_id).await {
        return fail(e);
    }
    let order = match providers::order(app, &req.workspace_id).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let mut last = None;
    for choice in &order {
        let started = Arc::new(AtomicBool::new(false));
        let attempt = async {
            let mut ctx = providers::call_context(app, &req.workspace_id, &choice.plugin).await?;
            ctx.sink = Some(Box::new(sink.for_attempt(started.clone())));
            let call = app.runtime.ai(&choice.plugin, "stream", ctx).await?;
            call.stream(completion_request(&req, choice))
                .await?
                .map_err(|error| AiError::Provider {
                    plugin: choice.plugin.clone(),
                    error,
                })
        };
        // Cancellation first: a plugin that stops because the sink reports the client
        // gone ends at the same moment, and that is a cancel, not a provider failure.
        let outcome = tokio::select! {
            biased;
            _ = &mut cancelled => {
                let text = sink.text();
                charge_partial(app, &req, choice, &text).await;
                return Streamed::Cancelled { text, provider: choice.plugin.clone() };
            }
            out = attempt => out,
        };
        match outcome {
            Ok(done) => {
                return match finish(app, &req, choice, done).await {
                    Ok(answer) => Streamed::Done(answer),
                    Err(error) => Streamed::Failed {
                        error,
                        text: sink.text(),
                    },
                };
            }
            Err(e) if falls_through(&e) && !started.load(Ordering::SeqCst) => {
                tracing::warn!(workspace = %req.workspace_id, provider = %choice.plugin, error = %e, "AI provider unavailable before streaming; trying the next one");
                last = Some(e);
            }
            Err(error) => {
                let text = sink.text();
                charge_partial(app, &req, choice, &text).await;
                return Streamed::Failed { error, text };
            }
        }
    }
    fail(last.unwrap_or_else(no_provider))
}
