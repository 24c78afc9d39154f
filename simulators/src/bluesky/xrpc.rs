//! Every XRPC call: recorded, faulted, authenticated, then handled.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::XrpcError;
use super::faults::FaultAction;
use super::jwt::{self, ACCESS_SCOPE, REFRESH_SCOPE};
use super::post;
use super::state::{Blob, RecordedRequest, Sim, StoredRecord};

/// Write cost of creating a record, in rate-limit points.
const CREATE_POINTS: u32 = 3;
const POST_COLLECTION: &str = "app.bsky.feed.post";

pub(crate) async fn handle(
    State(sim): State<Arc<Sim>>,
    Path(nsid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut json_body: Option<Value> = content_type
        .as_deref()
        .filter(|c| c.starts_with("application/json"))
        .and_then(|_| serde_json::from_slice(&body).ok());
    if let Some(Value::Object(o)) = json_body.as_mut()
        && o.contains_key("password")
    {
        o.insert("password".into(), "[redacted]".into());
    }
    let seq = sim.next_seq();
    let fault = {
        let mut state = sim.lock();
        let fault = state.take_fault(&method, &nsid);
        state.requests.push(RecordedRequest {
            seq,
            method: method.to_string(),
            nsid: nsid.clone(),
            query: uri.query().map(str::to_owned),
            content_type: content_type.clone(),
            json: json_body,
            body_bytes: body.len(),
            status: None,
            fault: fault.clone(),
        });
        fault
    };
    let response = match fault {
        Some(FaultAction::RateLimited { reset_after_secs }) => {
            rate_limited(sim.config.points_per_hour, 0, reset_after_secs)
        }
        Some(FaultAction::ServerError { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, body).into_response()
        }
        other => {
            match other {
                Some(FaultAction::Delay { ms }) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await
                }
                Some(FaultAction::ExpireAccessTokens) => {
                    let mut state = sim.lock();
                    let issued = std::mem::take(&mut state.issued_access);
                    state.expired_access.extend(issued);
                }
                _ => {}
            }
            let q: Vec<(String, String)> =
                url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                    .into_owned()
                    .collect();
            let query = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            match route(&sim, &method, &nsid, &headers, &body, &query) {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        }
    };
    let status = response.status().as_u16();
    if let Some(r) = sim.lock().requests.iter_mut().rev().find(|r| r.seq == seq) {
        r.status = Some(status);
    }
    tracing::info!(%method, %nsid, status, "bluesky request");
    response
}

fn route(
    sim: &Sim,
    method: &Method,
    nsid: &str,
    headers: &HeaderMap,
    body: &Bytes,
    query: &dyn Fn(&str) -> Option<String>,
) -> Result<Response, XrpcError> {
    let json = || -> Result<Value, XrpcError> {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/json"));
        if !is_json {
            return Err(XrpcError::invalid(
                "Wrong request encoding (Content-Type): expected application/json",
            ));
        }
        serde_json::from_slice(body)
            .map_err(|_| XrpcError::invalid("Request body is not valid JSON"))
    };
    let ok = |v: Value| Ok((StatusCode::OK, axum::Json(v)).into_response());
    match (method.clone(), nsid) {
        (Method::POST, "com.atproto.server.createSession") => ok(create_session(sim, &json()?)?),
        (Method::POST, "com.atproto.server.refreshSession") => ok(refresh_session(sim, headers)?),
        (Method::GET, "com.atproto.identity.resolveHandle") => ok(resolve_handle(sim, query)?),
        (Method::POST, "com.atproto.repo.uploadBlob") => {
            let did = authenticate(sim, headers)?;
            ok(upload_blob(sim, &did, headers, body)?)
        }
        (Method::POST, "com.atproto.repo.createRecord") => {
            let did = authenticate(sim, headers)?;
            create_record(sim, &did, &json()?)
        }
        (Method::GET, "com.atproto.repo.getRecord") => ok(get_record(sim, query)?),
        (Method::GET, "com.atproto.repo.listRecords") => ok(list_records(sim, query)?),
        (_, known) if KNOWN.contains(&known) => Err(XrpcError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidRequest",
            format!("Incorrect HTTP method ({method}) for {known}"),
        )),
        _ => Err(XrpcError::new(
            StatusCode::NOT_IMPLEMENTED,
            "MethodNotImplemented",
            "Method Not Implemented",
        )),
    }
}

