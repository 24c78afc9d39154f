//! Short-lived HMAC-signed URLs for media that platforms pull by URL.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
    /// Public base URL of this server as platforms reach it, e.g. `https://media.example.com`.
    base: String,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl UrlSigner {
    pub fn new(key: Vec<u8>, base: &str) -> anyhow::Result<UrlSigner> {
        let parsed = url::Url::parse(base)
            .map_err(|e| anyhow::anyhow!("public URL `{base}` is not a URL: {e}"))?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some(),
            "public URL `{base}` must be an http(s) URL with a host"
        );
        Ok(UrlSigner {
            key,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    fn mac(&self, object_key: &str, expires: u64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(object_key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    pub fn sign(&self, object_key: &str, ttl: Duration) -> String {
        let expires = now_secs() + ttl.as_secs();
        let sig = hex::encode(self.mac(object_key, expires).finalize().into_bytes());
        let mut url =
            url::Url::parse(&self.base).expect("the public base URL is validated at start");
        url.path_segments_mut()
            .expect("an http(s) base URL")
            .pop_if_empty()
            .extend(["media", "public"])
            .extend(object_key.split('/'));
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("sig", &sig);
        url.to_string()
    }

    /// Checks signature (constant time) and expiry.
    pub fn verify(&self, object_key: &str, expires: u64, sig_hex: &str) -> bool {
        if expires < now_secs() {
            return false;
        }
        let Ok(sig) = hex::decode(sig_hex) else {
            return false;
        };
        self.mac(object_key, expires).verify_slice(&sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_verify_and_expire() {
        let s = UrlSigner::new(vec![7; 32], "http://127.0.0.1:8080/").unwrap();
        assert!(UrlSigner::new(vec![], "ftp://x").is_err());
        let url = s.sign("ws/a b.jpg", Duration::from_secs(60));
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.path(), "/media/public/ws/a%20b.jpg");
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        let exp: u64 = q["expires"].parse().unwrap();
        assert!(s.verify("ws/a b.jpg", exp, &q["sig"]));
        assert!(!s.verify("ws/other.jpg", exp, &q["sig"]));
        assert!(!s.verify("ws/a b.jpg", exp + 1, &q["sig"]));
        assert!(!s.verify("ws/a b.jpg", 1, &q["sig"]));
    }
}
