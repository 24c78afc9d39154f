//! Object storage for media: a local folder by default, S3-compatible by configuration,
//! behind `object_store`.

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::path::Path as ObjectPath;
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart,
};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// Parts of one streaming write that may be uploading at once: with 5 MiB parts this bounds
/// the memory a write holds, whatever the object's size.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

impl Blobs {
    /// A folder on the local disk (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Blobs> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // Automatic cleanup removes folders left empty by deletes (finished upload sessions
        // would otherwise leave one each).
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("opening {}", dir.display()))?
            .with_automatic_cleanup(true);
        Ok(Blobs {
            store: Arc::new(store),
        })
    }

    /// An S3-compatible bucket (`AWS_*` environment variables configure credentials).
    pub fn s3(bucket: &str, endpoint: Option<&str>) -> Result<Blobs> {
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(ep) = endpoint {
            builder = builder
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        Ok(Blobs {
            store: Arc::new(builder.build().context("configuring S3 storage")?),
        })
    }

    fn path(key: &str) -> Result<ObjectPath> {
        ObjectPath::parse(key).with_context(|| format!("invalid object key {key}"))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&Self::path(key)?, PutPayload::from(bytes))
            .await
            .with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    pub async fn size(&self, key: &str) -> Result<u64> {
        Ok(self.store.head(&Self::path(key)?).await?.size)
    }

    /// Streams a byte range without reading the object into memory.
    pub async fn stream_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&Self::path(key)?, opts)
            .await
            .with_context(|| format!("reading {key}"))?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        self.store.delete(&Self::path(key)?).await?;
        Ok(())
    }

    /// Whether an object exists under `key`.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.store.head(&Self::path(key)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e).with_context(|| format!("looking up {key}")),
        }
    }

    /// Starts a streaming write of `key` (multipart on S3, a staged file locally).
    pub async fn writer(&self, key: &str) -> Result<BlobWriter> {
        let upload = self
            .store
            .put_multipart(&Self::path(key)?)
            .await
            .with_context(|| format!("starting to store {key}"))?;
        Ok(BlobWriter {
            key: key.to_string(),
            inner: WriteMultipart::new(upload),
        })
    }

    /// The file behind `key` when storage is the local folder (None for remote stores).
    pub async fn local_path(&self, key: &str) -> Result<Option<PathBuf>> {
        let result = self
            .store
            .get(&Self::path(key)?)
            .await
            .with_context(|| format!("opening {key}"))?;
        Ok(match result.payload {
            GetResultPayload::File(_, path) => Some(path),
            GetResultPayload::Stream(_) => None,
        })
    }
}

/// One object being written as a stream. Nothing is visible under the key until
/// [`BlobWriter::finish`]; on any error call [`BlobWriter::abort`] so no parts are left.
pub struct BlobWriter {
    key: String,
    inner: WriteMultipart,
}

impl BlobWriter {
    /// Appends bytes, waiting while too many parts are still uploading (back pressure).
    pub async fn write(&mut self, bytes: Bytes) -> Result<()> {
        self.inner
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .with_context(|| format!("storing {}", self.key))?;
        self.inner.put(bytes);
        Ok(())
    }

    pub async fn finish(self) -> Result<()> {
        self.inner
            .finish()
            .await
            .with_context(|| format!("completing {}", self.key))?;
        Ok(())
    }

    pub async fn abort(self) -> Result<()> {
        self.inner
            .abort()
            .await
            .with_context(|| format!("abandoning {}", self.key))
    }
}
