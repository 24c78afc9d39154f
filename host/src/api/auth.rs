//! Accounts and sign-in: sign-up, sign-in, refresh-token rotation, sign-out, the user's
//! sessions and `GET /me`. Also the field checks the other account and workspace
//! endpoints share.

use super::caller::{REFRESH_PREFIX, SESSION_PREFIX, Scope, User, new_token, token_hash};
use super::json::Json;
use super::problem::Problem;
use crate::app::App;
use crate::store::sessions::{self, Refreshed, SessionRow, TokenHashes};
use crate::store::users::{self, CreateError, UserRow};
use anyhow::{Context, anyhow};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, LazyLock};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(signin))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(me))
}

pub const MIN_PASSWORD_CHARS: usize = 10;
/// Bounds the work one sign-in can ask of the hasher.
pub const MAX_PASSWORD_CHARS: usize = 1024;
pub const MAX_NAME_CHARS: usize = 100;
const MAX_EMAIL_CHARS: usize = 254;

/// Responses carrying secrets must not be kept by caches or proxies.
pub const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

/// A 422 naming the field that is wrong (also listed in `errors`).
pub fn invalid_field(field: &str, message: impl Into<String>) -> Problem {
    let message = message.into();
    Problem::unprocessable("invalid-field", format!("`{field}` {message}")).with_errors(vec![
        serde_json::json!({ "field": field, "message": message }),
    ])
}

/// A trimmed, non-empty, single-line text of at most `max` characters.
pub fn text_field(field: &str, raw: &str, max: usize) -> Result<String, Problem> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(invalid_field(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(invalid_field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid_field(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

/// An email address, lowercased: one `@`, a plausible local part and a dotted domain.
pub fn email_field(field: &str, raw: &str) -> Result<String, Problem> {
    let email = raw.trim().to_lowercase();
    let bad = || invalid_field(field, "is not a valid email address");
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(bad())
    }
}

/// Refuses API keys for account-level changes (new keys, sign-outs): a leaked key must
/// not be able to mint more keys or lock its owner out.
pub fn require_session(user: &User) -> Result<&str, Problem> {
    user.session_id.as_deref().ok_or_else(|| {
        Problem::new(
            StatusCode::FORBIDDEN,
            "session-required",
            "this needs a signed-in session (an access token), not an API key",
        )
    })
}

/// Refuses API keys whose scope is narrower than `min` (sessions are unrestricted).
pub fn require_scope(user: &User, min: Scope) -> Result<(), Problem> {
    match user.key_scope {
        Some(scope) if scope < min => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "this API key's scopes do not allow this request",
        )),
        _ => Ok(()),
    }
}

/// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's recommendation).
fn hasher() -> argon2::Argon2<'static> {
    argon2::Argon2::default()
}

async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        use rand::RngCore;
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow!("salt: {e}"))?;
        let hash = hasher()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow!("hashing the password: {e}"))?;
        Ok(hash.to_string())
    })
    .await
    .context("password hashing task")?
}

/// A hash of nothing anyone knows, verified against when the email is unknown so that a
/// wrong email takes as long to refuse as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(b"plugboard-dummy!").expect("static salt");
    hasher()
        .hash_password(b"no password matches this hash", &salt)
        .expect("hashing the dummy password")
        .to_string()
});

async fn verify_password(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed =
            PasswordHash::new(&stored).map_err(|e| anyhow!("stored password hash: {e}"))?;
        let matches = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .context("password verification task")?
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> UserView {
        UserView {
            id: u.id,
            email: u.email,
            name: u.name,
            created_at: u.created_at,
        }
    }
}

/// A signed-in session's tokens. The refresh token is single-use: each refresh answers a
/// new pair.
#[derive(Serialize, ToSchema)]
pub struct SessionTokens {
    pub user: UserView,
    pub session_id: String,
    /// Bearer token for API calls (`pbs_…`), valid 15 minutes.
    pub access_token: String,
    /// Exchange at `POST /api/v1/auth/refresh` (`pbr_…`), valid 30 days, once.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
}

fn new_pair() -> (String, String, TokenHashes) {
    let access = new_token(SESSION_PREFIX);
    let refresh = new_token(REFRESH_PREFIX);
    let hashes = TokenHashes::new(token_hash(&access), token_hash(&refresh));
    (access, refresh, hashes)
}

