//! Media objects a call may use, by handle. Bytes stay in object storage: the HTTP
//! capability streams them as request bodies, platforms that pull by URL get a signed
//! short-lived URL.

use crate::blobs::Blobs;
use crate::crypto::signed_url::UrlSigner;
use crate::runtime::state::HostState;
use plugboard_bindings::platform::plugboard::plugin::media::{self as wit, MediaError};
use plugboard_bindings::platform::plugboard::plugin::types::MediaRef;
use std::collections::HashMap;
use std::time::Duration;

/// Longest lifetime of a public media URL handed to a plugin.
const MAX_URL_TTL: Duration = Duration::from_secs(6 * 3600);

/// A stored media object as a call sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaItem {
    pub handle: String,
    /// Object-store key.
    pub key: String,
    pub mime_type: String,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub alt_text: Option<String>,
}

impl MediaItem {
    pub fn to_ref(&self) -> MediaRef {
        MediaRef {
            handle: self.handle.clone(),
            mime_type: self.mime_type.clone(),
            size: self.size,
            width: self.width,
            height: self.height,
            duration_ms: self.duration_ms,
            alt_text: self.alt_text.clone(),
        }
    }
}

/// The handles one call was given (and the objects it created).
#[derive(Debug, Default)]
pub struct CallMedia {
    items: HashMap<String, MediaItem>,
    /// Where objects created by the call go (e.g. the workspace's generated folder).
    pub create_prefix: Option<String>,
    pub created: Vec<MediaItem>,
}

impl CallMedia {
    pub fn new(items: impl IntoIterator<Item = MediaItem>) -> CallMedia {
        CallMedia {
            items: items.into_iter().map(|i| (i.handle.clone(), i)).collect(),
            create_prefix: None,
            created: Vec::new(),
        }
    }

    pub fn get(&self, handle: &str) -> Result<&MediaItem, String> {
        self.items
            .get(handle)
            .ok_or_else(|| format!("media handle `{handle}` was not given to this call"))
    }

    /// Length of a byte range, checked against the object's size.
    pub fn range_len(&self, handle: &str, offset: u64, length: Option<u64>) -> Result<u64, String> {
        let item = self.get(handle)?;
        if offset > item.size {
            return Err(format!(
                "offset {offset} is past the end of media `{handle}` ({} bytes)",
                item.size
            ));
        }
        let rest = item.size - offset;
        match length {
            None => Ok(rest),
            Some(l) if l <= rest => Ok(l),
            Some(l) => Err(format!(
                "range {offset}+{l} is past the end of media `{handle}` ({} bytes)",
                item.size
            )),
        }
    }

    pub async fn open_range(
        &self,
        svc: &MediaService,
        handle: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<reqwest::Body, String> {
        let len = self.range_len(handle, offset, length)?;
        let item = self.get(handle)?;
        let stream = svc
            .blobs
            .stream_range(&item.key, offset..offset + len)
            .await
            .map_err(|e| format!("reading media `{handle}`: {e:#}"))?;
        Ok(reqwest::Body::wrap_stream(stream))
    }
}

pub struct MediaService {
    pub blobs: Blobs,
    pub signer: UrlSigner,
}

impl wit::Host for HostState {
    async fn info(&mut self, handle: String) -> wasmtime::Result<Result<MediaRef, MediaError>> {
        Ok(self
            .media()
            .get(&handle)
            .map(MediaItem::to_ref)
            .map_err(MediaError::UnknownHandle))
    }

    async fn public_url(
        &mut self,
        handle: String,
        ttl_secs: u32,
    ) -> wasmtime::Result<Result<String, MediaError>> {
        let item = match self.media().get(&handle) {
            Ok(i) => i,
            Err(e) => return Ok(Err(MediaError::UnknownHandle(e))),
        };
        let ttl = Duration::from_secs(u64::from(ttl_secs)).min(MAX_URL_TTL);
        Ok(Ok(self.services.media.signer.sign(&item.key, ttl)))
    }

    async fn create(
        &mut self,
        mime_type: String,
        bytes: Vec<u8>,
    ) -> wasmtime::Result<Result<MediaRef, MediaError>> {
        let prefix = self
            .ctx
            .media
            .create_prefix
            .clone()
            .unwrap_or_else(|| format!("plugins/{}/created", self.info.plugin));
        let id = uuid::Uuid::now_v7().to_string();
        let key = format!("{prefix}/{id}");
        let size = bytes.len() as u64;
        let services = self.services.clone();
        let stored = self
            .in_host(async |_| services.media.blobs.put(&key, bytes).await)
            .await;
        if let Err(e) = stored {
            return Ok(Err(MediaError::Failed(format!(
                "storing the object: {e:#}"
            ))));
        }
        let item = MediaItem {
            handle: id.clone(),
            key,
            mime_type,
            size,
            width: None,
            height: None,
            duration_ms: None,
            alt_text: None,
        };
        self.ctx.media.items.insert(id, item.clone());
        self.ctx.media.created.push(item.clone());
        Ok(Ok(item.to_ref()))
    }
}
