//! OAuth and signature helpers: PKCE S256, OAuth 1.0a HMAC-SHA1 signing, HMAC-SHA256
//! proofs (Meta `appsecret_proof`) and constant-time webhook signature checks.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (RFC 5849 §3.6).
const OAUTH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encoding as OAuth 1.0a requires it.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, OAUTH_ENCODE).to_string()
}

/// The S256 code challenge of a PKCE verifier (RFC 7636).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A random URL-safe token of `bytes` random bytes (state, nonce, verifier).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The host always provides WASI random; failing to get entropy is not recoverable.
    getrandom::fill(&mut buf).expect("WASI random is available");
    URL_SAFE_NO_PAD.encode(buf)
}

/// Hex HMAC-SHA256 of `message` under `key` (Meta's `appsecret_proof` is
/// `hmac_sha256_hex(app_secret, access_token)`).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a hex HMAC-SHA256 signature (optionally prefixed, e.g. `sha256=`) over `body` in
/// constant time.
pub fn verify_hmac_sha256_hex(key: &[u8], body: &[u8], signature_hex: &str) -> bool {
    let Ok(expected) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// OAuth 1.0a credentials for signing a request (user context).
pub struct OAuth1<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: Option<&'a str>,
    pub token_secret: Option<&'a str>,
}

impl OAuth1<'_> {
    /// The `Authorization: OAuth …` header for a request. `params` are the query and
    /// form-body parameters (not JSON or multipart bodies, which are not signed).
    pub fn authorization(&self, method: &str, url: &str, params: &[(String, String)]) -> String {
        let nonce = random_token(16);
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        self.authorization_with(method, url, params, &nonce, &timestamp, &[])
    }

    /// As [`OAuth1::authorization`] with a fixed nonce and timestamp (for tests) and extra
    /// protocol parameters (e.g. `oauth_callback`, `oauth_verifier`).
    pub fn authorization_with(
        &self,
        method: &str,
        url: &str,
        params: &[(String, String)],
        nonce: &str,
        timestamp: &str,
        extra_oauth: &[(&str, &str)],
    ) -> String {
        let mut oauth: Vec<(String, String)> = vec![
            ("oauth_consumer_key".into(), self.consumer_key.into()),
            ("oauth_nonce".into(), nonce.into()),
            ("oauth_signature_method".into(), "HMAC-SHA1".into()),
            ("oauth_timestamp".into(), timestamp.into()),
            ("oauth_version".into(), "1.0".into()),
        ];
        if let Some(token) = self.token {
            oauth.push(("oauth_token".into(), token.into()));
        }
        for (k, v) in extra_oauth {
            oauth.push(((*k).into(), (*v).into()));
        }
        let signature = self.signature(method, url, params, &oauth);
        oauth.push(("oauth_signature".into(), signature));
        oauth.sort();
        let fields: Vec<String> = oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", percent_encode(k), percent_encode(v)))
            .collect();
        format!("OAuth {}", fields.join(", "))
    }

    /// The base64 HMAC-SHA1 signature over the RFC 5849 signature base string.
    pub fn signature(
        &self,
        method: &str,
        url: &str,
        params: &[(String, String)],
        oauth: &[(String, String)],
    ) -> String {
        let (base_url, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let mut all: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            all.extend(serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default());
        }
        all.extend(params.iter().cloned());
        all.extend(oauth.iter().cloned());
        let mut encoded: Vec<(String, String)> = all
            .iter()
            .map(|(k, v)| (percent_encode(k), percent_encode(v)))
            .collect();
        encoded.sort();
        let param_string: Vec<String> = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let base = format!(
            "{}&{}&{}",
            method.to_ascii_uppercase(),
            percent_encode(base_url),
            percent_encode(&param_string.join("&"))
        );
        let key = format!(
            "{}&{}",
            percent_encode(self.consumer_secret),
            percent_encode(self.token_secret.unwrap_or(""))
        );
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("any key length");
        mac.update(base.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    /// The worked example of Twitter's "Creating a signature" documentation.
    #[test]
    fn oauth1_signature_matches_twitter_example() {
        let signer = OAuth1 {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog",
            consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            token: Some("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            token_secret: Some("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
        };
        let oauth = vec![
            (
                "oauth_consumer_key".to_string(),
                "xvz1evFS4wEEPTGEFPHBog".to_string(),
            ),
            (
                "oauth_nonce".into(),
                "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg".into(),
            ),
            ("oauth_signature_method".into(), "HMAC-SHA1".into()),
            ("oauth_timestamp".into(), "1318622958".into()),
            (
                "oauth_token".into(),
                "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb".into(),
            ),
            ("oauth_version".into(), "1.0".into()),
        ];
        let params = vec![
            (
                "status".to_string(),
                "Hello Ladies + Gentlemen, a signed OAuth request!".to_string(),
            ),
            ("include_entities".into(), "true".into()),
        ];
        let sig = signer.signature(
            "post",
            "https://api.twitter.com/1.1/statuses/update.json",
            &params,
            &oauth,
        );
        assert_eq!(sig, "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
    }

    #[test]
    fn webhook_signature_checks() {
        let sig = hmac_sha256_hex(b"secret", b"{\"a\":1}");
        assert!(verify_hmac_sha256_hex(b"secret", b"{\"a\":1}", &sig));
        assert!(!verify_hmac_sha256_hex(b"secret", b"{\"a\":2}", &sig));
        assert!(!verify_hmac_sha256_hex(b"secret", b"{\"a\":1}", "zz"));
    }
}
