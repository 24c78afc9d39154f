//! Credentials at rest: AES-256-GCM with a random 96-bit nonce per value, stored as
//! `v1:<key id>:<base64(nonce || ciphertext)>`. The key id travels with every value so keys
//! can be rotated: the primary key encrypts, every known key decrypts.
//!
//! Keys come from `PLUGBOARD_CREDENTIALS_KEY` (64 hex characters) or from key files in
//! `DATA_DIR/keys/credentials/<key id>.key`, the first generated on first start; the file
//! `primary` in that folder names the key that encrypts.

use super::keyfile;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::RwLock;

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;
/// The file naming the primary key, beside the key files.
const PRIMARY_FILE: &str = "primary";

/// A 256-bit key given as 64 hex characters (flag or environment).
#[derive(Clone)]
pub struct KeyHex([u8; 32]);

impl KeyHex {
    /// The id under which values encrypted with this key are stored: a fingerprint, so the
    /// same key always gets the same id and the key itself is never written anywhere.
    pub fn id(&self) -> String {
        format!("env-{}", &hex::encode(Sha256::digest(self.0))[..12])
    }
}

impl FromStr for KeyHex {
    type Err = String;

    fn from_str(s: &str) -> Result<KeyHex, String> {
        let bytes = hex::decode(s.trim())
            .map_err(|_| "the credentials key must be 64 hex characters (32 bytes)".to_string())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the credentials key must be 64 hex characters (32 bytes)".to_string())?;
        Ok(KeyHex(key))
    }
}

impl std::fmt::Debug for KeyHex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyHex({})", self.id())
    }
}

/// Named secret values (app settings, account credentials). Debug output shows the names
/// only.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretMap(pub BTreeMap<String, String>);

impl std::fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("the stored value is not an encrypted credential (expected `v1:<key id>:<base64>`)")]
    Malformed,
    #[error(
        "the value was encrypted with credentials key `{0}`, which this server does not have: restore keys/credentials/{0}.key in the data folder from its backup (or set PLUGBOARD_CREDENTIALS_KEY to that key)"
    )]
    UnknownKey(String),
    #[error(
        "the value encrypted with credentials key `{0}` failed authentication: it was altered, or the key file does not hold the key it was encrypted with"
    )]
    Tampered(String),
}

struct Ring {
    keys: HashMap<String, Aes256Gcm>,
    primary: String,
}

/// Encrypts and decrypts credentials with the loaded keys.
pub struct CredentialCipher {
    ring: RwLock<Ring>,
    /// The key folder, re-read when a value names a key not loaded yet (another process
    /// rotated the keys).
    dir: PathBuf,
    /// The primary key comes from the environment: no `primary` file to maintain.
    from_env: bool,
}

impl std::fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ring = self.read();
        let mut ids: Vec<&String> = ring.keys.keys().collect();
        ids.sort();
        f.debug_struct("CredentialCipher")
            .field("primary", &ring.primary)
            .field("keys", &ids)
            .finish()
    }
}

fn cipher_of(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

/// Key ids end up in file names and inside stored values: letters, digits, `-`, `_`.
fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The key folder under a data folder.
pub fn key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys/credentials")
}

/// Every `<id>.key` file in `dir`.
fn read_key_files(dir: &Path) -> Result<HashMap<String, Aes256Gcm>> {
    let mut keys = HashMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "key") {
            continue;
        }
        let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| valid_key_id(s))
        else {
            continue;
        };
        let key = keyfile::load_or_create(&path)?;
        let key: [u8; 32] = key.try_into().expect("load_or_create checks the length");
        keys.insert(id.to_string(), cipher_of(&key));
    }
    Ok(keys)
}

/// A new key id: creation time first so a listing reads in order, then random bits so two
/// nodes rotating in the same second do not collide.
fn new_key_id() -> String {
    let mut suffix = [0u8; 3];
    rand::rng().fill_bytes(&mut suffix);
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        hex::encode(suffix)
    )
}