const KNOWN: &[&str] = &[
    "com.atproto.server.createSession",
    "com.atproto.server.refreshSession",
    "com.atproto.identity.resolveHandle",
    "com.atproto.repo.uploadBlob",
    "com.atproto.repo.createRecord",
    "com.atproto.repo.getRecord",
    "com.atproto.repo.listRecords",
];

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The DID an access JWT acts for.
fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<String, XrpcError> {
    let token = bearer(headers).ok_or_else(XrpcError::auth_missing)?;
    let claims = jwt::verify(&sim.jwt_key, token)
        .ok_or_else(|| XrpcError::invalid_token("Token could not be verified"))?;
    if claims["scope"] != ACCESS_SCOPE {
        return Err(XrpcError::invalid_token("Bad token scope"));
    }
    let expired = claims["exp"].as_i64().unwrap_or_default() <= Utc::now().timestamp()
        || sim.lock().expired_access.contains(token);
    if expired {
        return Err(XrpcError::expired());
    }
    Ok(claims["sub"].as_str().unwrap_or_default().to_owned())
}

fn session(sim: &Sim) -> Value {
    let c = &sim.config;
    let now = Utc::now().timestamp();
    let jti = format!("{:x}", rand::random::<u128>());
    let access = jwt::sign(
        &sim.jwt_key,
        &json!({
            "scope": ACCESS_SCOPE, "sub": c.did, "aud": "did:web:bsky.social", "iat": now, "exp": now + c.access_jwt_secs,
            // Unique per session, so two sessions made within a second differ.
            "jti": format!("{:x}", rand::random::<u128>()),
        }),
    );
    let refresh = jwt::sign(
        &sim.jwt_key,
        &json!({
            "scope": REFRESH_SCOPE, "sub": c.did, "aud": "did:web:bsky.social", "jti": jti, "iat": now, "exp": now + c.refresh_jwt_secs,
        }),
    );
    {
        let mut state = sim.lock();
        state.live_refresh.insert(
            jti,
            Utc::now() + chrono::Duration::seconds(c.refresh_jwt_secs),
        );
        state.issued_access.push(access.clone());
    }
    json!({
        "did": c.did,
        "handle": c.handle,
        "accessJwt": access,
        "refreshJwt": refresh,
        "active": true,
        "didDoc": {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": c.did,
            "alsoKnownAs": [format!("at://{}", c.handle)],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": sim.base_url}],
        },
    })
}

fn create_session(sim: &Sim, body: &Value) -> Result<Value, XrpcError> {
    let (Some(identifier), Some(password)) =
        (body["identifier"].as_str(), body["password"].as_str())
    else {
        return Err(XrpcError::invalid(
            "Input must have the properties \"identifier\" and \"password\"",
        ));
    };
    let c = &sim.config;
    let identifier = identifier.trim_start_matches('@').to_ascii_lowercase();
    if (identifier != c.handle && identifier != c.did) || password != c.app_password {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Invalid identifier or password",
        ));
    }
    Ok(session(sim))
}

fn refresh_session(sim: &Sim, headers: &HeaderMap) -> Result<Value, XrpcError> {
    let token = bearer(headers).ok_or_else(XrpcError::auth_missing)?;
    let claims = jwt::verify(&sim.jwt_key, token)
        .ok_or_else(|| XrpcError::invalid_token("Token could not be verified"))?;
    if claims["scope"] != REFRESH_SCOPE {
        return Err(XrpcError::invalid_token("Invalid token type"));
    }
    if claims["exp"].as_i64().unwrap_or_default() <= Utc::now().timestamp() {
        return Err(XrpcError::expired());
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    if sim.lock().live_refresh.remove(jti).is_none() {
        return Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has been revoked",
        ));
    }
    Ok(session(sim))
}

