//! Google's endpoints (overridable for tests), its error envelope and the session.

use plugboard_sdk::http::{self, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;

fn setting(name: &str, default: &str) -> Result<String, PluginError> {
    Ok(secrets::app(name)?
        .unwrap_or_else(|| default.into())
        .trim_end_matches('/')
        .to_string())
}

/// Where the browser authorizes (`oauth_url`).
pub fn oauth_url() -> Result<String, PluginError> {
    setting("oauth_url", "https://accounts.google.com")
}

/// The token endpoint's origin (`token_url`).
pub fn token_url() -> Result<String, PluginError> {
    setting("token_url", "https://oauth2.googleapis.com")
}

/// The Data API and upload origin (`api_url`).
pub fn api_url() -> Result<String, PluginError> {
    setting("api_url", "https://www.googleapis.com")
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Deserialize)]
pub struct Token {
    pub access_token: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
}

impl Token {
    pub fn credentials(self) -> Credentials {
        let mut values = vec![pair("access_token", self.access_token)];
        // Google sends a refresh token only at consent; a refresh keeps the stored one.
        if let Some(r) = self.refresh_token {
            values.push(pair("refresh_token", r));
        }
        Credentials {
            values,
            expires_at: self.expires_in.map(|s| now() + s),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorBody {
    Api {
        message: String,
        #[serde(default)]
        errors: Vec<ErrorItem>,
    },
    OAuth(String),
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// Google's reason (`quotaExceeded`, `invalidTitle`, `invalid_grant`, …) and message.
pub fn reason(resp: &Response) -> (String, String) {
    match serde_json::from_slice::<Envelope>(&resp.body).map(|e| e.error) {
        Ok(ErrorBody::Api { message, errors }) => (
            errors
                .into_iter()
                .next()
                .map(|e| e.reason)
                .unwrap_or_default(),
            message,
        ),
        Ok(ErrorBody::OAuth(code)) => (code.clone(), code),
        Err(_) => (
            String::new(),
            format!("YouTube answered HTTP {}", resp.status),
        ),
    }
}

/// Maps Google's answers onto the contract's error variants.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let (reason, message) = reason(&resp);
    let field = match reason.as_str() {
        "invalidTitle" => "options.title",
        "invalidDescription" => "text",
        "invalidTags" => "options.tags",
        "invalidCategoryId" => "options.category_id",
        "invalidPublishAt" => "options.publish_at",
        _ => "",
    };
    Err(match (resp.status, reason.as_str()) {
        (401, _) => PluginError::AuthExpired(format!(
            "Google no longer accepts the access token: {message}"
        )),
        (403, "quotaExceeded" | "dailyLimitExceeded" | "uploadLimitExceeded") => {
            PluginError::RateLimited(RateLimit {
                retry_after_secs: until_pacific_midnight(now()),
                message: format!(
                    "YouTube's daily quota is spent ({reason}); it resets at midnight Pacific time"
                ),
            })
        }
        (429, _) | (403, "rateLimitExceeded" | "userRateLimitExceeded") => {
            PluginError::RateLimited(RateLimit {
                retry_after_secs: http::retry_after(&resp).unwrap_or(60),
                message: format!("YouTube's rate limit was reached ({reason}): {message}"),
            })
        }
        (403, _) => PluginError::Permanent(format!(
            "YouTube refused ({reason}): {message}; reconnect to grant the missing permission"
        )),
        (400, _) => invalid(
            field,
            if reason.is_empty() {
                "rejected-by-platform"
            } else {
                &reason
            },
            format!("YouTube rejected the video: {message}"),
        ),
        _ => http::status_error(&resp, &format!("YouTube: {message}")),
    })
}

/// Seconds from `now` (Unix) to the next midnight in America/Los_Angeles, when Google's
/// daily quotas reset: UTC−7 from the second Sunday of March (10:00 UTC) to the first
/// Sunday of November (09:00 UTC), UTC−8 otherwise.
pub fn until_pacific_midnight(now: u64) -> u32 {
    let now = now as i64;
    let (year, _, _) = civil(now.div_euclid(86_400));
    let sunday = |month: i64, nth: i64| {
        let first = days_from_civil(year, month, 1);
        // 1970-01-01 was a Thursday: weekday 0 = Sunday is (days + 4) % 7.
        let to_sunday = (7 - (first + 4).rem_euclid(7)) % 7;
        first + to_sunday + 7 * (nth - 1)
    };
    let dst_start = sunday(3, 2) * 86_400 + 10 * 3600;
    let dst_end = sunday(11, 1) * 86_400 + 9 * 3600;
    let offset = if now >= dst_start && now < dst_end {
        -7 * 3600
    } else {
        -8 * 3600
    };
    let local = now + offset;
    (86_400 - local.rem_euclid(86_400)) as u32
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The account's token and the API origin.
pub struct Session {
    pub api: String,
    pub token: String,
}

impl Session {
    pub fn current() -> Result<Session, PluginError> {
        Ok(Session {
            api: api_url()?,
            token: secrets::account_required("access_token")?,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pacific_midnight() {
        // 2026-11-22T04:00:00Z is 20:00 PST: four hours to midnight.
        assert_eq!(super::until_pacific_midnight(1_795_320_000), 4 * 3600);
        // 2026-07-01T06:00:00Z is 23:00 PDT: one hour to midnight.
        assert_eq!(super::until_pacific_midnight(1_782_885_600), 3600);
    }
}
