//! Rotation of the credentials key: a new key becomes primary and every stored ciphertext
//! (app settings, account credentials, OAuth states, webhook secrets, plugin storage) is re-encrypted with it in one
//! transaction. Old key files stay, so backups taken before the rotation still open.

use crate::crypto::credentials::{CredentialCipher, KeyHex};
use crate::store::{Db, accounts, apps};
use anyhow::{Result, bail};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Serialize)]
pub struct Rotation {
    pub new_key_id: String,
    pub previous_key_id: String,
    /// The new key file (None when the key came from PLUGBOARD_CREDENTIALS_KEY).
    pub key_file: Option<PathBuf>,
    /// Every key still loaded, the old ones included.
    pub kept_key_ids: Vec<String>,
    pub apps: usize,
    pub accounts: usize,
    pub oauth_states: usize,
    pub webhooks: usize,
    pub plugin_storage: usize,
}

/// Rotates to a new key: generated into the key folder, or `new_key` when the primary key
/// comes from `PLUGBOARD_CREDENTIALS_KEY` (which must then be set to the new key).
pub async fn rotate(
    db: &Db,
    cipher: &CredentialCipher,
    new_key: Option<&KeyHex>,
) -> Result<Rotation> {
    let previous_key_id = cipher.primary_id();
    let (new_key_id, key_file) = match (cipher.primary_from_env(), new_key) {
        (true, Some(k)) => {
            if k.id() == previous_key_id {
                bail!(
                    "the new key is the current key; generate a different one (e.g. `openssl rand -hex 32`)"
                );
            }
            (cipher.add_key(k), None)
        }
        (true, None) => bail!(
            "the credentials key comes from PLUGBOARD_CREDENTIALS_KEY: give the new key with --new-key (64 hex characters), then set PLUGBOARD_CREDENTIALS_KEY to it"
        ),
        (false, Some(_)) => bail!(
            "--new-key is for a key given by PLUGBOARD_CREDENTIALS_KEY; with key files the new key is generated"
        ),
        (false, None) => {
            let (id, file) = cipher.create_key_file()?;
            (id, Some(file))
        }
    };
    let mut tx = db.write_tx("credentials-key-rotation").await?;
    let reseal = |sealed: &str| cipher.reseal(sealed, &new_key_id);
    let apps = apps::reseal_all(db, &mut tx, &reseal).await?;
    let accounts = accounts::reseal_all(db, &mut tx, &reseal).await?;
    let oauth_states = accounts::reseal_states(db, &mut tx, &reseal).await?;
    let webhooks = crate::webhooks::reseal_secrets(db, &mut tx, &reseal).await?;
    let plugin_storage = crate::store::plugin_kv::reseal_all(db, &mut tx, &reseal).await?;
    tx.commit().await?;
    // Primary only once everything is re-encrypted: a failure above leaves the old key in
    // charge and every value readable.
    cipher.set_primary(&new_key_id)?;
    Ok(Rotation {
        kept_key_ids: cipher.key_ids(),
        new_key_id,
        previous_key_id,
        key_file,
        apps,
        accounts,
        oauth_states,
        webhooks,
        plugin_storage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Tx;
    use crate::{on_db, on_tx};

    async fn db() -> Db {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.migrate().await.unwrap();
        db
    }

    async fn exec(db: &Db, tx: &mut Tx, sql: &'static str, binds: &[&str]) {
        let sql = db.sql(sql);
        on_tx!(tx, |c| {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.execute(&mut **c).await.unwrap();
        });
    }

    #[tokio::test]
    async fn every_ciphertext_moves_to_the_new_key() {
        let db = db().await;
        let dir = tempfile::tempdir().unwrap();
        let cipher = CredentialCipher::load(dir.path(), None).unwrap();
        let old = cipher.primary_id();
        let settings = cipher.seal(b"{\"client_secret\":\"s\"}").unwrap();
        let creds = cipher.seal(b"{\"access_token\":\"t\"}").unwrap();
        let verifier = cipher.seal(b"verifier").unwrap();
        let stash = cipher.seal(b"[]").unwrap();
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = db.write_tx("seed").await.unwrap();
        exec(&db, &mut tx, "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ('u', 'u@x', 'U', 'h', ?)", &[&now]).await;
        exec(
            &db,
            &mut tx,
            "INSERT INTO workspaces (id, name, timezone, created_at) VALUES ('w', 'W', 'UTC', ?)",
            &[&now],
        )
        .await;
        exec(&db, &mut tx, "INSERT INTO platform_apps (id, workspace_id, plugin_id, name, settings, created_at, updated_at) VALUES ('a', 'w', 'p', 'A', ?, ?, ?)", &[&settings, &now, &now]).await;
        exec(&db, &mut tx, "INSERT INTO accounts (id, workspace_id, plugin_id, app_id, remote_id, kind, display_name, properties, credentials, status, created_at, updated_at) VALUES ('acc', 'w', 'p', 'a', 'r', 'user', 'R', '{}', ?, 'active', ?, ?)", &[&creds, &now, &now]).await;
        exec(&db, &mut tx, "INSERT INTO oauth_states (state_hash, workspace_id, user_id, plugin_id, app_id, code_verifier, stash, redirect_uri, expires_at, created_at) VALUES ('h', 'w', 'u', 'p', 'a', ?, ?, 'http://x/cb', ?, ?)", &[&verifier, &stash, &now, &now]).await;
        tx.commit().await.unwrap();

        let r = rotate(&db, &cipher, None).await.unwrap();
        assert_eq!(r.previous_key_id, old);
        assert_ne!(r.new_key_id, old);
        assert_eq!((r.apps, r.accounts, r.oauth_states), (1, 1, 1));
        assert!(r.kept_key_ids.contains(&old));
        assert!(r.key_file.as_ref().unwrap().exists());
        assert_eq!(cipher.primary_id(), r.new_key_id);

        let sql = db.sql("SELECT settings FROM platform_apps UNION ALL SELECT credentials FROM accounts UNION ALL SELECT code_verifier FROM oauth_states UNION ALL SELECT stash FROM oauth_states");
        let all: Vec<String> = on_db!(&db, |p| sqlx::query_scalar(sql).fetch_all(p).await.unwrap());
        assert_eq!(all.len(), 4);
        for sealed in &all {
            assert!(
                sealed.starts_with(&format!("v1:{}:", r.new_key_id)),
                "{sealed}"
            );
        }
        assert_eq!(cipher.open(&all[1]).unwrap(), b"{\"access_token\":\"t\"}");

        // A fresh start finds the new primary and opens everything.
        let again = CredentialCipher::load(dir.path(), None).unwrap();
        assert_eq!(again.primary_id(), r.new_key_id);
        assert_eq!(again.open(&all[2]).unwrap(), b"verifier");

        // Environment keys need the new key given, and only then.
        let env = hex::encode([3u8; 32]).parse::<KeyHex>().unwrap();
        let env_cipher = CredentialCipher::load(dir.path(), Some(&env)).unwrap();
        assert!(rotate(&db, &env_cipher, None).await.is_err());
        assert!(rotate(&db, &env_cipher, Some(&env)).await.is_err());
        let next = hex::encode([4u8; 32]).parse::<KeyHex>().unwrap();
        let r2 = rotate(&db, &env_cipher, Some(&next)).await.unwrap();
        assert_eq!(r2.new_key_id, next.id());
        assert!(r2.key_file.is_none());
        assert!(rotate(&db, &cipher, Some(&next)).await.is_err());
    }
}
