//! Content assists: the prompts for improving a text or a generation prompt, adapting a
//! text to platforms within their limits (re-checked with each platform's `validate`),
//! and suggesting hashtags and calls to action in the workspace's brand voice.

use super::{AiError, Answer, Message, Request, Role};
use crate::app::App;
use crate::runtime::state::CallContext;
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    PlatformInfo, Post as WitPost, TextCounting,
};
use plugboard_bindings::platform::plugboard::plugin::types::Problem as WitProblem;
use serde::Serialize;

pub const MAX_TEXT_CHARS: usize = 20_000;
pub const MAX_INSTRUCTIONS_CHARS: usize = 2_000;
pub const MAX_SUGGESTIONS: u32 = 30;

/// Who asks, for usage and budget.
#[derive(Debug, Clone)]
pub struct Asker {
    pub workspace_id: String,
    pub user_id: String,
}

/// The system prompt with the workspace's brand voice appended.
pub fn with_voice(base: &str, voice: Option<&str>) -> String {
    match voice {
        Some(v) => format!(
            "{base}\n\nWrite in the brand voice of this workspace, described by its team as:\n{v}"
        ),
        None => base.to_string(),
    }
}

async fn ask(
    app: &App,
    who: &Asker,
    purpose: &str,
    system: &str,
    messages: Vec<Message>,
) -> Result<Answer, AiError> {
    let voice = super::providers::get(app, &who.workspace_id)
        .await?
        .brand_voice;
    let mut all = vec![Message {
        role: Role::System,
        content: with_voice(system, voice.as_deref()),
    }];
    all.extend(messages);
    super::run(
        app,
        Request {
            workspace_id: who.workspace_id.clone(),
            user_id: Some(who.user_id.clone()),
            purpose: purpose.to_string(),
            messages: all,
            max_tokens: None,
            temperature: None,
        },
    )
    .await
}

fn user(content: String) -> Message {
    Message {
        role: Role::User,
        content,
    }
}

/// Models like to wrap a requested text in quotes or a code fence; the answer is the text.
fn unwrap_text(answer: &str) -> String {
    let t = answer.trim();
    let t = t
        .strip_prefix("```")
        .and_then(|r| r.strip_suffix("```"))
        .map(|r| r.split_once('\n').map(|(_, body)| body).unwrap_or(r))
        .unwrap_or(t)
        .trim();
    let quoted = t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('“') && t.ends_with('”')));
    if quoted {
        let inner = t
            .trim_start_matches(['"', '“'])
            .trim_end_matches(['"', '”']);
        return inner.trim().to_string();
    }
    t.to_string()
}

pub async fn improve(
    app: &App,
    who: &Asker,
    text: &str,
    instructions: Option<&str>,
) -> Result<Answer, AiError> {
    let mut ask_for = format!(
        "Improve this social media post: clearer, more engaging, same meaning and language. Answer with the improved post only.\n\nPost:\n{text}"
    );
    if let Some(i) = instructions {
        ask_for.push_str(&format!("\n\nAlso: {i}"));
    }
    let mut a = ask(
        app,
        who,
        "improve",
        "You are an editor of social media posts.",
        vec![user(ask_for)],
    )
    .await?;
    a.text = unwrap_text(&a.text);
    Ok(a)
}

/// What a generation prompt is for.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromptKind {
    Image,
    Video,
}

pub async fn improve_prompt(
    app: &App,
    who: &Asker,
    prompt: &str,
    kind: PromptKind,
) -> Result<Answer, AiError> {
    let what = match kind {
        PromptKind::Image => {
            "an image generation model: name the subject, composition, style, lighting, colours and mood"
        }
        PromptKind::Video => {
            "a video generation model: name the subject, action, camera movement, pacing, style and mood"
        }
    };
    let mut a = ask(
        app,
        who,
        "improve-prompt",
        "You write precise prompts for generative media models.",
        vec![user(format!(
            "Rewrite this prompt for {what}. Keep the creator's intent. Answer with the prompt only.\n\nPrompt:\n{prompt}"
        ))],
    )
    .await?;
    a.text = unwrap_text(&a.text);
    Ok(a)
}

