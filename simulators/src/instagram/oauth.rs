//! Logins: Instagram Login (the authorize page, the code exchange on api.instagram.com,
//! the long-lived exchange and `ig_refresh_token` on graph.instagram.com, `/me`) and
//! Facebook Login (the dialog, the code and long-lived exchanges, `/me/accounts` with the
//! Page's linked Instagram account).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::state::{Code, Sim};
use crate::graph::{GraphError, Params, TokenKind, new_secret};

/// Instagram Login permissions (the `business_*` names stopped working on 27 Jan 2025).
const INSTAGRAM_SCOPES: &[&str] = &[
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
    "instagram_business_manage_insights",
    "instagram_business_manage_messages",
];

/// Facebook Login permissions for an Instagram account linked to a Page.
const FACEBOOK_SCOPES: &[&str] = &[
    "public_profile",
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
    "business_management",
];

/// api.instagram.com's own error envelope (not Graph's).
fn api_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error_type": "OAuthException", "code": 400, "error_message": message})),
    )
        .into_response()
}

/// `GET /oauth/authorize` (www.instagram.com) and `GET /dialog/oauth` (www.facebook.com):
/// approves at once and redirects with a code.
fn approve(sim: &Sim, params: &Params, facebook: bool) -> Response {
    let redirect = match params.required("redirect_uri") {
        Ok(r) => r.to_string(),
        Err(e) => return e.into_response(),
    };
    if params.get("client_id") != Some(sim.config.app_id.as_str()) {
        return GraphError::oauth(101, None, "Invalid platform app").into_response();
    }
    if params.get("response_type").unwrap_or("code") != "code" {
        return GraphError::invalid("response_type must be code").into_response();
    }
    let known = if facebook {
        FACEBOOK_SCOPES
    } else {
        INSTAGRAM_SCOPES
    };
    let scopes: Vec<String> = params
        .get("scope")
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        return GraphError::invalid("scope is required").into_response();
    }
    if let Some(bad) = scopes.iter().find(|s| !known.contains(&s.as_str())) {
        return GraphError::invalid(format!("Invalid Scopes: {bad}")).into_response();
    }
    let code = new_secret("AQ");
    sim.lock().codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect.clone(),
            scopes,
            expires_at: Utc::now() + Duration::minutes(10),
            used: false,
            facebook,
        },
    );
    let Ok(mut url) = url::Url::parse(&redirect) else {
        return GraphError::invalid("redirect_uri is not a URL").into_response();
    };
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = params.get("state") {
        url.query_pairs_mut().append_pair("state", state);
    }
    let mut location = url.to_string();
    if !facebook {
        // Instagram appends `#_` to the redirect; browsers keep it out of the request.
        location.push_str("#_");
    }
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