fn write_primary(dir: &Path, id: &str) -> Result<()> {
    let tmp = dir.join(format!("{PRIMARY_FILE}.tmp"));
    std::fs::write(&tmp, format!("{id}\n"))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(PRIMARY_FILE))
        .with_context(|| format!("updating {}", dir.join(PRIMARY_FILE).display()))
}

impl CredentialCipher {
    /// Loads the keys of `data_dir` (and the environment key, which then encrypts), creating
    /// the first key file if there is no key at all.
    pub fn load(data_dir: &Path, env_key: Option<&KeyHex>) -> Result<CredentialCipher> {
        let dir = key_dir(data_dir);
        let mut keys = read_key_files(&dir)?;
        let primary = if let Some(k) = env_key {
            keys.insert(k.id(), cipher_of(&k.0));
            k.id()
        } else if keys.is_empty() {
            let id = new_key_id();
            let mut raw = [0u8; 32];
            rand::rng().fill_bytes(&mut raw);
            keyfile::write_private(&dir.join(format!("{id}.key")), hex::encode(raw).as_bytes())?;
            write_primary(&dir, &id)?;
            tracing::warn!(
                folder = %dir.display(),
                "generated the credentials encryption key; back this folder up: without it, connected accounts and app secrets cannot be decrypted"
            );
            keys.insert(id.clone(), cipher_of(&raw));
            id
        } else {
            let path = dir.join(PRIMARY_FILE);
            let named = std::fs::read_to_string(&path)
                .map(|s| s.trim().to_string())
                .ok();
            match named {
                Some(id) if keys.contains_key(&id) => id,
                Some(id) => anyhow::bail!(
                    "{} names credentials key `{id}`, but {}/{id}.key is missing; restore it from the backup",
                    path.display(),
                    dir.display()
                ),
                None if keys.len() == 1 => keys.keys().next().cloned().expect("one key"),
                None => anyhow::bail!(
                    "{} holds several credentials keys but no `{PRIMARY_FILE}` file naming the one that encrypts; write the newest key id into it",
                    dir.display()
                ),
            }
        };
        Ok(CredentialCipher {
            ring: RwLock::new(Ring { keys, primary }),
            dir,
            from_env: env_key.is_some(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the primary key comes from `PLUGBOARD_CREDENTIALS_KEY` (rather than a file).
    pub fn primary_from_env(&self) -> bool {
        self.from_env
    }

    pub fn primary_id(&self) -> String {
        self.read().primary.clone()
    }

    /// Ids of every loaded key, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.read().keys.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Encrypts with the primary key.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String> {
        let ring = self.read();
        let key = ring
            .keys
            .get(&ring.primary)
            .expect("the primary key is loaded");
        seal_with(&ring.primary, key, plaintext)
    }

    /// Decrypts a value sealed with any known key.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, CipherError> {
        let (id, data) = parse(sealed)?;
        if !self.read().keys.contains_key(id) {
            self.reload();
        }
        let ring = self.read();
        let key = ring
            .keys
            .get(id)
            .ok_or_else(|| CipherError::UnknownKey(id.to_string()))?;
        let (nonce, ciphertext) = data.split_at(NONCE_LEN);
        key.decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: aad(id).as_bytes(),
            },
        )
        .map_err(|_| CipherError::Tampered(id.to_string()))
    }

    pub fn seal_json<T: Serialize>(&self, value: &T) -> Result<String> {
        self.seal(&serde_json::to_vec(value)?)
    }

    pub fn open_json<T: DeserializeOwned>(&self, sealed: &str) -> Result<T> {
        let plain = self.open(sealed)?;
        serde_json::from_slice(&plain).context("decrypted credentials are not the expected JSON")
    }

    /// The same plaintext sealed with key `to`, or None if it already is.
    pub fn reseal(&self, sealed: &str, to: &str) -> Result<Option<String>> {
        let (id, _) = parse(sealed)?;
        if id == to {
            return Ok(None);
        }
        let plain = self.open(sealed)?;
        let ring = self.read();
        let key = ring
            .keys
            .get(to)
            .with_context(|| format!("credentials key `{to}` is not loaded"))?;
        Ok(Some(seal_with(to, key, &plain)?))
    }

