//! Graph parameters: query, form or JSON, all equivalent; the token in
//! `access_token` or `Authorization: Bearer`.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};

/// The path without a `/vNN.N` prefix (Graph accepts any version).
pub(crate) fn unversioned(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let version = &rest[..end];
    let numeric = version.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.chars().all(|c| c.is_ascii_digit())
            && b.chars().all(|c| c.is_ascii_digit())
    });
    if numeric { &rest[end..] } else { path }
}

/// Every parameter of a request; `None` when the body is malformed.
pub(crate) fn collect(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<BTreeMap<String, String>> {
    let mut params: BTreeMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if body.is_empty() {
        return Some(params);
    }
    if content_type.starts_with("application/json") {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        for (k, v) in value.as_object()? {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            params.insert(k.clone(), text);
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(url::form_urlencoded::parse(body).into_owned());
    }
    Some(params)
}

/// The token of a request: `Authorization: Bearer` first, then `access_token`.
pub(crate) fn token(headers: &HeaderMap, params: &BTreeMap<String, String>) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(str::to_owned)
        .or_else(|| params.get("access_token").cloned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_are_stripped() {
        assert_eq!(super::unversioned("/v1.0/me/threads"), "/me/threads");
        assert_eq!(super::unversioned("/v25.0/123"), "/123");
        assert_eq!(super::unversioned("/me"), "/me");
        assert_eq!(super::unversioned("/vx/me"), "/vx/me");
    }
}
