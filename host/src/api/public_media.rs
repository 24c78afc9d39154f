//! Signed, short-lived public media URLs for platforms that pull media (TikTok
//! PULL_FROM_URL, Instagram `image_url`), with single byte-range support.

use super::problem::Problem;
use crate::app::App;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct Signature {
    expires: u64,
    sig: String,
}

/// Parses a single `bytes=` range against `size`; None means "whole object".
fn parse_range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: answering with the whole object is allowed (RFC 9110 §14.2).
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            size.saturating_sub(n)..size
        }
        (s, "") => s.parse::<u64>().map_err(|_| ())?..size,
        (s, e) => {
            let (s, e): (u64, u64) = (s.parse().map_err(|_| ())?, e.parse().map_err(|_| ())?);
            if e < s {
                return Err(());
            }
            s..(e + 1).min(size)
        }
    };
    if range.start >= size || range.is_empty() {
        return Err(());
    }
    Ok(Some(range))
}

#[utoipa::path(get, path = "/media/public/{key}", tag = "media", summary = "A media object by signed, expiring URL",
    description = "For platforms that pull media by URL. Single byte ranges (`Range: bytes=a-b`) answer 206. Links come from the media API or the plugins' `public-url` import.",
    params(("key" = String, Path, description = "object key (may contain slashes)"), ("expires" = u64, Query), ("sig" = String, Query), ("Range" = Option<String>, Header)),
    responses((status = 200, description = "the object"), (status = 206, description = "the requested range"), (status = 403, body = Problem), (status = 404, body = Problem), (status = 416, body = Problem)))]
pub async fn serve(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    Query(sig): Query<Signature>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if !app.signer.verify(&key, sig.expires, &sig.sig) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "invalid-signature",
            "this media link is invalid or has expired",
        ));
    }
    let size = app
        .blobs
        .size(&key)
        .await
        .map_err(|_| Problem::not_found("the media object no longer exists"))?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => match parse_range(v, size) {
            Ok(r) => r,
            Err(()) => {
                let mut resp = Problem::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range-not-satisfiable",
                    format!("the object has {size} bytes"),
                )
                .into_response();
                resp.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
                );
                return Ok(resp);
            }
        },
    };
    let (status, span) = match range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r),
        None => (StatusCode::OK, 0..size),
    };
    let stream = app
        .blobs
        .stream_range(&key, span.clone())
        .await
        .map_err(|e| Problem::internal(&e))?;
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(span.end - span.start),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {}-{}/{size}", span.start, span.end - 1))
                .expect("ascii"),
        );
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=95-200", 100), Ok(Some(95..100)));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=5-1", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
    }
}
