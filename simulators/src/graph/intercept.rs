//! The outermost layer: parses parameters once, records the request, applies the first
//! matching fault, and routes on the path without its version prefix.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::faults::FaultAction;
use super::record::RecordedRequest;
use super::server::Connection;
use super::{Graph, GraphError, Params};

/// Largest body read (the simulators' uploads are small; real files are chunked).
const BODY_LIMIT: usize = 512 << 20;

/// Implemented by each platform simulator's shared state.
pub trait HasGraph: Send + Sync + 'static {
    fn graph(&self) -> &Graph;
}

pub(crate) async fn intercept<S: HasGraph>(
    State(sim): State<Arc<S>>,
    Extension(connection): Extension<Connection>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/__sim/") {
        return next.run(request).await;
    }
    let graph = sim.graph();
    let (mut parts, body) = request.into_parts();
    let Ok(mut body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return GraphError::invalid("The request body is too large").into_response();
    };
    let path = parts.uri.path().to_owned();
    let route = super::unversioned(&path).to_owned();
    let fault = graph.core().take_fault(&parts.method, &route);
    if let Some(FaultAction::InterruptUpload { keep_bytes }) = &fault {
        body = body.slice(..(*keep_bytes).min(body.len()));
    }
    let params = parse(&parts.headers, parts.uri.query(), &body).await;
    let seq = graph.next_seq();
    let binary = !is_textual(&parts.headers);
    graph.core().requests.push(RecordedRequest {
        seq,
        method: parts.method.to_string(),
        path: path.clone(),
        route: route.clone(),
        params: params
            .values
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "appsecret_proof" | "client_secret" | "fb_exchange_token"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        token_scheme: params.token_scheme.clone(),
        has_appsecret_proof: params.values.contains_key("appsecret_proof"),
        upload_headers: upload_headers(&parts.headers),
        body_bytes: if binary { body.len() } else { 0 },
        status: None,
        fault: fault.clone(),
    });
    if let Some(token) = &params.token {
        match &fault {
            Some(FaultAction::ExpireToken) => graph.core().tokens.expire(token),
            Some(FaultAction::RevokeToken) => graph.core().tokens.revoke(token),
            _ => {}
        }
    }
    let response = match &fault {
        Some(FaultAction::Throttled {
            code,
            regain_minutes,
        }) => throttled(*code, *regain_minutes, &route, &graph.app_id).into_response(),
        Some(FaultAction::ServerError { status, body }) => server_error(*status, body.clone()),
        other => {
            if let Some(FaultAction::Delay { ms }) = other {
                tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
            }
            let query = parts
                .uri
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            if let Ok(uri) = format!("{route}{query}").parse::<Uri>() {
                parts.uri = uri;
            }
            parts.extensions.insert(params);
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
    };
    let status = response.status().as_u16();
    if let Some(r) = graph
        .core()
        .requests
        .iter_mut()
        .rev()
        .find(|r| r.seq == seq)
    {
        r.status = Some(status);
    }
    tracing::info!(platform = graph.platform, %path, status, fault = ?fault, "graph request");
    if matches!(
        fault,
        Some(FaultAction::DropAfterHandling | FaultAction::InterruptUpload { .. })
    ) {
        connection.close();
        return std::future::pending().await;
    }
    response
}

fn is_textual(headers: &HeaderMap) -> bool {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ct.starts_with("application/x-www-form-urlencoded")
        || ct.starts_with("application/json")
        || ct.starts_with("multipart/form-data")
}

fn upload_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    ["offset", "file_offset", "file_size", "file_url"]
        .iter()
        .filter_map(|name| {
            let v = headers.get(*name)?.to_str().ok()?;
            Some((name.to_string(), v.to_string()))
        })
        .collect()
}

/// Query, then body fields; the token from `access_token` or `Authorization`.
pub(crate) async fn parse(headers: &HeaderMap, query: Option<&str>, body: &Bytes) -> Params {
    let mut params = Params::default();
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            params.values.insert(k.into_owned(), v.into_owned());
        }
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if ct.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(body) {
            params.values.insert(k.into_owned(), v.into_owned());
        }
    } else if ct.starts_with("application/json") {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
            for (k, v) in map {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                params.values.insert(k, text);
            }
        }
    } else if ct.starts_with("multipart/form-data")
        && let Ok(boundary) = multer::parse_boundary(&ct)
    {
        let stream = futures::stream::once(futures::future::ready(Ok::<_, std::io::Error>(
            body.clone(),
        )));
        let mut multipart = multer::Multipart::new(stream, boundary);
        while let Ok(Some(field)) = multipart.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let file = field.file_name().is_some();
            let content_type = field.content_type().map(|m| m.to_string());
            let Ok(data) = field.bytes().await else { break };
            if file {
                params.files.push((name, content_type, data));
            } else {
                params
                    .values
                    .insert(name, String::from_utf8_lossy(&data).into_owned());
            }
        }
    }
    if let Some(t) = params.values.remove("access_token") {
        params.token = Some(t);
        params.token_scheme = Some("param".into());
    } else if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some((scheme, value)) = auth.split_once(' ')
        && (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
    {
        params.token = Some(value.trim().to_owned());
        params.token_scheme = Some(if scheme.eq_ignore_ascii_case("oauth") {
            "OAuth".into()
        } else {
            "Bearer".into()
        });
    }
    params
}

fn throttled(code: u32, regain_minutes: u32, route: &str, app_id: &str) -> GraphError {
    let message = match code {
        4 => "(#4) Application request limit reached",
        17 => "(#17) User request limit reached",
        32 => "(#32) Page request limit reached",
        _ => "(#613) Calls to this api have exceeded the rate limit.",
    };
    let object = route
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(app_id);
    let kind = if code == 32 { "pages" } else { "instagram" };
    let buc = serde_json::json!({ object: [{
        "type": kind, "call_count": 100, "total_cputime": 40, "total_time": 60,
        "estimated_time_to_regain_access": regain_minutes,
    }]});
    GraphError::oauth(code, None, message)
        .with_header(
            "x-app-usage",
            r#"{"call_count":100,"total_cputime":40,"total_time":60}"#.into(),
        )
        .with_header("x-business-use-case-usage", buc.to_string())
}

fn server_error(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let ct = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    response
}
