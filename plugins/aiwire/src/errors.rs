//! Provider failures mapped onto the contract's errors.
//!
//! A rejected key is `permanent`, not `auth-expired`: an API key has no refresh, so only
//! the operator can fix it. Rate limits carry the provider's own retry delay; overload and
//! 5xx are `transient`; a refused request is `invalid-content` with the provider's words.

use plugboard_sdk::{PluginError, Problem, RateLimit};
use serde_json::Value;

/// Retry delay used when a 429 names none.
const DEFAULT_RETRY_SECS: u32 = 30;

/// First header value by case-insensitive name.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Seconds to wait before retrying, from `retry-after-ms`, `retry-after` (seconds) or the
/// longest of OpenAI's `x-ratelimit-reset-*` durations (`1m30s`, `6.5s`, `20ms`), rounded
/// up to whole seconds (at least 1).
pub fn retry_after_secs(headers: &[(String, String)]) -> Option<u32> {
    let ceil = |ms: f64| u32::try_from((ms / 1000.0).ceil().max(1.0) as u64).unwrap_or(u32::MAX);
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(ceil(ms));
    }
    if let Some(secs) = header(headers, "retry-after").and_then(|v| v.parse::<f64>().ok()) {
        return Some(ceil(secs * 1000.0));
    }
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .iter()
        .filter_map(|name| header(headers, name).and_then(duration_ms))
        .reduce(f64::max)
        .map(ceil)
}

/// A Go-style duration (`1h2m3.5s`, `20ms`) in milliseconds; a bare number is seconds.
pub fn duration_ms(text: &str) -> Option<f64> {
    if let Ok(secs) = text.parse::<f64>() {
        return Some(secs * 1000.0);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|i| *i > 0)?;
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// What a provider's error body says: its message, its type or status, and a code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub message: String,
    /// `type` (OpenAI, Anthropic) or `status` (Gemini).
    pub kind: Option<String>,
    pub code: Option<String>,
    pub param: Option<String>,
    /// Gemini's `RetryInfo.retryDelay`, in seconds.
    pub retry_after_secs: Option<u32>,
}

/// Reads the envelopes the providers use: OpenAI `{"error": {message, type, code, param}}`,
/// Anthropic `{"type": "error", "error": {type, message}}`, Gemini `{"error": {code,
/// message, status}}`, xAI `{"code", "error"}`; anything else is kept as text.
pub fn parse_error(body: &[u8]) -> ProviderError {
    let text = String::from_utf8_lossy(body).trim().to_owned();
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return ProviderError {
            message: text,
            ..ProviderError::default()
        };
    };
    parse_error_value(&json).unwrap_or(ProviderError {
        message: text,
        ..ProviderError::default()
    })
}

/// As [`parse_error`], from parsed JSON; `None` when it is no known envelope.
pub fn parse_error_value(json: &Value) -> Option<ProviderError> {
    let s = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match json.get("error")? {
        Value::Object(inner) => Some(ProviderError {
            message: inner.get("message").and_then(s).unwrap_or_default(),
            kind: inner
                .get("type")
                .or_else(|| inner.get("status"))
                .and_then(s),
            code: inner.get("code").and_then(s),
            param: inner.get("param").and_then(s),
            retry_after_secs: retry_info(inner.get("details")),
        }),
        Value::String(message) => Some(ProviderError {
            message: message.clone(),
            code: json.get("code").and_then(s),
            ..ProviderError::default()
        }),
        _ => None,
    }
}

/// Maps an HTTP failure of `provider` (its display name) onto a plugin error.
pub fn status_error(
    provider: &str,
    status: u16,
    headers: &[(String, String)],
    error: &ProviderError,
) -> PluginError {
    let message = if error.message.is_empty() {
        format!("{provider} answered HTTP {status}")
    } else {
        format!("{provider}: {}", error.message)
    };
    let code = error.code.as_deref().unwrap_or_default();
    match status {
        401 | 403 => PluginError::Permanent(format!(
            "{provider} rejected the API key; check the `api_key` setting ({message})"
        )),
        // Billing, not pacing: waiting does not help.
        429 if code == "insufficient_quota" => PluginError::Permanent(message),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_secs: retry_after_secs(headers)
                .or(error.retry_after_secs)
                .unwrap_or(DEFAULT_RETRY_SECS),
            message,
        }),
        408 | 409 | 500..=599 => PluginError::Transient(message),
        400 | 413 | 422 => invalid(error.param.as_deref().unwrap_or(""), message),
        _ => PluginError::Permanent(message),
    }
}

/// The delay of a `google.rpc.RetryInfo` entry in Gemini's error `details` (`"30s"`).
fn retry_info(details: Option<&Value>) -> Option<u32> {
    details?
        .as_array()?
        .iter()
        .filter(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|d| d.get("retryDelay")?.as_str().and_then(duration_ms))
        .map(|ms| u32::try_from((ms / 1000.0).ceil().max(1.0) as u64).unwrap_or(u32::MAX))
}

/// An `invalid-content` error with one problem, in the provider's words.
pub fn invalid(field: &str, message: impl Into<String>) -> PluginError {
    PluginError::InvalidContent(vec![Problem {
        field: field.to_owned(),
        code: "rejected-by-provider".to_owned(),
        message: message.into(),
    }])
}

/// An error event inside a stream that had begun well (HTTP 200), by its type or code.
pub fn stream_error(provider: &str, error: &ProviderError) -> PluginError {
    let message = format!(
        "{provider} failed mid-stream: {}",
        if error.message.is_empty() {
            "no details"
        } else {
            &error.message
        }
    );
    let kind = error
        .kind
        .as_deref()
        .or(error.code.as_deref())
        .unwrap_or_default();
    match kind {
        "rate_limit_exceeded" | "rate_limit_error" | "RESOURCE_EXHAUSTED" => {
            PluginError::RateLimited(RateLimit {
                retry_after_secs: DEFAULT_RETRY_SECS,
                message,
            })
        }
        "invalid_request_error" | "INVALID_ARGUMENT" => invalid("", message),
        "authentication_error" | "permission_error" | "PERMISSION_DENIED" => {
            PluginError::Permanent(message)
        }
        _ => PluginError::Transient(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn retry_delays_come_from_any_header_form() {
        assert_eq!(retry_after_secs(&h(&[("Retry-After", "7")])), Some(7));
        assert_eq!(retry_after_secs(&h(&[("retry-after-ms", "1500")])), Some(2));
        assert_eq!(
            retry_after_secs(&h(&[
                ("x-ratelimit-reset-requests", "1m30s"),
                ("x-ratelimit-reset-tokens", "20ms")
            ])),
            Some(90)
        );
        assert_eq!(retry_after_secs(&h(&[])), None);
        assert_eq!(duration_ms("6.5s"), Some(6500.0));
        assert_eq!(duration_ms("1h"), Some(3_600_000.0));
        assert_eq!(duration_ms("soon"), None);
    }

    #[test]
    fn envelopes_of_every_provider_parse() {
        let openai = parse_error(br#"{"error":{"message":"bad","type":"invalid_request_error","param":"n","code":null}}"#);
        assert_eq!(openai.message, "bad");
        assert_eq!(openai.param.as_deref(), Some("n"));
        let xai = parse_error(br#"{"code":"Client specified an invalid argument","error":"nope"}"#);
        assert_eq!(xai.message, "nope");
        let gemini = parse_error(br#"{"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}}"#);
        assert_eq!(gemini.kind.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(gemini.retry_after_secs, Some(12));
        assert_eq!(parse_error(b"oops").message, "oops");
    }
}
