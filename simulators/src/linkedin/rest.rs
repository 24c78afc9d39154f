//! The Rest.li conventions every `/rest/` call meets, the member's identity and
//! organizations, and the Posts API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{Datelike, Utc};
use serde_json::{Value, json};

use super::error::ApiError;
use super::state::{RecordedPost, Sim, State as Li, Token};
use super::text::unescape;

/// `Linkedin-Version: YYYYMM` must name an active version, and `X-Restli-Protocol-Version`
/// must be 2.0.0 (the URN-in-path and JSON encodings of these endpoints are 2.0's).
pub(crate) fn restli(sim: &Sim, headers: &HeaderMap) -> Result<(), ApiError> {
    let version = headers
        .get("linkedin-version")
        .and_then(|v| v.to_str().ok());
    let Some(version) = version else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            0,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        ));
    };
    let months = |y: i32, m: u32| i64::from(y) * 12 + i64::from(m) - 1;
    let now = Utc::now();
    let current = months(now.year(), now.month());
    let requested = (version.len() == 6 && version.bytes().all(|b| b.is_ascii_digit()))
        .then(|| {
            (
                version[..4].parse::<i32>().ok(),
                version[4..].parse::<u32>().ok(),
            )
        })
        .and_then(|(y, m)| Some(months(y?, m.filter(|m| (1..=12).contains(m))?)));
    let active = requested
        .is_some_and(|r| r <= current && current - r < i64::from(sim.config.active_version_months));
    if !active {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            0,
            "NONEXISTENT_VERSION",
            format!("Requested version {version} is not active"),
        ));
    }
    let restli = headers
        .get("x-restli-protocol-version")
        .and_then(|v| v.to_str().ok());
    if restli != Some("2.0.0") {
        return Err(ApiError::bad_request(
            "This endpoint requires X-Restli-Protocol-Version: 2.0.0",
        ));
    }
    Ok(())
}

fn person(token: &Token) -> String {
    format!("urn:li:person:{}", token.member)
}

/// Checks that the caller may act as `author` for `purpose` (`w_member_social` for the
/// member, `w_organization_social` for an organization the member administers).
pub(crate) fn may_post_as(sim: &Sim, token: &Token, author: &str) -> Result<(), ApiError> {
    if author == person(token) {
        return if token.has("w_member_social") {
            Ok(())
        } else {
            Err(ApiError::access_denied(
                "partnerApiPostsExternal.CREATE.NO_VERSION",
            ))
        };
    }
    let org = author
        .strip_prefix("urn:li:organization:")
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| sim.config.organizations.iter().any(|o| o.id == *id));
    match org {
        Some(_) if token.has("w_organization_social") => Ok(()),
        _ => Err(ApiError::access_denied(&format!("author {author}"))),
    }
}

/// `GET /v2/userinfo` (OpenID Connect; no version header needed).
pub(crate) async fn userinfo(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = sim.lock().caller(&headers)?;
    if !(token.has("openid") && token.has("profile")) {
        return Err(ApiError::access_denied("/userinfo"));
    }
    let name = &sim.config.member_name;
    let (given, family) = name.split_once(' ').unwrap_or((name, ""));
    Ok(Json(json!({
        "sub": token.member,
        "name": name,
        "given_name": given,
        "family_name": family,
        "picture": format!("{}/media/profile/{}.jpg", sim.base_url, token.member),
        "locale": {"country": "US", "language": "en"},
        "email_verified": token.has("email"),
    })))
}

fn org_admin(token: &Token) -> Result<(), ApiError> {
    if token.has("r_organization_admin") || token.has("rw_organization_admin") {
        Ok(())
    } else {
        Err(ApiError::access_denied("organizationAcls"))
    }
}

/// `GET /rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED`.
pub(crate) async fn organization_acls(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    restli(&sim, &headers)?;
    let token = sim.lock().caller(&headers)?;
    org_admin(&token)?;
    if q.get("q").map(String::as_str) != Some("roleAssignee") {
        return Err(ApiError::bad_request("finder `q` must be roleAssignee"));
    }
    let role_ok = q.get("role").is_none_or(|r| r == "ADMINISTRATOR");
    let state_ok = q.get("state").is_none_or(|s| s == "APPROVED");
    let elements: Vec<Value> = if role_ok && state_ok {
        sim.config
            .organizations
            .iter()
            .map(|o| json!({"roleAssignee": person(&token), "role": "ADMINISTRATOR", "state": "APPROVED", "organization": format!("urn:li:organization:{}", o.id)}))
            .collect()
    } else {
        Vec::new()
    };
    let total = elements.len();
    Ok(Json(
        json!({"elements": elements, "paging": {"start": 0, "count": 10, "total": total}}),
    ))
}

