//! The parts of the Graph API both Meta plugins speak the same way.

use plugboard_sdk::http::Response;
use plugboard_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

/// The one Graph API version the Meta plugins speak.
pub const VERSION: &str = "v25.0";

/// `{base}/{VERSION}{path}`.
pub fn url(base: &str, path: &str) -> String {
    format!("{base}/{VERSION}{path}")
}

/// `appsecret_proof`: the token signed with the app secret, sent with every call.
pub fn appsecret_proof(app_secret: &str, token: &str) -> String {
    oauth::hmac_sha256_hex(app_secret.as_bytes(), token.as_bytes())
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

/// Graph's error, when the answer carries one.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: i64,
    pub error_subcode: Option<i64>,
    pub error_user_msg: Option<String>,
}

impl GraphError {
    /// The message for people: the user-facing text when Graph gives one, else the codes.
    pub fn text(&self) -> String {
        match (&self.error_user_msg, self.error_subcode) {
            (Some(user), _) => format!("{} ({user})", self.message),
            (None, Some(sub)) => format!("{} (code {}, subcode {sub})", self.message, self.code),
            (None, None) => format!("{} (code {})", self.message, self.code),
        }
    }
}

/// The Graph error of a failed answer, if it is one.
pub fn graph_error(resp: &Response) -> Option<GraphError> {
    serde_json::from_slice::<Envelope>(&resp.body)
        .ok()
        .map(|e| e.error)
}

/// The longest `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`.
pub fn regain_secs(resp: &Response) -> Option<u32> {
    let usage: Value = serde_json::from_str(resp.header("x-business-use-case-usage")?).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|e| e["estimated_time_to_regain_access"].as_u64())
        .max()?;
    Some(u32::try_from(minutes.max(1) * 60).unwrap_or(u32::MAX))
}

/// `YYYY-MM-DDTHH:MM:SS…` (Graph's `created_time` / `timestamp`) to Unix seconds.
pub fn iso_to_unix(s: &str) -> Option<u64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if mo <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se).ok()
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A string (or numeric) field of a Graph answer, or a transient error naming it and the
/// platform (`Facebook`, `Instagram`) that answered.
pub fn field(v: &Value, name: &str, platform: &str) -> Result<String, PluginError> {
    match &v[name] {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PluginError::Transient(format!(
            "{platform}'s answer has no '{name}': {v}"
        ))),
    }
}

/// An insights answer's metrics, each at its latest value.
pub fn metrics(v: &Value) -> Vec<Metric> {
    v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let value = m["values"].as_array()?.last()?["value"].as_f64()?;
            Some(Metric {
                name: m["name"].as_str()?.to_string(),
                value,
            })
        })
        .collect()
}

/// The cursor of the next page: Graph gives `after` even on the last page, so only a
/// `next` link says there is one.
pub fn next_cursor(v: &Value) -> Option<String> {
    v["paging"]["next"]
        .as_str()
        .and(v["paging"]["cursors"]["after"].as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn iso_timestamps_become_unix_seconds() {
        assert_eq!(iso_to_unix("2023-11-14T22:13:20+0000"), Some(1_700_000_000));
        assert_eq!(iso_to_unix("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(iso_to_unix("yesterday"), None);
    }

    #[test]
    fn error_text_prefers_the_user_message() {
        let mut e = GraphError {
            message: "Invalid parameter".into(),
            code: 100,
            error_subcode: Some(33),
            error_user_msg: Some("Too long".into()),
        };
        assert_eq!(e.text(), "Invalid parameter (Too long)");
        e.error_user_msg = None;
        assert_eq!(e.text(), "Invalid parameter (code 100, subcode 33)");
        e.error_subcode = None;
        assert_eq!(e.text(), "Invalid parameter (code 100)");
    }

    #[test]
    fn paging_continues_only_with_a_next_link() {
        let more = json!({"paging": {"cursors": {"after": "c2"}, "next": "https://x/next"}});
        let last = json!({"paging": {"cursors": {"after": "c2"}}});
        assert_eq!(next_cursor(&more).as_deref(), Some("c2"));
        assert_eq!(next_cursor(&last), None);
    }

    #[test]
    fn metrics_take_the_latest_value() {
        let v = json!({"data": [
            {"name": "reach", "values": [{"value": 3}, {"value": 5}]},
            {"name": "broken", "values": []}
        ]});
        let got = metrics(&v);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].name.as_str(), got[0].value), ("reach", 5.0));
    }

    #[test]
    fn fields_accept_numbers_and_name_the_platform_when_missing() {
        let v = json!({"id": 17, "name": "x"});
        assert_eq!(field(&v, "id", "Instagram").unwrap(), "17");
        let Err(PluginError::Transient(msg)) = field(&v, "url", "Facebook") else {
            panic!("a missing field is transient")
        };
        assert!(msg.starts_with("Facebook's answer has no 'url'"), "{msg}");
    }
}
