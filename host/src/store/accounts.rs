//! Connected accounts and the OAuth states of connections in progress. Credential, PKCE
//! verifier and stash columns hold ciphertext only.

use super::{Db, Tx};
use crate::{on_db, on_tx};
use anyhow::Result;
use chrono::{DateTime, Utc};

pub const ACTIVE: &str = "active";
pub const PENDING_SELECTION: &str = "pending_selection";
pub const DISCONNECTED: &str = "disconnected";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub workspace_id: String,
    pub plugin_id: String,
    pub app_id: Option<String>,
    pub remote_id: String,
    pub parent_account_id: Option<String>,
    pub kind: String,
    pub display_name: String,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    /// JSON object of non-secret values.
    pub properties: String,
    /// Sealed JSON object of credential values.
    pub credentials: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_refresh_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub needs_reconnect: bool,
    pub status: String,
    pub connected_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Option<AccountRow>> {
    let sql = db.sql("SELECT * FROM accounts WHERE id = ? AND workspace_id = ?");
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(p)
        .await?))
}

/// An account by id alone (background work such as token refresh).
pub async fn get_any(db: &Db, id: &str) -> Result<Option<AccountRow>> {
    let sql = db.sql("SELECT * FROM accounts WHERE id = ?");
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await?))
}

/// The same account inside a transaction (read before a change).
pub async fn get_in(db: &Db, tx: &mut Tx, id: &str) -> Result<Option<AccountRow>> {
    let sql = db.sql("SELECT * FROM accounts WHERE id = ?");
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut **c)
        .await?))
}

/// A workspace's accounts, parents before their sub-accounts, oldest first.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<AccountRow>> {
    let sql = db.sql(
        "SELECT * FROM accounts WHERE workspace_id = ? ORDER BY COALESCE(parent_account_id, id), parent_account_id IS NOT NULL, created_at, id",
    );
    Ok(on_db!(db, |p| sqlx::query_as(sql)
        .bind(workspace_id)
        .fetch_all(p)
        .await?))
}

pub async fn find_remote(
    db: &Db,
    tx: &mut Tx,
    workspace_id: &str,
    plugin_id: &str,
    remote_id: &str,
) -> Result<Option<AccountRow>> {
    let sql =
        db.sql("SELECT * FROM accounts WHERE workspace_id = ? AND plugin_id = ? AND remote_id = ?");
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(workspace_id)
        .bind(plugin_id)
        .bind(remote_id)
        .fetch_optional(&mut **c)
        .await?))
}

pub async fn children(db: &Db, tx: &mut Tx, parent_id: &str) -> Result<Vec<AccountRow>> {
    let sql = db.sql("SELECT * FROM accounts WHERE parent_account_id = ? ORDER BY created_at, id");
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(parent_id)
        .fetch_all(&mut **c)
        .await?))
}