pub(crate) async fn authorize(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Response {
    approve(&sim, &params, false)
}

pub(crate) async fn dialog(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Response {
    approve(&sim, &params, true)
}

/// Spends a code: it must exist, be unused, unexpired, of the right login and bound to
/// `redirect_uri`. Returns its scopes.
fn spend(sim: &Sim, code: &str, redirect: &str, facebook: bool) -> Result<Vec<String>, String> {
    let mut state = sim.lock();
    let Some(found) = state.codes.get_mut(code) else {
        return Err("Invalid authorization code".into());
    };
    if found.used {
        return Err("This authorization code has been used".into());
    }
    if found.expires_at < Utc::now() || found.facebook != facebook {
        return Err("This authorization code has expired".into());
    }
    if found.redirect_uri != redirect {
        return Err("Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request".into());
    }
    found.used = true;
    Ok(found.scopes.clone())
}

/// `POST /oauth/access_token` (api.instagram.com): the code for a one-hour token.
pub(crate) async fn instagram_exchange(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Response {
    if params.get("client_id") != Some(sim.config.app_id.as_str()) {
        return api_error("Invalid platform app");
    }
    if params.get("client_secret") != Some(sim.config.app_secret.as_str()) {
        return api_error("Error validating client secret.");
    }
    if params.get("grant_type") != Some("authorization_code") {
        return api_error("Invalid grant_type: must be authorization_code");
    }
    let (Some(code), Some(redirect)) = (params.get("code"), params.get("redirect_uri")) else {
        return api_error("Missing required parameter: code and redirect_uri are required");
    };
    let code = code.trim_end_matches("#_");
    let scopes = match spend(&sim, code, redirect, false) {
        Ok(s) => s,
        Err(why) => return api_error(&why),
    };
    let user_id = sim.lock().user_id.clone();
    let token = sim.graph.core().tokens.issue(
        TokenKind::Instagram,
        &user_id,
        None,
        &scopes,
        Some(Duration::seconds(sim.config.short_token_secs)),
        false,
    );
    Json(json!({"data": [{
        "access_token": token.value,
        "user_id": user_id,
        "permissions": scopes.join(","),
    }]}))
    .into_response()
}

/// `GET /access_token?grant_type=ig_exchange_token`: a one-hour token for a 60-day one.
pub(crate) async fn long_lived(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    if params.get("grant_type") != Some("ig_exchange_token") {
        return Err(GraphError::invalid("grant_type must be ig_exchange_token"));
    }
    if params.get("client_secret") != Some(sim.config.app_secret.as_str()) {
        return Err(GraphError::oauth(
            1,
            None,
            "Error validating client secret.",
        ));
    }
    let short = params
        .token
        .as_deref()
        .ok_or_else(|| GraphError::invalid("The parameter access_token is required"))?;
    let old = sim.graph.core().tokens.check(short)?;
    if old.kind != TokenKind::Instagram || old.long_lived {
        return Err(GraphError::invalid(
            "access_token must be a short-lived Instagram user access token",
        ));
    }
    Ok(Json(issue_long(&sim, &old.user_id, &old.scopes)))
}

fn issue_long(sim: &Sim, user_id: &str, scopes: &[String]) -> Value {
    let token = sim.graph.core().tokens.issue(
        TokenKind::Instagram,
        user_id,
        None,
        scopes,
        Some(Duration::seconds(sim.config.long_token_secs)),
        true,
    );
    json!({
        "access_token": token.value,
        "token_type": "bearer",
        "expires_in": sim.config.long_token_secs,
    })
}

/// `GET /refresh_access_token?grant_type=ig_refresh_token`: an unexpired long-lived
/// token at least a day old for a fresh 60-day one. The old token stays valid until it
/// expires.
pub(crate) async fn refresh(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    if params.get("grant_type") != Some("ig_refresh_token") {
        return Err(GraphError::invalid("grant_type must be ig_refresh_token"));
    }
    let value = params
        .token
        .as_deref()
        .ok_or_else(|| GraphError::invalid("The parameter access_token is required"))?;
    let old = sim.graph.core().tokens.check(value)?;
    if old.kind != TokenKind::Instagram || !old.long_lived {
        return Err(GraphError::invalid(
            "Only long-lived Instagram access tokens can be refreshed",
        ));
    }
    if (Utc::now() - old.issued_at).num_seconds() < sim.config.refresh_min_age_secs {
        return Err(GraphError::invalid(
            "The access token can only be refreshed once it is at least 24 hours old",
        ));
    }
    Ok(Json(issue_long(&sim, &old.user_id, &old.scopes)))
}

/// `GET /me`: the professional account (Instagram Login) or the Facebook user.
pub(crate) async fn me(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let state = sim.lock();
    if token.kind == TokenKind::Instagram {
        token.require("instagram_business_basic")?;
        return Ok(Json(json!({
            "id": state.user_id,
            "user_id": state.user_id,
            "username": sim.config.username,
            "name": sim.config.page_name,
            "account_type": sim.config.account_type,
            "profile_picture_url": format!("{}/pictures/{}.jpg", sim.graph.base_url, state.user_id),
        })));
    }
    Ok(Json(
        json!({"id": state.fb_user_id, "name": sim.config.page_name}),
    ))
}

/// `GET /oauth/access_token` (graph.facebook.com): Facebook Login's code exchange, or
/// `grant_type=fb_exchange_token` for a 60-day user token.
pub(crate) async fn facebook_exchange(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    if params.get("client_id") != Some(sim.config.app_id.as_str()) {
        return Err(GraphError::oauth(
            101,
            None,
            "Error validating application. Invalid application ID.",
        ));
    }
    if params.get("client_secret") != Some(sim.config.app_secret.as_str()) {
        return Err(GraphError::oauth(
            1,
            None,
            "Error validating client secret.",
        ));
    }
    let (user_id, scopes, ttl, long) = if params.get("grant_type") == Some("fb_exchange_token") {
        let old = sim
            .graph
            .core()
            .tokens
            .check(params.required("fb_exchange_token")?)?;
        if old.kind != TokenKind::User {
            return Err(GraphError::invalid(
                "fb_exchange_token must be a user access token",
            ));
        }
        (old.user_id, old.scopes, sim.config.long_token_secs, true)
    } else {
        let code = params.required("code")?;
        let redirect = params.required("redirect_uri")?;
        let scopes = spend(&sim, code, redirect, true)
            .map_err(|why| GraphError::oauth(100, Some(36007), why))?;
        let user = sim.lock().fb_user_id.clone();
        (user, scopes, sim.config.short_token_secs, false)
    };
    let token = sim.graph.core().tokens.issue(
        TokenKind::User,
        &user_id,
        None,
        &scopes,
        Some(Duration::seconds(ttl)),
        long,
    );
    Ok(Json(
        json!({"access_token": token.value, "token_type": "bearer", "expires_in": ttl}),
    ))
}

/// `GET /me/accounts`: the user's Page with its linked Instagram professional account.
pub(crate) async fn accounts(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Result<Json<Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    if token.kind != TokenKind::User {
        return Err(GraphError::method(
            100,
            "(#100) Tried accessing nonexisting field (accounts) on node type (User)",
        ));
    }
    token.require("pages_show_list")?;
    let state = sim.lock();
    Ok(Json(json!({"data": [{
        "id": state.page_id,
        "name": sim.config.page_name,
        "category": "Bakery",
        "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MODERATE", "MANAGE"],
        "instagram_business_account": {"id": state.user_id, "username": sim.config.username},
    }]})))
}