    /// Generates a new key into the key folder and loads it, not yet primary. Returns its
    /// id and file.
    pub fn create_key_file(&self) -> Result<(String, PathBuf)> {
        let id = new_key_id();
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let path = self.dir.join(format!("{id}.key"));
        keyfile::write_private(&path, hex::encode(raw).as_bytes())?;
        self.write().keys.insert(id.clone(), cipher_of(&raw));
        Ok((id, path))
    }

    /// Loads a given key, not yet primary. Returns its id.
    pub fn add_key(&self, key: &KeyHex) -> String {
        self.write().keys.insert(key.id(), cipher_of(&key.0));
        key.id()
    }

    /// Makes a loaded key the one that encrypts (recorded in the key folder for file keys).
    pub fn set_primary(&self, id: &str) -> Result<()> {
        let mut ring = self.write();
        anyhow::ensure!(
            ring.keys.contains_key(id),
            "credentials key `{id}` is not loaded"
        );
        if !self.from_env {
            write_primary(&self.dir, id)?;
        }
        ring.primary = id.to_string();
        Ok(())
    }

    /// Picks up key files written since start (a rotation by another process).
    fn reload(&self) {
        match read_key_files(&self.dir) {
            Ok(found) => {
                let mut ring = self.write();
                for (id, key) in found {
                    ring.keys.entry(id).or_insert(key);
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "re-reading the credentials keys failed")
            }
        }
    }
}

fn aad(id: &str) -> String {
    // Binds the key id to the ciphertext: a value cannot be relabelled to another key.
    format!("{VERSION}:{id}")
}

fn seal_with(id: &str, key: &Aes256Gcm, plaintext: &[u8]) -> Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ciphertext = key
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: aad(id).as_bytes(),
            },
        )
        .map_err(|_| anyhow::anyhow!("encrypting a credential failed"))?;
    let mut data = nonce.to_vec();
    data.extend_from_slice(&ciphertext);
    Ok(format!("{VERSION}:{id}:{}", STANDARD.encode(data)))
}