pub async fn insert(db: &Db, tx: &mut Tx, a: &AccountRow) -> Result<()> {
    let sql = db.sql(
        "INSERT INTO accounts (id, workspace_id, plugin_id, app_id, remote_id, parent_account_id, kind, display_name, username, avatar_url, properties, credentials, expires_at, last_refresh_at, last_error, needs_reconnect, status, connected_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&a.id)
        .bind(&a.workspace_id)
        .bind(&a.plugin_id)
        .bind(&a.app_id)
        .bind(&a.remote_id)
        .bind(&a.parent_account_id)
        .bind(&a.kind)
        .bind(&a.display_name)
        .bind(&a.username)
        .bind(&a.avatar_url)
        .bind(&a.properties)
        .bind(&a.credentials)
        .bind(a.expires_at)
        .bind(a.last_refresh_at)
        .bind(&a.last_error)
        .bind(a.needs_reconnect)
        .bind(&a.status)
        .bind(&a.connected_by)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Writes every changeable column of `a`.
pub async fn update(db: &Db, tx: &mut Tx, a: &AccountRow) -> Result<()> {
    let sql = db.sql(
        "UPDATE accounts SET app_id = ?, parent_account_id = ?, kind = ?, display_name = ?, username = ?, avatar_url = ?, properties = ?, credentials = ?, expires_at = ?, last_refresh_at = ?, last_error = ?, needs_reconnect = ?, status = ?, connected_by = ?, updated_at = ? WHERE id = ?",
    );
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&a.app_id)
        .bind(&a.parent_account_id)
        .bind(&a.kind)
        .bind(&a.display_name)
        .bind(&a.username)
        .bind(&a.avatar_url)
        .bind(&a.properties)
        .bind(&a.credentials)
        .bind(a.expires_at)
        .bind(a.last_refresh_at)
        .bind(&a.last_error)
        .bind(a.needs_reconnect)
        .bind(&a.status)
        .bind(&a.connected_by)
        .bind(a.updated_at)
        .bind(&a.id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn delete(db: &Db, tx: &mut Tx, id: &str) -> Result<()> {
    let sql = db.sql("DELETE FROM accounts WHERE id = ?");
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Re-encrypts every account's credentials with `reseal` (None: already current).
pub async fn reseal_all(
    db: &Db,
    tx: &mut Tx,
    reseal: &dyn Fn(&str) -> Result<Option<String>>,
) -> Result<usize> {
    let sql = db.sql("SELECT id, credentials FROM accounts WHERE credentials IS NOT NULL");
    let rows: Vec<(String, String)> =
        on_tx!(tx, |c| sqlx::query_as(sql).fetch_all(&mut **c).await?);
    let mut changed = 0;
    for (id, sealed) in rows {
        if let Some(new) = reseal(&sealed)? {
            // Only if unchanged since read (see `apps::reseal_all`).
            let update =
                db.sql("UPDATE accounts SET credentials = ? WHERE id = ? AND credentials = ?");
            on_tx!(tx, |c| sqlx::query(update)
                .bind(&new)
                .bind(&id)
                .bind(&sealed)
                .execute(&mut **c)
                .await
                .map(|_| ())?);
            changed += 1;
        }
    }
    Ok(changed)
}

// ------------------------------------------------------------------------- OAuth states

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OAuthState {
    pub state_hash: String,
    pub workspace_id: String,
    pub user_id: String,
    pub plugin_id: String,
    pub app_id: Option<String>,
    /// Sealed PKCE verifier.
    pub code_verifier: String,
    /// Sealed JSON list of the plugin's stash pairs.
    pub stash: String,
    pub redirect_uri: String,
    pub return_to: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// How long a finished or abandoned state is kept (for tracing a failed connection)
/// before it is purged.
const STATE_RETENTION_HOURS: i64 = 24;

/// Stores a new state, purging long-expired ones on the way.
pub async fn insert_state(db: &Db, s: &OAuthState) -> Result<()> {
    let purge = db.sql("DELETE FROM oauth_states WHERE expires_at < ?");
    let cutoff = Utc::now() - chrono::Duration::hours(STATE_RETENTION_HOURS);
    on_db!(db, |p| sqlx::query(purge)
        .bind(cutoff)
        .execute(p)
        .await
        .map(|_| ())?);
    let sql = db.sql(
        "INSERT INTO oauth_states (state_hash, workspace_id, user_id, plugin_id, app_id, code_verifier, stash, redirect_uri, return_to, expires_at, used_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    on_db!(db, |p| sqlx::query(sql)
        .bind(&s.state_hash)
        .bind(&s.workspace_id)
        .bind(&s.user_id)
        .bind(&s.plugin_id)
        .bind(&s.app_id)
        .bind(&s.code_verifier)
        .bind(&s.stash)
        .bind(&s.redirect_uri)
        .bind(&s.return_to)
        .bind(s.expires_at)
        .bind(s.used_at)
        .bind(s.created_at)
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(())
}

/// What became of a presented state.
#[derive(Debug)]
pub enum Taken {
    /// Valid: now marked used.
    Fresh(OAuthState),
    Unknown,
    Used(OAuthState),
    Expired(OAuthState),
}

/// Checks and spends a state in one transaction, so it can be used once only even when
/// two callbacks race.
pub async fn take_state(db: &Db, state_hash: &str) -> Result<Taken> {
    let mut tx = db.write_tx(&format!("oauth-state:{state_hash}")).await?;
    let sql = db.sql("SELECT * FROM oauth_states WHERE state_hash = ?");
    let found: Option<OAuthState> = on_tx!(&mut tx, |c| sqlx::query_as(sql)
        .bind(state_hash)
        .fetch_optional(&mut **c)
        .await?);
    let now = Utc::now();
    let Some(state) = found else {
        return Ok(Taken::Unknown);
    };
    if state.used_at.is_some() {
        return Ok(Taken::Used(state));
    }
    if state.expires_at <= now {
        return Ok(Taken::Expired(state));
    }
    let spend =
        db.sql("UPDATE oauth_states SET used_at = ? WHERE state_hash = ? AND used_at IS NULL");
    on_tx!(&mut tx, |c| sqlx::query(spend)
        .bind(now)
        .bind(state_hash)
        .execute(&mut **c)
        .await
        .map(|_| ())?);
    tx.commit().await?;
    Ok(Taken::Fresh(state))
}

/// Re-encrypts every state's verifier and stash with `reseal`.
pub async fn reseal_states(
    db: &Db,
    tx: &mut Tx,
    reseal: &dyn Fn(&str) -> Result<Option<String>>,
) -> Result<usize> {
    let sql = db.sql("SELECT state_hash, code_verifier, stash FROM oauth_states");
    let rows: Vec<(String, String, String)> =
        on_tx!(tx, |c| sqlx::query_as(sql).fetch_all(&mut **c).await?);
    let mut changed = 0;
    for (hash, verifier, stash) in rows {
        let new_verifier = reseal(&verifier)?;
        let new_stash = reseal(&stash)?;
        if new_verifier.is_none() && new_stash.is_none() {
            continue;
        }
        let update = db.sql(
            "UPDATE oauth_states SET code_verifier = ?, stash = ? WHERE state_hash = ? AND code_verifier = ? AND stash = ?",
        );
        on_tx!(tx, |c| sqlx::query(update)
            .bind(new_verifier.as_ref().unwrap_or(&verifier))
            .bind(new_stash.as_ref().unwrap_or(&stash))
            .bind(&hash)
            .bind(&verifier)
            .bind(&stash)
            .execute(&mut **c)
            .await
            .map(|_| ())?);
        changed += 1;
    }
    Ok(changed)
}