fn resolve_handle(sim: &Sim, query: &dyn Fn(&str) -> Option<String>) -> Result<Value, XrpcError> {
    let handle = query("handle")
        .ok_or_else(|| XrpcError::invalid("Error: Params must have the property \"handle\""))?;
    let handle = handle.to_ascii_lowercase();
    let c = &sim.config;
    let did = std::iter::once((&c.handle, &c.did))
        .chain(c.known_handles.iter().map(|(h, d)| (h, d)))
        .find(|(h, _)| **h == handle)
        .map(|(_, d)| d.clone())
        .ok_or_else(|| XrpcError::invalid("Unable to resolve handle"))?;
    Ok(json!({ "did": did }))
}

/// A CID-shaped reference to content: base32 "bafkrei…" over its SHA-256.
pub(crate) fn cid_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let digest = Sha256::digest(bytes);
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = String::from("bafkrei");
    for b in digest {
        bits = (bits << 8) | u32::from(b);
        n += 8;
        while n >= 5 {
            n -= 5;
            out.push(ALPHABET[((bits >> n) & 31) as usize] as char);
        }
    }
    out
}

fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(b"GIF8") {
        Some("image/gif")
    } else if b.len() > 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn upload_blob(
    sim: &Sim,
    _did: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, XrpcError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if declared.is_empty() || declared == "*/*" {
        return Err(XrpcError::invalid(
            "A Content-Type header naming the blob's type is required",
        ));
    }
    if body.is_empty() {
        return Err(XrpcError::invalid("Request body is empty"));
    }
    if declared.starts_with("image/") {
        if sniff(body) != Some(declared.as_str()) {
            return Err(XrpcError::invalid(format!(
                "The blob is not the {declared} its Content-Type says"
            )));
        }
        if body.len() > sim.config.max_image_bytes {
            return Err(XrpcError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BlobTooLarge",
                format!(
                    "This file is too large. It is {} bytes but the maximum size is {} bytes.",
                    body.len(),
                    sim.config.max_image_bytes
                ),
            ));
        }
    }
    let cid = cid_of(body);
    sim.lock().blobs.insert(
        cid.clone(),
        Blob {
            mime: declared.clone(),
            size: body.len(),
        },
    );
    Ok(
        json!({ "blob": { "$type": "blob", "ref": { "$link": cid }, "mimeType": declared, "size": body.len() } }),
    )
}

fn rate_limited(limit: u32, remaining: u32, reset_after_secs: u64) -> Response {
    let reset = Utc::now().timestamp() + i64::try_from(reset_after_secs).unwrap_or(0);
    let mut response = XrpcError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RateLimitExceeded",
        "Rate Limit Exceeded",
    )
    .into_response();
    let h = response.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(limit));
    h.insert("ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("ratelimit-reset", HeaderValue::from(reset));
    if let Ok(v) = HeaderValue::from_str(&format!("{limit};w=3600")) {
        h.insert("ratelimit-policy", v);
    }
    response
}

