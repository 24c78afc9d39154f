//! The PDS's session tokens: HS256 JWTs with `scope`, `sub`, `iat`, `exp`
//! (and `jti` for refresh tokens), as the reference PDS issues them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub(crate) const ACCESS_SCOPE: &str = "com.atproto.appPass";
pub(crate) const REFRESH_SCOPE: &str = "com.atproto.refresh";

pub(crate) fn sign(key: &[u8], claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"typ": "at+jwt", "alg": "HS256"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// The claims of a token this PDS signed, if the signature holds.
pub(crate) fn verify(key: &[u8], token: &str) -> Option<Value> {
    let (input, signature) = token.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(input.as_bytes());
    mac.verify_slice(&signature).ok()?;
    let payload = input.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}