/// Hashtags from a model's answer: `#word` tokens (or bare words), letters, digits and `_`
/// only, each once, at most `count`.
pub fn parse_hashtags(answer: &str, count: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    answer
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|t| {
            t.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '#')
                .trim_start_matches('#')
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|t| !t.is_empty() && !t.chars().all(|c| c.is_ascii_digit()))
        .filter(|t| seen.insert(t.to_lowercase()))
        .map(|t| format!("#{t}"))
        .take(count)
        .collect()
}

/// One suggestion per line, without list markers or quotes, at most `count`.
pub fn parse_lines(answer: &str, count: usize) -> Vec<String> {
    answer
        .lines()
        .map(|l| {
            let l = l.trim();
            let l = l.trim_start_matches(|c: char| c.is_ascii_digit() || "-*•.)".contains(c));
            unwrap_text(l)
        })
        .filter(|l| !l.is_empty())
        .take(count)
        .collect()
}

pub async fn hashtags(
    app: &App,
    who: &Asker,
    text: &str,
    count: u32,
    platform: Option<&str>,
) -> Result<(Vec<String>, Answer), AiError> {
    let on = platform.map(|p| format!(" on {p}")).unwrap_or_default();
    let a = ask(
        app,
        who,
        "hashtags",
        "You suggest hashtags that help posts reach the right audience.",
        vec![user(format!(
            "Suggest {count} relevant hashtags for this post{on}, most relevant first, separated by spaces. Answer with the hashtags only.\n\nPost:\n{text}"
        ))],
    )
    .await?;
    Ok((parse_hashtags(&a.text, count as usize), a))
}

pub async fn cta(
    app: &App,
    who: &Asker,
    text: &str,
    goal: Option<&str>,
    count: u32,
) -> Result<(Vec<String>, Answer), AiError> {
    let goal = goal.map(|g| format!(" The goal: {g}.")).unwrap_or_default();
    let a = ask(
        app,
        who,
        "cta",
        "You write short calls to action for social media posts.",
        vec![user(format!(
            "Suggest {count} different calls to action to end this post with.{goal} One per line, no numbering. Answer with the calls to action only.\n\nPost:\n{text}"
        ))],
    )
    .await?;
    Ok((parse_lines(&a.text, count as usize), a))
}

/// Where an adapted text goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub plugin: String,
    /// The connected account the text is for; validation acts for it.
    pub account_id: Option<String>,
}

/// A problem `validate` found in an adapted text.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TextProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl From<WitProblem> for TextProblem {
    fn from(p: WitProblem) -> TextProblem {
        TextProblem {
            field: p.field,
            code: p.code,
            message: p.message,
        }
    }
}

/// The text for one target, as validated by its platform plugin.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Adapted {
    pub plugin: String,
    pub account_id: Option<String>,
    pub platform: String,
    pub text: String,
    /// What the platform's `validate` still finds (empty: the text is accepted).
    pub problems: Vec<TextProblem>,
    /// Provider answers it took: 1, or 2 when the first text failed validation.
    pub attempts: u32,
    pub provider: String,
    pub model: String,
}

fn counting(c: TextCounting) -> &'static str {
    match c {
        TextCounting::UnicodeScalars => "characters",
        TextCounting::Graphemes => "user-perceived characters (an emoji counts as one)",
        TextCounting::Utf16Units => "UTF-16 units (most emoji count as two)",
        TextCounting::Utf8Bytes => "UTF-8 bytes (accented letters count as two, emoji as four)",
        TextCounting::Weighted => {
            "weighted characters (CJK characters and emoji count as two, URLs as 23)"
        }
    }
}

/// The platform's rules for a post kind, in words for the model.
fn rules(info: &PlatformInfo, kind: &str) -> String {
    let Some(k) = info.post_kinds.iter().find(|k| k.name == kind) else {
        return format!("{} has no `{kind}` posts.", info.display_name);
    };
    let Some(t) = &k.text else {
        return format!("{} `{kind}` posts take no text.", info.display_name);
    };
    let mut out = format!(
        "{} `{kind}` posts: at most {} {}",
        info.display_name,
        t.max_length,
        counting(t.counting)
    );
    if t.min_length > 0 {
        out.push_str(&format!(", at least {}", t.min_length));
    }
    if let Some(u) = t.url_length {
        out.push_str(&format!("; every URL counts as {u}"));
    }
    out.push('.');
    out
}