fn create_record(sim: &Sim, did: &str, body: &Value) -> Result<Response, XrpcError> {
    let repo = body["repo"]
        .as_str()
        .ok_or_else(|| XrpcError::invalid("Input must have the property \"repo\""))?;
    if repo != did && repo != sim.config.handle {
        return Err(XrpcError::invalid(
            "Invalid repo: it is not the authenticated account's",
        ));
    }
    let collection = body["collection"]
        .as_str()
        .ok_or_else(|| XrpcError::invalid("Input must have the property \"collection\""))?;
    if collection != POST_COLLECTION {
        return Err(XrpcError::invalid(format!(
            "This PDS simulates only {POST_COLLECTION} records"
        )));
    }
    let record = body
        .get("record")
        .ok_or_else(|| XrpcError::invalid("Input must have the property \"record\""))?;
    let mut state = sim.lock();
    post::validate(record, &state)?;
    let c = &sim.config;
    let hour = state.points_since(3600);
    let day = state.points_since(86_400);
    if hour + CREATE_POINTS > c.points_per_hour || day + CREATE_POINTS > c.points_per_day {
        let (limit, used) = if hour + CREATE_POINTS > c.points_per_hour {
            (c.points_per_hour, hour)
        } else {
            (c.points_per_day, day)
        };
        return Ok(rate_limited(limit, limit.saturating_sub(used), 3600));
    }
    let rkey = match body["rkey"].as_str() {
        Some(k) => {
            let valid = !k.is_empty()
                && k.len() <= 512
                && k != "."
                && k != ".."
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._:~-".contains(c));
            if !valid {
                return Err(XrpcError::invalid("Invalid record key"));
            }
            k.to_owned()
        }
        None => post::tid(),
    };
    let uri = format!("at://{did}/{collection}/{rkey}");
    if state.records.iter().any(|r| r.uri == uri) {
        return Err(XrpcError::invalid(format!("Record already exists: {uri}")));
    }
    let cid = cid_of(record.to_string().as_bytes());
    state.rev += 1;
    let rev = format!("3l{:011}", state.rev);
    state.records.push(StoredRecord {
        uri: uri.clone(),
        cid: cid.clone(),
        collection: collection.to_owned(),
        rkey,
        value: record.clone(),
    });
    state.writes.push((Utc::now(), CREATE_POINTS));
    let remaining = c.points_per_hour.saturating_sub(hour + CREATE_POINTS);
    let mut response = (StatusCode::OK, axum::Json(json!({
        "uri": uri, "cid": cid, "commit": { "cid": cid_of(rev.as_bytes()), "rev": rev }, "validationStatus": "valid",
    })))
    .into_response();
    let h = response.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(c.points_per_hour));
    h.insert("ratelimit-remaining", HeaderValue::from(remaining));
    Ok(response)
}

fn get_record(sim: &Sim, query: &dyn Fn(&str) -> Option<String>) -> Result<Value, XrpcError> {
    let (Some(repo), Some(collection), Some(rkey)) =
        (query("repo"), query("collection"), query("rkey"))
    else {
        return Err(XrpcError::invalid(
            "Error: Params must have the properties \"repo\", \"collection\" and \"rkey\"",
        ));
    };
    let state = sim.lock();
    let found = state
        .records
        .iter()
        .find(|r| {
            r.collection == collection
                && r.rkey == rkey
                && (repo == sim.config.did || repo == sim.config.handle)
        })
        .ok_or_else(|| {
            XrpcError::new(
                StatusCode::BAD_REQUEST,
                "RecordNotFound",
                format!("Could not locate record: at://{repo}/{collection}/{rkey}"),
            )
        })?;
    Ok(json!({ "uri": found.uri, "cid": found.cid, "value": found.value }))
}

fn list_records(sim: &Sim, query: &dyn Fn(&str) -> Option<String>) -> Result<Value, XrpcError> {
    let (Some(repo), Some(collection)) = (query("repo"), query("collection")) else {
        return Err(XrpcError::invalid(
            "Error: Params must have the properties \"repo\" and \"collection\"",
        ));
    };
    if repo != sim.config.did && repo != sim.config.handle {
        return Err(XrpcError::invalid(format!("Could not find repo: {repo}")));
    }
    let limit = query("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(XrpcError::invalid("Error: limit must be between 1 and 100"));
    }
    let state = sim.lock();
    // Newest first unless `reverse`; the cursor is the last rkey returned.
    let mut records: Vec<&StoredRecord> = state
        .records
        .iter()
        .filter(|r| r.collection == collection)
        .collect();
    if query("reverse").as_deref() != Some("true") {
        records.reverse();
    }
    let start = match query("cursor") {
        Some(c) => records
            .iter()
            .position(|r| r.rkey == c)
            .map(|p| p + 1)
            .unwrap_or(records.len()),
        None => 0,
    };
    let page: Vec<&&StoredRecord> = records.iter().skip(start).take(limit).collect();
    let mut out = json!({ "records": page.iter().map(|r| json!({"uri": r.uri, "cid": r.cid, "value": r.value})).collect::<Vec<_>>() });
    if start + limit < records.len()
        && let Some(last) = page.last()
    {
        out["cursor"] = last.rkey.clone().into();
    }
    Ok(out)
}
