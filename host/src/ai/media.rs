//! Generated media: images (new, or an edit or variation of a library image) and speech,
//! written by the provider plugin straight into the workspace's media folder, then probed
//! and added to the media library like an upload. A provider without the capability is
//! skipped for the next one in order.

use super::providers::ProviderChoice;
use super::{AiError, Tokens};
use crate::app::App;
use crate::media::describe::{Description, MAX_ALT_TEXT_CHARS};
use crate::media::ingest::{Copied, Ended, discard, media_row, probe_stored, uploaded};
use crate::media::{MediaError, object_key};
use crate::runtime::caps::media::{CallMedia, MediaItem};
use crate::store::media::MediaRow;
use futures::StreamExt;
use plugboard_bindings::ai::exports::plugboard::plugin::provider::{ImageRequest, SpeechRequest};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use sha2::{Digest, Sha256};

pub const MAX_PROMPT_CHARS: usize = 4000;
pub const MAX_IMAGES: u32 = 4;
pub const MAX_SPEECH_CHARS: usize = 4096;

/// What to do with a source image. Providers tell the two apart by the prompt (the
/// contract's convention): an edit has one, a variation has none.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageMode {
    /// Change the source image as the prompt says.
    Edit,
    /// Variations of the source image (the prompt may be empty).
    Variation,
}

pub struct ImageAsk {
    /// Empty only for a variation of `source`.
    pub prompt: String,
    pub size: Option<String>,
    pub count: u32,
    /// A media id of the workspace to edit or vary.
    pub source: Option<String>,
}

pub struct SpeechAsk {
    pub text: String,
    pub voice: Option<String>,
    pub format: Option<String>,
}

/// A provider failure that lets the next provider try: the earlier ones plus "this
/// provider does not do that".
fn skippable(e: &AiError) -> bool {
    super::falls_through(e)
        || matches!(
            e,
            AiError::Provider {
                error: PluginError::Unsupported(_),
                ..
            }
        )
}

fn provider_error(plugin: &str, error: PluginError) -> AiError {
    AiError::Provider {
        plugin: plugin.to_string(),
        error,
    }
}

fn media_error(e: MediaError) -> AiError {
    match e {
        MediaError::Rejected { message, .. } => AiError::Provider {
            plugin: "media".into(),
            error: PluginError::Permanent(format!(
                "the provider returned a file the media library refuses: {message}"
            )),
        },
        MediaError::Unknown(ids) => {
            AiError::NotFound(format!("media {} not found", ids.join(", ")))
        }
        other => AiError::Internal(anyhow::anyhow!("{other}")),
    }
}

fn extension(mime: &str) -> &str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" => "wav",
        "audio/ogg" | "audio/opus" => "ogg",
        "audio/flac" => "flac",
        "audio/aac" => "aac",
        _ => "bin",
    }
}

/// Adds an object the plugin stored under the workspace's media folder to the library.
async fn add_to_library(
    app: &App,
    workspace_id: &str,
    user_id: &str,
    item: &MediaItem,
    alt_text: Option<String>,
    via: &str,
) -> Result<MediaRow, AiError> {
    let probe = probe_stored(&app.blobs, &item.key)
        .await
        .map_err(media_error)?;
    let mut stream = app.blobs.stream_range(&item.key, 0..item.size).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk.map_err(anyhow::Error::from)?);
    }
    let copied = Copied {
        size: item.size,
        sha256: hex::encode(hasher.finalize()),
        ended: Ended::Complete,
    };
    let description = Description {
        filename: format!("{via}-{}.{}", item.handle, extension(&item.mime_type)),
        alt_text,
        folder: None,
        tags: vec!["ai-generated".into()],
    };
    let row = media_row(
        workspace_id,
        &item.handle,
        &copied,
        probe,
        &description,
        Some(user_id),
    );
    crate::store::media::insert(&app.db, &row, uploaded(&row, via)).await?;
    Ok(row)
}

fn alt_from(prompt: &str) -> Option<String> {
    let t: String = prompt.trim().chars().take(MAX_ALT_TEXT_CHARS).collect();
    (!t.is_empty()).then_some(t)
}

async fn record(
    app: &App,
    who: &super::assist::Asker,
    purpose: &str,
    choice: &ProviderChoice,
) -> Result<(), AiError> {
    super::usage::record(
        app,
        &super::usage::Call {
            workspace_id: &who.workspace_id,
            user_id: Some(&who.user_id),
            purpose,
            provider: &choice.plugin,
            model: "default",
            tokens: Tokens::default(),
        },
    )
    .await
}