fn parse(sealed: &str) -> Result<(&str, Vec<u8>), CipherError> {
    let mut parts = sealed.splitn(3, ':');
    let (Some(VERSION), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CipherError::Malformed);
    };
    let data = STANDARD.decode(data).map_err(|_| CipherError::Malformed)?;
    // A nonce and at least the 16-byte tag.
    if data.len() < NONCE_LEN + 16 || !valid_key_id(id) {
        return Err(CipherError::Malformed);
    }
    Ok((id, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> KeyHex {
        KeyHex([byte; 32])
    }

    impl CredentialCipher {
        /// A cipher holding one key under `id`, with no key folder.
        fn with_key(id: &str, key: &KeyHex) -> CredentialCipher {
            CredentialCipher {
                ring: RwLock::new(Ring {
                    keys: HashMap::from([(id.to_string(), cipher_of(&key.0))]),
                    primary: id.to_string(),
                }),
                dir: PathBuf::new(),
                from_env: true,
            }
        }
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let c = CredentialCipher::with_key("k1", &key(1));
        let a = c.seal(b"access-token-123").unwrap();
        let b = c.seal(b"access-token-123").unwrap();
        assert!(a.starts_with("v1:k1:"), "{a}");
        assert_ne!(a, b, "every value gets its own nonce");
        assert!(!a.contains("access-token"));
        assert_eq!(c.open(&a).unwrap(), b"access-token-123");
        let map = SecretMap(BTreeMap::from([("access_token".into(), "tok".into())]));
        let sealed = c.seal_json(&map).unwrap();
        assert_eq!(c.open_json::<SecretMap>(&sealed).unwrap(), map);
        assert_eq!(format!("{map:?}"), r#"{"access_token"}"#);
    }

    #[test]
    fn tampering_is_detected() {
        let c = CredentialCipher::with_key("k1", &key(1));
        let sealed = c.seal(b"secret").unwrap();
        let (prefix, data) = sealed.rsplit_once(':').unwrap();
        let mut bytes = STANDARD.decode(data).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = format!("{prefix}:{}", STANDARD.encode(&bytes));
        assert!(matches!(c.open(&altered), Err(CipherError::Tampered(id)) if id == "k1"));
        // Relabelling to another key id is refused too (the id is authenticated).
        let c2 = CredentialCipher::with_key("k1", &key(1));
        c2.add_key(&key(1));
        let relabelled = sealed.replacen("v1:k1:", &format!("v1:{}:", key(1).id()), 1);
        assert!(matches!(
            c2.open(&relabelled),
            Err(CipherError::Tampered(_))
        ));
        assert!(matches!(c.open("plaintext"), Err(CipherError::Malformed)));
        assert!(matches!(c.open("v1:k1:AAAA"), Err(CipherError::Malformed)));
    }

    #[test]
    fn wrong_or_unknown_key_is_a_clear_error() {
        let c1 = CredentialCipher::with_key("k1", &key(1));
        let other = CredentialCipher::with_key("k1", &key(2));
        let sealed = c1.seal(b"secret").unwrap();
        assert!(matches!(other.open(&sealed), Err(CipherError::Tampered(_))));
        let unknown = CredentialCipher::with_key("k2", &key(1));
        let err = unknown.open(&sealed).unwrap_err();
        assert!(matches!(&err, CipherError::UnknownKey(id) if id == "k1"));
        assert!(err.to_string().contains("keys/credentials/k1.key"), "{err}");
    }

    #[test]
    fn debug_never_shows_keys() {
        let k = key(7);
        let shown = format!("{k:?}");
        assert!(!shown.contains("0707"), "{shown}");
        let c = CredentialCipher::with_key("k1", &k);
        assert!(!format!("{c:?}").contains("0707"));
        assert!("abc".parse::<KeyHex>().is_err());
        assert!(hex::encode([9u8; 32]).parse::<KeyHex>().is_ok());
    }

    #[test]
    fn key_files_are_created_then_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let c = CredentialCipher::load(dir.path(), None).unwrap();
        let first = c.primary_id();
        assert!(key_dir(dir.path()).join(format!("{first}.key")).exists());
        let old = c.seal(b"token").unwrap();

        let (second, file) = c.create_key_file().unwrap();
        assert!(file.exists());
        assert_eq!(c.primary_id(), first, "a new key is not primary until set");
        let resealed = c.reseal(&old, &second).unwrap().unwrap();
        assert!(resealed.starts_with(&format!("v1:{second}:")));
        assert_eq!(c.reseal(&resealed, &second).unwrap(), None);
        c.set_primary(&second).unwrap();
        assert!(c.seal(b"x").unwrap().starts_with(&format!("v1:{second}:")));

        // A fresh start finds both keys and the new primary; old values still open.
        let again = CredentialCipher::load(dir.path(), None).unwrap();
        assert_eq!(again.primary_id(), second);
        assert_eq!(again.open(&old).unwrap(), b"token");
        assert_eq!(again.open(&resealed).unwrap(), b"token");

        // A process that started before the rotation picks the new key up when needed.
        let stale = CredentialCipher::load(dir.path(), None).unwrap();
        let (third, _) = again.create_key_file().unwrap();
        again.set_primary(&third).unwrap();
        let newest = again.seal(b"t3").unwrap();
        assert_eq!(stale.open(&newest).unwrap(), b"t3");

        // The environment key encrypts when set; file keys still decrypt.
        let env = key(5);
        let with_env = CredentialCipher::load(dir.path(), Some(&env)).unwrap();
        assert_eq!(with_env.primary_id(), env.id());
        assert_eq!(with_env.open(&old).unwrap(), b"token");
    }
}