/// `GET /rest/organizations/{id}`.
pub(crate) async fn organization(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    restli(&sim, &headers)?;
    let token = sim.lock().caller(&headers)?;
    org_admin(&token)?;
    let org = id
        .parse::<u64>()
        .ok()
        .and_then(|id| sim.config.organizations.iter().find(|o| o.id == id))
        .ok_or_else(|| ApiError::not_found(format!("Organization {id} not found")))?;
    Ok(Json(
        json!({"id": org.id, "localizedName": org.name, "vanityName": org.vanity_name}),
    ))
}

const POST_FIELDS: &[&str] = &[
    "author",
    "commentary",
    "visibility",
    "distribution",
    "lifecycleState",
    "isReshareDisabledByAuthor",
    "content",
    "contentLandingPage",
    "contentCallToActionLabel",
    "container",
];

fn field_error(path: &str, what: &str) -> ApiError {
    ApiError::unprocessable("UNPROCESSABLE_ENTITY", format!("ERROR :: {path} :: {what}"))
}

fn str_field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(field_error(
            &format!("/{name}"),
            "field is required but not found and has no default value",
        )),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(field_error(
            &format!("/{name}"),
            &format!("{other} is not a string"),
        )),
    }
}

/// `POST /rest/posts` → 201, empty body, the post URN in `x-restli-id`.
pub(crate) async fn create_post(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    restli(&sim, &headers)?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON: {e}")))?;
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object",
        ));
    };
    if let Some(unknown) = fields.keys().find(|k| !POST_FIELDS.contains(&k.as_str())) {
        return Err(field_error(
            &format!("/{unknown}"),
            "unrecognized field found but not allowed",
        ));
    }
    let mut state = sim.lock();
    let token = state.caller(&headers)?;
    let author = str_field(&body, "author")?.to_owned();
    may_post_as(&sim, &token, &author)?;
    let commentary = match body.get("commentary") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(field_error(
                "/commentary",
                &format!("{other} is not a string"),
            ));
        }
    };
    let text = unescape(&commentary).map_err(|c| {
        field_error(
            "/commentary",
            &format!(
                "reserved character '{c}' must be escaped with a backslash (little text format)"
            ),
        )
    })?;
    let length = text.chars().count();
    if length > sim.config.max_commentary {
        return Err(field_error(
            "/commentary",
            &format!(
                "length of {length} is out of range 0-{}",
                sim.config.max_commentary
            ),
        ));
    }
    let visibility = str_field(&body, "visibility")?.to_owned();
    let allowed: &[&str] = if author.starts_with("urn:li:organization:") {
        &["PUBLIC", "LOGGED_IN"]
    } else {
        &["PUBLIC", "CONNECTIONS", "LOGGED_IN"]
    };
    if !allowed.contains(&visibility.as_str()) {
        return Err(field_error(
            "/visibility",
            &format!("{visibility} is not one of {}", allowed.join(", ")),
        ));
    }
    let feed = body
        .pointer("/distribution/feedDistribution")
        .and_then(Value::as_str);
    if !matches!(feed, Some("MAIN_FEED" | "NONE")) {
        return Err(field_error(
            "/distribution/feedDistribution",
            "must be MAIN_FEED or NONE",
        ));
    }
    let lifecycle = str_field(&body, "lifecycleState")?;
    if lifecycle != "PUBLISHED" {
        return Err(field_error(
            "/lifecycleState",
            &format!("{lifecycle} cannot be created through this API; use PUBLISHED"),
        ));
    }
    let reshare_disabled = match body.get("isReshareDisabledByAuthor") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(field_error(
                "/isReshareDisabledByAuthor",
                &format!("{other} is not a boolean"),
            ));
        }
    };
    let (content, media, alt_texts) = content_of(&state, &body, &author)?;
    if let Some(dup) = state
        .posts
        .iter()
        .find(|p| p.author == author && p.commentary == commentary && p.media == media)
    {
        return Err(ApiError::unprocessable(
            "DUPLICATE_POST",
            format!("Content is a duplicate of {}", dup.urn),
        ));
    }
    let day = Utc::now().timestamp().div_euclid(86_400);
    let count = state.daily_posts.entry((author.clone(), day)).or_insert(0);
    if *count >= sim.config.daily_post_limit {
        let reset = (day + 1) * 86_400 - Utc::now().timestamp();
        return Err(ApiError::throttled(
            "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
            reset.max(1) as u64,
        ));
    }
    *count += 1;
    let kind = if content == "none"
        || media
            .first()
            .is_some_and(|m| m.starts_with("urn:li:image:"))
            && content == "media"
    {
        "share"
    } else {
        "ugcPost"
    };
    let urn = format!("urn:li:{kind}:{}", state.next_id());
    state.posts.push(RecordedPost {
        urn: urn.clone(),
        author,
        commentary,
        text,
        visibility,
        content,
        media,
        alt_texts,
        reshare_disabled,
        created_at: Utc::now().timestamp_millis(),
    });
    let mut response = StatusCode::CREATED.into_response();
    response.headers_mut().insert(
        "x-restli-id",
        HeaderValue::from_str(&urn).expect("URNs are header-safe"),
    );
    Ok(response)
}