fn tokens(user: UserRow, session: SessionRow, access: String, refresh: String) -> SessionTokens {
    SessionTokens {
        user: user.into(),
        session_id: session.id,
        access_token: access,
        refresh_token: refresh,
        expires_at: session.access_expires_at,
        refresh_expires_at: session.refresh_expires_at,
    }
}

async fn start_session(app: &App, user: UserRow) -> Result<SessionTokens, Problem> {
    let (access, refresh, hashes) = new_pair();
    let session = sessions::create(&app.db, &user.id, &hashes).await?;
    Ok(tokens(user, session, access, refresh))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    pub name: String,
    /// At least 10 characters.
    pub password: String,
}

#[utoipa::path(post, path = "/auth/signup", tag = "auth", summary = "Create an account and sign in",
    description = "The email is stored lowercased. No workspace is created: create one with `POST /api/v1/workspaces`.",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "signed up and signed in", body = SessionTokens),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 409, description = "the email is taken", body = Problem),
        (status = 422, description = "invalid field", body = Problem)))]
pub async fn signup(
    State(app): State<Arc<App>>,
    Json(req): Json<SignupRequest>,
) -> Result<impl IntoResponse, Problem> {
    let email = email_field("email", &req.email)?;
    let name = text_field("name", &req.name, MAX_NAME_CHARS)?;
    let chars = req.password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(invalid_field(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(invalid_field(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let hash = hash_password(req.password).await?;
    let user = match users::create(&app.db, &email, &name, &hash).await {
        Ok(u) => u,
        Err(CreateError::EmailTaken) => {
            return Err(Problem::conflict(
                "email-taken",
                "an account with this email already exists; sign in instead",
            ));
        }
        Err(CreateError::Db(e)) => return Err(Problem::internal(&e)),
    };
    let body = start_session(&app, user).await?;
    Ok((StatusCode::CREATED, NO_STORE, axum::Json(body)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    pub email: String,
    pub password: String,
}

fn bad_credentials() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid-credentials",
        "the email or password is wrong",
    )
}

#[utoipa::path(post, path = "/auth/signin", tag = "auth", summary = "Sign in with email and password",
    request_body = SigninRequest,
    responses(
        (status = 200, description = "signed in", body = SessionTokens),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 401, description = "wrong email or password (the same answer for both)", body = Problem),
        (status = 422, description = "invalid body", body = Problem),
        (status = 429, description = "too many failed sign-ins for this email in 15 minutes; `Retry-After` says when to try again", body = Problem)))]
pub async fn signin(
    State(app): State<Arc<App>>,
    Json(req): Json<SigninRequest>,
) -> Result<axum::response::Response, Problem> {
    // Throttled by the email as typed (normalised), known or not, so the answer does not
    // tell which emails have accounts.
    let key = req.email.trim().to_lowercase();
    let now = std::time::Instant::now();
    if let Some(wait) = app.signin_throttle.wait(&key, now) {
        let secs = wait.as_secs().max(1);
        let problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            format!("too many failed sign-ins for this email; try again in {secs} s"),
        );
        return Ok(([(header::RETRY_AFTER, secs.to_string())], problem).into_response());
    }
    let user = match email_field("email", &req.email) {
        Ok(email) => users::by_email(&app.db, &email).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    // Sign-up refuses over-long passwords, so one cannot match; hashing it would only
    // cost time.
    let password = if req.password.chars().count() > MAX_PASSWORD_CHARS {
        String::new()
    } else {
        req.password
    };
    if !verify_password(password, stored).await? {
        app.signin_throttle.failed(&key, now);
        return Err(bad_credentials());
    }
    let user = user.ok_or_else(bad_credentials)?;
    app.signin_throttle.succeeded(&key);
    let body = start_session(&app, user).await?;
    Ok((NO_STORE, axum::Json(body)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", summary = "Exchange a refresh token for a new token pair",
    description = "Refresh tokens rotate: the one sent is spent. Sending a spent one again revokes the whole session (it was copied).",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "a new access and refresh token", body = SessionTokens),
        (status = 400, description = "malformed JSON", body = Problem),
        (status = 413, description = "body too large", body = Problem),
        (status = 415, description = "not sent as JSON", body = Problem),
        (status = 401, description = "unknown, expired, revoked or reused refresh token", body = Problem),
        (status = 422, description = "invalid body", body = Problem)))]