fn describe_problems(problems: &[WitProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("- {} ({}): {}", p.field, p.code, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn validate(
    app: &App,
    workspace_id: &str,
    target: &Target,
    kind: &str,
    text: &str,
) -> Result<Vec<WitProblem>, AiError> {
    let ctx = match &target.account_id {
        Some(id) => crate::accounts::call_context(app, workspace_id, id).await?,
        None => CallContext::default(),
    };
    let post = WitPost {
        target_id: format!("adapt-{}", uuid::Uuid::now_v7()),
        attempt: 1,
        kind: kind.to_string(),
        text: text.to_string(),
        media: Vec::new(),
        thread: Vec::new(),
        options: Vec::new(),
        scheduled_at: None,
    };
    Ok(app
        .runtime
        .platform(&target.plugin, "validate", ctx)
        .await?
        .validate(post)
        .await?)
}

/// Adapts `text` to one target: asks within the platform's limits, validates, and when
/// the platform rejects the text asks once more with its problems.
pub async fn adapt_one(
    app: &App,
    who: &Asker,
    text: &str,
    kind: &str,
    target: &Target,
) -> Result<Adapted, AiError> {
    let info = app.runtime.describe_platform(&target.plugin).await?;
    let system = "You adapt social media posts to one platform: its length limit, conventions and audience. Keep the meaning and language. Answer with the post text only.";
    let mut messages = vec![user(format!(
        "Adapt this post for {}. {}\n\nPost:\n{text}",
        info.display_name,
        rules(&info, kind)
    ))];
    let first = ask(app, who, "adapt", system, messages.clone()).await?;
    let mut answer = first;
    let mut adapted = unwrap_text(&answer.text);
    let mut problems = validate(app, &who.workspace_id, target, kind, &adapted).await?;
    let mut attempts = 1;
    if !problems.is_empty() {
        messages.push(Message {
            role: Role::Assistant,
            content: adapted.clone(),
        });
        messages.push(user(format!(
            "{} rejects this text:\n{}\nFix these problems. Answer with the corrected post only.",
            info.display_name,
            describe_problems(&problems)
        )));
        answer = ask(app, who, "adapt", system, messages).await?;
        adapted = unwrap_text(&answer.text);
        problems = validate(app, &who.workspace_id, target, kind, &adapted).await?;
        attempts = 2;
    }
    Ok(Adapted {
        plugin: target.plugin.clone(),
        account_id: target.account_id.clone(),
        platform: info.display_name,
        text: adapted,
        problems: problems.into_iter().map(TextProblem::from).collect(),
        attempts,
        provider: answer.provider,
        model: answer.model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_are_cleaned_and_deduplicated() {
        let got = parse_hashtags(
            "1. #Travel, #travel #food_lovers\n- sunset! #2024 #Café",
            10,
        );
        assert_eq!(got, vec!["#Travel", "#food_lovers", "#sunset", "#Café"]);
        assert_eq!(parse_hashtags("#a #b #c", 2), vec!["#a", "#b"]);
    }

    #[test]
    fn lines_lose_markers_and_quotes() {
        let got = parse_lines("1. \"Sign up today\"\n\n- Read more\n* Share it", 2);
        assert_eq!(got, vec!["Sign up today", "Read more"]);
    }

    #[test]
    fn answers_lose_fences_and_quotes() {
        assert_eq!(unwrap_text("```text\nHello\n```"), "Hello");
        assert_eq!(unwrap_text(" \"Hello there\" "), "Hello there");
        assert_eq!(unwrap_text("Say \"hi\" now"), "Say \"hi\" now");
    }

    #[test]
    fn the_voice_is_appended() {
        assert_eq!(with_voice("Base.", None), "Base.");
        assert!(with_voice("Base.", Some("Warm, no jargon")).ends_with("Warm, no jargon"));
    }
}