type Content = (String, Vec<String>, Vec<Option<String>>);

fn content_of(state: &Li, body: &Value, author: &str) -> Result<Content, ApiError> {
    let Some(content) = body.get("content") else {
        return Ok(("none".into(), Vec::new(), Vec::new()));
    };
    let alt = |v: &Value| v.get("altText").and_then(Value::as_str).map(str::to_owned);
    if let Some(media) = content.get("media") {
        let id = media.get("id").and_then(Value::as_str).ok_or_else(|| {
            field_error(
                "/content/media/id",
                "field is required but not found and has no default value",
            )
        })?;
        ready(state, id, author, "/content/media/id")?;
        return Ok(("media".into(), vec![id.to_owned()], vec![alt(media)]));
    }
    if let Some(images) = content
        .pointer("/multiImage/images")
        .and_then(Value::as_array)
    {
        if !(2..=20).contains(&images.len()) {
            return Err(field_error(
                "/content/multiImage/images",
                &format!(
                    "a multi-image post takes 2 to 20 images, not {}",
                    images.len()
                ),
            ));
        }
        let mut ids = Vec::new();
        let mut alts = Vec::new();
        for (i, image) in images.iter().enumerate() {
            let path = format!("/content/multiImage/images/{i}/id");
            let id = image
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| field_error(&path, "field is required but not found"))?;
            if !id.starts_with("urn:li:image:") {
                return Err(field_error(&path, "multi-image posts take images only"));
            }
            ready(state, id, author, &path)?;
            ids.push(id.to_owned());
            alts.push(alt(image));
        }
        return Ok(("multiImage".into(), ids, alts));
    }
    Err(field_error("/content", "must hold media or multiImage"))
}

/// The image or video must belong to the author and be ready to post.
fn ready(state: &Li, urn: &str, author: &str, path: &str) -> Result<(), ApiError> {
    if let Some(image) = state.images.get(urn) {
        if image.owner != author {
            return Err(field_error(
                path,
                &format!("{urn} is owned by {}, not the author", image.owner),
            ));
        }
        return if image.uploaded {
            Ok(())
        } else {
            Err(field_error(path, &format!("{urn} has not been uploaded")))
        };
    }
    if let Some(video) = state.videos.get(urn) {
        if video.owner != author {
            return Err(field_error(
                path,
                &format!("{urn} is owned by {}, not the author", video.owner),
            ));
        }
        let status = super::media::video_status(state, video);
        return if status == "AVAILABLE" {
            Ok(())
        } else {
            Err(field_error(
                path,
                &format!("{urn} is {status}, not AVAILABLE"),
            ))
        };
    }
    Err(field_error(path, &format!("{urn} does not exist")))
}

/// `GET /rest/posts?q=author&author=…&count=…` — newest first. Reading a member's posts
/// takes `r_member_social` (a closed permission); an organization's, `r_organization_social`.
pub(crate) async fn posts_by_author(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    restli(&sim, &headers)?;
    let state = sim.lock();
    let token = state.caller(&headers)?;
    if q.get("q").map(String::as_str) != Some("author") {
        return Err(ApiError::bad_request("finder `q` must be author"));
    }
    let author = q
        .get("author")
        .ok_or_else(|| ApiError::bad_request("`author` is required"))?;
    let needed = if author.starts_with("urn:li:organization:") {
        "r_organization_social"
    } else {
        "r_member_social"
    };
    if !token.has(needed) {
        return Err(ApiError::access_denied(
            "partnerApiPostsExternal.FINDER-author",
        ));
    }
    let count = q
        .get("count")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(10)
        .min(100);
    let start = q
        .get("start")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let mine: Vec<&RecordedPost> = state
        .posts
        .iter()
        .rev()
        .filter(|p| &p.author == author)
        .collect();
    let elements: Vec<Value> = mine
        .iter()
        .skip(start)
        .take(count)
        .map(|p| json!({"id": p.urn, "author": p.author, "commentary": p.commentary, "visibility": p.visibility, "lifecycleState": "PUBLISHED", "createdAt": p.created_at, "publishedAt": p.created_at, "lastModifiedAt": p.created_at}))
        .collect();
    Ok(Json(
        json!({"elements": elements, "paging": {"start": start, "count": count, "total": mine.len()}}),
    ))
}

/// `DELETE /rest/posts/{urn}` → 204.
pub(crate) async fn delete_post(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(urn): Path<String>,
) -> Result<StatusCode, ApiError> {
    restli(&sim, &headers)?;
    let mut state = sim.lock();
    let token = state.caller(&headers)?;
    let Some(position) = state.posts.iter().position(|p| p.urn == urn) else {
        return Err(ApiError::not_found(format!("Post {urn} not found")));
    };
    may_post_as(&sim, &token, &state.posts[position].author.clone())?;
    state.posts.remove(position);
    Ok(StatusCode::NO_CONTENT)
}
