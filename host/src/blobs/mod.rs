//! Object storage for media: a local folder by default, S3-compatible by configuration,
//! behind `object_store`.

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use std::ops::Range;
use std::sync::Arc;

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

impl Blobs {
    /// A folder on the local disk (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Blobs> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("opening {}", dir.display()))?;
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
}
