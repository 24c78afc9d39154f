//! The media library: files streamed into object storage, probed, described and listed
//! per workspace, and handed to plugins by handle (the media id).

pub mod describe;
pub mod ingest;
pub mod probe;
pub mod resumable;
pub mod studio;

use crate::app::App;
use crate::runtime::caps::media::MediaItem;
use crate::store::media::MediaRow;

/// Object-store key of a media file.
pub fn object_key(workspace_id: &str, media_id: &str) -> String {
    format!("ws/{workspace_id}/media/{media_id}")
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Ids that name no media of the workspace.
    #[error("no media {} in this workspace", .0.join(", "))]
    Unknown(Vec<String>),
    /// The file is not acceptable (probe); `kind` is a stable slug.
    #[error("{message}")]
    Rejected { kind: &'static str, message: String },
    /// A descriptive field (filename, alt text, folder, tags) is not valid.
    #[error("`{field}` {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("the file is larger than the upload limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// A resumable upload's body runs past its declared length.
    #[error("the body runs past the upload's length of {length} bytes")]
    PastEnd { length: u64 },
    /// The request body ended early or could not be read.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// A resumable upload session passed its expiry.
    #[error("upload `{0}` expired; start a new one")]
    Expired(String),
    /// A resumable upload moved on (or finished) while this request ran.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<probe::ProbeError> for MediaError {
    fn from(e: probe::ProbeError) -> MediaError {
        match e {
            probe::ProbeError::Rejected { kind, message } => MediaError::Rejected { kind, message },
            probe::ProbeError::Failed(e) => MediaError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for MediaError {
    fn from(e: sqlx::Error) -> MediaError {
        MediaError::Internal(e.into())
    }
}

/// What a plugin call sees of a stored media row.
pub fn item(row: &MediaRow) -> MediaItem {
    MediaItem {
        handle: row.id.clone(),
        key: row.object_key.clone(),
        mime_type: row.mime_type.clone(),
        size: row.size.max(0) as u64,
        width: row.width.and_then(|w| u32::try_from(w).ok()),
        height: row.height.and_then(|h| u32::try_from(h).ok()),
        duration_ms: row.duration_ms.and_then(|d| u64::try_from(d).ok()),
        alt_text: row.alt_text.clone(),
    }
}

/// The media items of a workspace for a plugin call, in the order of `ids`; any id that is
/// not the workspace's media fails the whole lookup with [`MediaError::Unknown`].
pub async fn media_items(
    app: &App,
    workspace_id: &str,
    ids: &[String],
) -> Result<Vec<MediaItem>, MediaError> {
    let mut items = Vec::with_capacity(ids.len());
    let mut unknown = Vec::new();
    for id in ids {
        match crate::store::media::get(&app.db, workspace_id, id).await? {
            Some(row) => items.push(item(&row)),
            None => unknown.push(id.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(MediaError::Unknown(unknown));
    }
    Ok(items)
}
