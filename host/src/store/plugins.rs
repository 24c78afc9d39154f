//! Persistence of the plugin registry: installed versions, the active and previous
//! version of each plugin, and the operator's grants.

use super::Db;
use crate::on_db;
use crate::runtime::grants::Grants;
use crate::runtime::manifest::Manifest;
use anyhow::{Context, Result};

#[derive(Debug, Clone)]
pub struct PluginRow {
    pub id: String,
    pub active_version: String,
    pub previous_version: Option<String>,
    pub grants: Grants,
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: String,
    pub content_hash: String,
    pub manifest: Manifest,
    pub installed_at: String,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

pub async fn list(db: &Db) -> Result<Vec<PluginRow>> {
    let sql = "SELECT id, active_version, previous_version, grants FROM plugins ORDER BY id";
    let rows: Vec<(String, String, Option<String>, String)> =
        on_db!(db, |p| sqlx::query_as(sql).fetch_all(p).await?);
    rows.into_iter()
        .map(|(id, active_version, previous_version, grants)| {
            Ok(PluginRow {
                grants: serde_json::from_str(&grants).with_context(|| format!("grants of {id}"))?,
                id,
                active_version,
                previous_version,
            })
        })
        .collect()
}

pub async fn get(db: &Db, id: &str) -> Result<Option<PluginRow>> {
    Ok(list(db).await?.into_iter().find(|r| r.id == id))
}

pub async fn versions(db: &Db, id: &str) -> Result<Vec<VersionRow>> {
    let sql = db.sql(
        "SELECT version, content_hash, manifest, installed_at FROM plugin_versions WHERE plugin_id = ? ORDER BY installed_at",
    );
    let rows: Vec<(String, String, String, String)> =
        on_db!(db, |p| sqlx::query_as(sql).bind(id).fetch_all(p).await?);
    rows.into_iter()
        .map(|(version, content_hash, manifest, installed_at)| {
            Ok(VersionRow {
                manifest: serde_json::from_str(&manifest).context("stored manifest")?,
                version,
                content_hash,
                installed_at,
            })
        })
        .collect()
}

/// Records a version (idempotent for the same content).
pub async fn add_version(db: &Db, manifest: &Manifest, content_hash: &str) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO plugin_versions (plugin_id, version, content_hash, manifest, installed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (plugin_id, version) DO NOTHING",
    );
    let manifest_json = serde_json::to_string(manifest)?;
    on_db!(db, |p| {
        sqlx::query(sql)
            .bind(&manifest.id)
            .bind(&manifest.version)
            .bind(content_hash)
            .bind(&manifest_json)
            .bind(now())
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Makes `version` active, remembering the version it replaces for rollback.
pub async fn activate(
    db: &Db,
    id: &str,
    version: &str,
    previous: Option<&str>,
    grants: &Grants,
) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO plugins (id, active_version, previous_version, grants, updated_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET active_version = excluded.active_version, previous_version = excluded.previous_version, grants = excluded.grants, updated_at = excluded.updated_at",
    );
    let grants = serde_json::to_string(grants)?;
    on_db!(db, |p| {
        sqlx::query(sql)
            .bind(id)
            .bind(version)
            .bind(previous)
            .bind(&grants)
            .bind(now())
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Keeps a component's bytes (idempotent: the hash names the content).
pub async fn put_artifact(db: &Db, id: &str, content_hash: &str, bytes: &[u8]) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO plugin_artifacts (plugin_id, content_hash, bytes) VALUES (?, ?, ?) ON CONFLICT (plugin_id, content_hash) DO NOTHING",
    );
    on_db!(db, |p| {
        sqlx::query(sql)
            .bind(id)
            .bind(content_hash)
            .bind(bytes)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// A component's bytes, if this database has them (installs before they were kept here
/// have only the file).
pub async fn artifact(db: &Db, id: &str, content_hash: &str) -> Result<Option<Vec<u8>>> {
    let sql = db.sql("SELECT bytes FROM plugin_artifacts WHERE plugin_id = ? AND content_hash = ?");
    let bytes: Option<Vec<u8>> = on_db!(db, |p| sqlx::query_scalar(sql)
        .bind(id)
        .bind(content_hash)
        .fetch_optional(p)
        .await?);
    Ok(bytes)
}

pub async fn remove(db: &Db, id: &str) -> Result<()> {
    let a = db.sql("DELETE FROM plugins WHERE id = ?");
    let b = db.sql("DELETE FROM plugin_versions WHERE plugin_id = ?");
    let c = db.sql("DELETE FROM plugin_kv WHERE plugin_id = ?");
    let d = db.sql("DELETE FROM plugin_artifacts WHERE plugin_id = ?");
    for sql in [a, b, c, d] {
        on_db!(db, |p| {
            sqlx::query(sql).bind(id).execute(p).await?;
        });
    }
    Ok(())
}