/// Generates images into the media library; answers the new library rows.
pub async fn images(
    app: &App,
    who: &super::assist::Asker,
    ask: ImageAsk,
) -> Result<(Vec<MediaRow>, String), AiError> {
    super::usage::check_budget(app, &who.workspace_id).await?;
    let source = match &ask.source {
        Some(id) => Some(
            crate::media::media_items(app, &who.workspace_id, std::slice::from_ref(id))
                .await
                .map_err(media_error)?
                .remove(0),
        ),
        None => None,
    };
    let mut last = None;
    for choice in super::providers::order(app, &who.workspace_id).await? {
        let mut ctx =
            super::providers::call_context(app, &who.workspace_id, &choice.plugin).await?;
        ctx.media = CallMedia::new(source.clone());
        ctx.media.create_prefix = Some(format!("ws/{}/media", who.workspace_id));
        let req = ImageRequest {
            // The workspace's model is a chat model; media use the provider's default.
            model: None,
            prompt: ask.prompt.clone(),
            size: ask.size.clone(),
            count: ask.count,
            source: source.as_ref().map(MediaItem::to_ref),
            options: Vec::new(),
        };
        let outcome: Result<_, AiError> = async {
            let call = app
                .runtime
                .ai(&choice.plugin, "generate-image", ctx)
                .await?;
            Ok(call.generate_image(req).await?)
        }
        .await;
        let (result, created) = match outcome {
            Ok(v) => v,
            Err(e) if skippable(&e) => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let refs = match result {
            Ok(refs) => refs,
            Err(error) => {
                for c in &created {
                    discard(&app.blobs, &c.key).await;
                }
                let e = provider_error(&choice.plugin, error);
                if skippable(&e) {
                    last = Some(e);
                    continue;
                }
                return Err(e);
            }
        };
        // Objects the plugin stored but did not return are not results.
        let (keep, drop): (Vec<MediaItem>, Vec<MediaItem>) = created
            .into_iter()
            .partition(|c| refs.iter().any(|r| r.handle == c.handle));
        for d in &drop {
            discard(&app.blobs, &d.key).await;
        }
        let mut rows = Vec::new();
        for (i, item) in keep.iter().enumerate() {
            match add_to_library(
                app,
                &who.workspace_id,
                &who.user_id,
                item,
                alt_from(&ask.prompt),
                "ai-image",
            )
            .await
            {
                Ok(row) => rows.push(row),
                Err(e) => {
                    for rest in &keep[i + 1..] {
                        discard(&app.blobs, &rest.key).await;
                    }
                    return Err(e);
                }
            }
        }
        record(app, who, "image", &choice).await?;
        return Ok((rows, choice.plugin));
    }
    Err(last.unwrap_or_else(super::no_provider))
}

/// Generates speech into the media library; answers the new library row.
pub async fn speech(
    app: &App,
    who: &super::assist::Asker,
    ask: SpeechAsk,
) -> Result<(MediaRow, String), AiError> {
    super::usage::check_budget(app, &who.workspace_id).await?;
    let mut last = None;
    for choice in super::providers::order(app, &who.workspace_id).await? {
        let mut ctx =
            super::providers::call_context(app, &who.workspace_id, &choice.plugin).await?;
        ctx.media.create_prefix = Some(format!("ws/{}/media", who.workspace_id));
        let req = SpeechRequest {
            // The workspace's model is a chat model; media use the provider's default.
            model: None,
            text: ask.text.clone(),
            voice: ask.voice.clone(),
            format: ask.format.clone(),
        };
        let outcome: Result<_, AiError> = async {
            let call = app.runtime.ai(&choice.plugin, "speech", ctx).await?;
            call.speech(req)
                .await
                .map_err(AiError::from)?
                .map_err(|e| provider_error(&choice.plugin, e))
        }
        .await;
        let made = match outcome {
            Ok(m) => m,
            Err(e) if skippable(&e) => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        // The plugin stored the audio through media.create under the prefix given above,
        // which names objects by UUID; anything else is not an object this call made.
        if uuid::Uuid::parse_str(&made.handle).is_err() {
            return Err(provider_error(
                &choice.plugin,
                PluginError::Permanent(format!(
                    "returned `{}`, which is not a media object it created",
                    made.handle
                )),
            ));
        }
        let key = object_key(&who.workspace_id, &made.handle);
        let size = app.blobs.size(&key).await?;
        let item = MediaItem {
            key,
            handle: made.handle,
            mime_type: made.mime_type,
            size,
            width: None,
            height: None,
            duration_ms: None,
            alt_text: None,
        };
        let row = add_to_library(
            app,
            &who.workspace_id,
            &who.user_id,
            &item,
            None,
            "ai-speech",
        )
        .await?;
        record(app, who, "speech", &choice).await?;
        return Ok((row, choice.plugin));
    }
    Err(last.unwrap_or_else(super::no_provider))
}