pub async fn refresh(
    State(app): State<Arc<App>>,
    Json(req): Json<RefreshRequest>,
) -> Result<impl IntoResponse, Problem> {
    let refused = |kind: &str, detail: &str| Problem::new(StatusCode::UNAUTHORIZED, kind, detail);
    if !req.refresh_token.starts_with(REFRESH_PREFIX) {
        return Err(refused(
            "invalid-refresh-token",
            "this is not a refresh token (pbr_…)",
        ));
    }
    let (access, refresh, hashes) = new_pair();
    let session = match sessions::refresh(&app.db, &token_hash(&req.refresh_token), &hashes).await?
    {
        Refreshed::Rotated(s) => s,
        Refreshed::Reused => {
            return Err(refused(
                "refresh-token-reused",
                "this refresh token was already used; the session has been revoked for safety, sign in again",
            ));
        }
        Refreshed::Expired => {
            return Err(refused(
                "refresh-token-expired",
                "the refresh token has expired; sign in again",
            ));
        }
        Refreshed::Revoked => {
            return Err(refused(
                "session-revoked",
                "the session was signed out; sign in again",
            ));
        }
        Refreshed::Unknown => {
            return Err(refused(
                "invalid-refresh-token",
                "the refresh token is not valid; sign in again",
            ));
        }
    };
    let user = users::by_id(&app.db, &session.user_id)
        .await?
        .context("session of a missing user")?;
    Ok((NO_STORE, axum::Json(tokens(user, session, access, refresh))))
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", summary = "Sign out: revoke the current session",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "signed out; the access and refresh tokens no longer work"),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "called with an API key", body = Problem)))]
pub async fn logout(State(app): State<Arc<App>>, user: User) -> Result<impl IntoResponse, Problem> {
    let session = require_session(&user)?;
    sessions::revoke(&app.db, &user.id, session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// When the current access token expires.
    pub access_expires_at: DateTime<Utc>,
    /// When the session ends unless refreshed.
    pub refresh_expires_at: DateTime<Utc>,
    /// Whether this is the session of the request.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[utoipa::path(get, path = "/auth/sessions", tag = "auth", summary = "List my active sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "sessions that can still be refreshed, newest first", body = SessionList),
        (status = 401, description = "not signed in", body = Problem)))]
pub async fn list_sessions(
    State(app): State<Arc<App>>,
    user: User,
) -> Result<axum::Json<SessionList>, Problem> {
    let rows = sessions::list(&app.db, &user.id).await?;
    let sessions = rows
        .into_iter()
        .map(|s| SessionView {
            current: user.session_id.as_deref() == Some(s.id.as_str()),
            id: s.id,
            created_at: s.created_at,
            access_expires_at: s.access_expires_at,
            refresh_expires_at: s.refresh_expires_at,
        })
        .collect();
    Ok(axum::Json(SessionList { sessions }))
}

#[utoipa::path(delete, path = "/auth/sessions/{session_id}", tag = "auth", summary = "Revoke one of my sessions",
    params(("session_id" = String, Path, description = "a session id from `GET /api/v1/auth/sessions`")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, description = "not signed in", body = Problem),
        (status = 403, description = "called with an API key", body = Problem),
        (status = 404, description = "no such active session of mine", body = Problem)))]
pub async fn revoke_session(
    State(app): State<Arc<App>>,
    user: User,
    Path(session_id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    require_session(&user)?;
    if !sessions::revoke(&app.db, &user.id, &session_id).await? {
        return Err(Problem::not_found(format!(
            "no active session `{session_id}`"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/me", tag = "auth", summary = "The signed-in user",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "me", body = UserView),
        (status = 401, description = "not signed in", body = Problem)))]
pub async fn me(State(app): State<Arc<App>>, user: User) -> Result<axum::Json<UserView>, Problem> {
    let row = users::by_id(&app.db, &user.id)
        .await?
        .ok_or_else(|| Problem::not_found("the account no longer exists"))?;
    Ok(axum::Json(row.into()))
}
