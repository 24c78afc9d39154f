//! A workspace's AI settings: which installed ai-provider plugins it uses, in fallback
//! order (each with an optional model), its brand voice and its monthly token budget. A
//! provider's API key comes from the platform app registered for that plugin (the
//! workspace's own, else the server's), exactly as platform plugins get client secrets.

use super::AiError;
use crate::accounts::apps::{choose, settings_of};
use crate::app::App;
use crate::runtime::manifest::World;
use crate::runtime::state::CallContext;
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const MAX_PROVIDERS: usize = 10;
pub const MAX_MODEL_CHARS: usize = 200;
pub const MAX_BRAND_VOICE_CHARS: usize = 2000;

/// One provider in the fallback order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderChoice {
    /// Id of an installed ai-provider plugin, e.g. `openai`.
    pub plugin: String,
    /// Model to ask for; the provider's default when absent.
    #[serde(default)]
    pub model: Option<String>,
}

/// The stored settings of a workspace (defaults when never set).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct AiSettings {
    /// Providers in fallback order. Empty: every installed provider, by id.
    pub providers: Vec<ProviderChoice>,
    /// How the workspace writes (tone, words to use or avoid); given to every assist.
    pub brand_voice: Option<String>,
    /// Tokens (input + output) the workspace may use per calendar month (UTC); none:
    /// unlimited.
    pub monthly_token_limit: Option<i64>,
    pub updated_at: Option<DateTime<Utc>>,
}

type Row = (String, Option<String>, Option<i64>, DateTime<Utc>);

pub async fn get(app: &App, workspace_id: &str) -> Result<AiSettings, AiError> {
    let sql = app.db.sql(
        "SELECT providers, brand_voice, monthly_token_limit, updated_at FROM ai_settings WHERE workspace_id = ?",
    );
    let row: Option<Row> = on_db!(&app.db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .fetch_optional(p)
        .await?);
    let Some((providers, brand_voice, monthly_token_limit, updated_at)) = row else {
        return Ok(AiSettings::default());
    };
    Ok(AiSettings {
        providers: serde_json::from_str(&providers).map_err(anyhow::Error::from)?,
        brand_voice,
        monthly_token_limit,
        updated_at: Some(updated_at),
    })
}

/// Checks and stores the settings; every provider must be an installed ai-provider plugin.
pub async fn put(
    app: &App,
    workspace_id: &str,
    mut settings: AiSettings,
) -> Result<AiSettings, AiError> {
    let invalid = |detail: String| AiError::Invalid {
        kind: "invalid-field",
        detail,
    };
    if settings.providers.len() > MAX_PROVIDERS {
        return Err(invalid(format!(
            "`providers` may list at most {MAX_PROVIDERS} plugins"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, p) in settings.providers.iter().enumerate() {
        if !seen.insert(&p.plugin) {
            return Err(invalid(format!(
                "`providers[{i}]`: `{}` is listed twice",
                p.plugin
            )));
        }
        match app.runtime.registry.get(&p.plugin) {
            Some(loaded) if loaded.manifest.world == World::AiProvider => {}
            Some(_) => {
                return Err(AiError::Invalid {
                    kind: "not-an-ai-provider",
                    detail: format!(
                        "`providers[{i}]`: plugin `{}` is a platform plugin, not an AI provider",
                        p.plugin
                    ),
                });
            }
            None => {
                return Err(AiError::Invalid {
                    kind: "unknown-provider",
                    detail: format!("`providers[{i}]`: plugin `{}` is not installed", p.plugin),
                });
            }
        }
        if let Some(m) = &p.model
            && (m.trim().is_empty() || m.chars().count() > MAX_MODEL_CHARS)
        {
            return Err(invalid(format!(
                "`providers[{i}].model` must be 1–{MAX_MODEL_CHARS} characters"
            )));
        }
    }
    if let Some(v) = &settings.brand_voice
        && v.chars().count() > MAX_BRAND_VOICE_CHARS
    {
        return Err(invalid(format!(
            "`brand_voice` must be at most {MAX_BRAND_VOICE_CHARS} characters"
        )));
    }
    if settings.monthly_token_limit.is_some_and(|l| l < 0) {
        return Err(invalid("`monthly_token_limit` must be zero or more".into()));
    }
    settings.brand_voice = settings
        .brand_voice
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let now = crate::media::ingest::now();
    settings.updated_at = Some(now);
    let providers = serde_json::to_string(&settings.providers).map_err(anyhow::Error::from)?;
    let mut tx = app
        .db
        .write_tx(&format!("ai-settings:{workspace_id}"))
        .await?;
    let delete = app.db.sql("DELETE FROM ai_settings WHERE workspace_id = ?");
    on_tx!(&mut tx, |c| sqlx::query(delete)
        .bind(workspace_id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    let insert = app.db.sql(
        "INSERT INTO ai_settings (workspace_id, providers, brand_voice, monthly_token_limit, updated_at) VALUES (?, ?, ?, ?, ?)",
    );
    on_tx!(&mut tx, |c| sqlx::query(insert)
        .bind(workspace_id)
        .bind(&providers)
        .bind(&settings.brand_voice)
        .bind(settings.monthly_token_limit)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    tx.commit().await?;
    Ok(settings)
}

/// The providers to try, in order: the workspace's list, or every installed provider.
/// Fails when there is none to try.
pub async fn order(app: &App, workspace_id: &str) -> Result<Vec<ProviderChoice>, AiError> {
    let settings = get(app, workspace_id).await?;
    let order = if settings.providers.is_empty() {
        let mut installed: Vec<ProviderChoice> = app
            .runtime
            .registry
            .list()
            .into_iter()
            .filter(|p| p.manifest.world == World::AiProvider)
            .map(|p| ProviderChoice {
                plugin: p.manifest.id.clone(),
                model: None,
            })
            .collect();
        installed.sort_by(|a, b| a.plugin.cmp(&b.plugin));
        installed
    } else {
        settings.providers
    };
    if order.is_empty() {
        return Err(AiError::NoProvider(
            "no AI provider is installed; the operator installs an ai-provider plugin (e.g. openai), then the workspace registers its API key as an app".into(),
        ));
    }
    Ok(order)
}

/// The context of a call to `plugin` for the workspace: the settings of its app (API key,
/// API URL) as the app secrets. A provider without an app gets none and says what it
/// misses itself.
pub async fn call_context(
    app: &App,
    workspace_id: &str,
    plugin: &str,
) -> Result<CallContext, AiError> {
    let app_secrets = match choose(app, workspace_id, plugin, None).await? {
        Some(row) => settings_of(app, &row)?.0.into_iter().collect(),
        None => Default::default(),
    };
    Ok(CallContext {
        app_secrets,
        ..Default::default()
    })
}
