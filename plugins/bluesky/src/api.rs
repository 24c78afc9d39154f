//! The XRPC session (PDS, DID, access JWT), the error envelope mapped onto the
//! contract's errors, and the time helpers the records need.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plugboard_sdk::http::{self, RequestBuilder, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;

pub const DEFAULT_SERVICE: &str = "https://bsky.social";

/// The entryway sessions are created at: the app's `service_url` setting, else bsky.social.
pub fn service_url() -> Result<String, PluginError> {
    Ok(secrets::app("service_url")?
        .unwrap_or_else(|| DEFAULT_SERVICE.to_string())
        .trim_end_matches('/')
        .to_string())
}

pub struct Session {
    pub pds: String,
    pub did: String,
    pub handle: String,
    token: String,
}

impl Session {
    pub fn current() -> Result<Session, PluginError> {
        Ok(Session {
            pds: secrets::account_required("pds_url")?,
            did: secrets::account_required("did")?,
            handle: secrets::account("handle")?.unwrap_or_default(),
            token: secrets::account_required("access_jwt")?,
        })
    }

    pub fn xrpc(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.pds)
    }

    pub fn send(&self, req: RequestBuilder) -> Result<Response, PluginError> {
        req.bearer(&self.token).send()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionReply {
    pub did: String,
    pub handle: String,
    pub access_jwt: String,
    pub refresh_jwt: String,
    pub did_doc: Option<serde_json::Value>,
}

impl SessionReply {
    /// The PDS from the DID document (`#atproto_pds`), else the entryway itself.
    pub fn pds(&self, entryway: &str) -> String {
        self.did_doc
            .as_ref()
            .and_then(|d| d["service"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .find(|s| {
                s["id"]
                    .as_str()
                    .is_some_and(|id| id.ends_with("#atproto_pds"))
            })
            .and_then(|s| s["serviceEndpoint"].as_str())
            .unwrap_or(entryway)
            .trim_end_matches('/')
            .to_string()
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            values: vec![
                pair("access_jwt", self.access_jwt.clone()),
                pair("refresh_jwt", self.refresh_jwt.clone()),
            ],
            expires_at: jwt_exp(&self.access_jwt),
        }
    }
}

/// `exp` of a JWT (only read, never trusted for anything but scheduling a refresh).
fn jwt_exp(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims["exp"].as_u64()
}

#[derive(Deserialize)]
struct Envelope {
    error: String,
    #[serde(default)]
    message: Option<String>,
}

/// The XRPC error name of a failed response.
pub fn error_name(resp: &Response) -> Option<String> {
    serde_json::from_slice::<Envelope>(&resp.body)
        .ok()
        .map(|e| e.error)
}

/// Passes 2xx through; maps `{"error","message"}` onto the contract's errors.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let (name, message) = match serde_json::from_slice::<Envelope>(&resp.body) {
        Ok(e) => (
            e.error.clone(),
            format!("Bluesky: {} ({})", e.message.unwrap_or_default(), e.error),
        ),
        Err(_) => (
            String::new(),
            format!("Bluesky answered HTTP {}", resp.status),
        ),
    };
    Err(match name.as_str() {
        "ExpiredToken" | "InvalidToken" | "AuthMissing" => PluginError::AuthExpired(message),
        "AuthenticationRequired" => {
            PluginError::Permanent(format!("{message}: check the handle and the app password"))
        }
        "RateLimitExceeded" => rate_limited(&resp, message),
        "BlobTooLarge" => invalid("media", "media-too-large", message),
        _ if resp.status == 429 => rate_limited(&resp, message),
        _ if resp.status >= 500 => PluginError::Transient(message),
        "InvalidRequest" => invalid("", "rejected-by-platform", message),
        _ => http::status_error(&resp, &message),
    })
}

/// Seconds until `ratelimit-reset` (Unix seconds), else `Retry-After`.
fn rate_limited(resp: &Response, message: String) -> PluginError {
    let reset = resp
        .header("ratelimit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|r| r.saturating_sub(now()).max(1) as u32);
    PluginError::RateLimited(RateLimit {
        retry_after_secs: reset.or_else(|| http::retry_after(resp)).unwrap_or(60),
        message,
    })
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now as `YYYY-MM-DDTHH:MM:SS.mmmZ`, the datetime form records carry.
pub fn iso_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// A record key: a TID (13 base32-sortable characters of microseconds and a clock id).
pub fn tid() -> String {
    const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let clock = oauth::random_token(2)
        .bytes()
        .fold(0u64, |a, b| a * 31 + u64::from(b))
        & 0x3FF;
    let mut v = (micros << 10) | clock;
    let mut out = [0u8; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}
