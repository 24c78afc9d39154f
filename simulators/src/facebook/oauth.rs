//! Facebook Login: the dialog, the code exchange, the long-lived exchange, `/me` and
//! `/me/accounts` (the Pages with their tokens).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{Duration, Utc};
use serde_json::json;

use super::state::{Code, Sim};
use crate::graph::{GraphError, Params, TokenKind, new_secret};

/// Permissions the simulated app may ask for.
const KNOWN_SCOPES: &[&str] = &[
    "public_profile",
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
    "pages_manage_engagement",
    "pages_read_user_content",
    "read_insights",
    "pages_manage_metadata",
];

/// `GET /dialog/oauth`: approves at once as the configured user.
pub(crate) async fn dialog(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Response {
    let redirect = match params.required("redirect_uri") {
        Ok(r) => r.to_string(),
        Err(e) => return e.into_response(),
    };
    if params.get("client_id") != Some(sim.config.app_id.as_str()) {
        return GraphError::oauth(
            101,
            None,
            "Error validating application. Invalid application ID.",
        )
        .into_response();
    }
    if params.get("response_type").unwrap_or("code") != "code" {
        return GraphError::invalid("response_type must be code").into_response();
    }
    let scopes: Vec<String> = params
        .get("scope")
        .unwrap_or("public_profile")
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
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
        },
    );
    let mut url = match url::Url::parse(&redirect) {
        Ok(u) => u,
        Err(_) => return GraphError::invalid("redirect_uri is not a URL").into_response(),
    };
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = params.get("state") {
        url.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// `GET /oauth/access_token`: the code exchange, or `grant_type=fb_exchange_token`.
pub(crate) async fn access_token(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Result<Json<serde_json::Value>, GraphError> {
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
    if params.get("grant_type") == Some("fb_exchange_token") {
        let short = params.required("fb_exchange_token")?;
        let old = sim.graph.core().tokens.check(short)?;
        if old.kind != TokenKind::User {
            return Err(GraphError::invalid(
                "fb_exchange_token must be a user access token",
            ));
        }
        let ttl = Duration::seconds(sim.config.long_token_secs);
        let token = sim.graph.core().tokens.issue(
            TokenKind::User,
            &old.user_id,
            None,
            &old.scopes,
            Some(ttl),
            true,
        );
        return Ok(Json(json!({
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": sim.config.long_token_secs,
        })));
    }
    let code = params.required("code")?;
    let redirect = params.required("redirect_uri")?;
    let scopes = {
        let mut state = sim.lock();
        let Some(found) = state.codes.get_mut(code) else {
            return Err(GraphError::oauth(
                100,
                Some(36007),
                "Invalid verification code format.",
            ));
        };
        if found.used {
            return Err(GraphError::oauth(
                100,
                Some(36009),
                "This authorization code has been used.",
            ));
        }
        if found.expires_at < Utc::now() {
            return Err(GraphError::oauth(
                100,
                Some(36007),
                "This authorization code has expired.",
            ));
        }
        if found.redirect_uri != redirect {
            return Err(GraphError::oauth(
                100,
                Some(36008),
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            ));
        }
        found.used = true;
        found.scopes.clone()
    };
    let user_id = sim.lock().user_id.clone();
    let token = sim.graph.core().tokens.issue(
        TokenKind::User,
        &user_id,
        None,
        &scopes,
        Some(Duration::seconds(sim.config.short_token_secs)),
        false,
    );
    Ok(Json(json!({
        "access_token": token.value,
        "token_type": "bearer",
        "expires_in": sim.config.short_token_secs,
    })))
}

/// `GET /me`: the user, or the Page a Page token acts as.
pub(crate) async fn me(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Result<Json<serde_json::Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    let state = sim.lock();
    if let Some(page_id) = &token.page_id {
        let page = state
            .pages
            .iter()
            .find(|p| &p.id == page_id)
            .ok_or_else(|| GraphError::unknown_object(page_id))?;
        return Ok(Json(json!({"id": page.id, "name": page.name})));
    }
    Ok(Json(
        json!({"id": state.user_id, "name": sim.config.user_name}),
    ))
}

/// `GET /me/accounts`: the user's Pages, each with a Page token. The Page token is derived
/// from the user token: from a long-lived user token it never expires, from a short-lived
/// one it lives as long as that token.
pub(crate) async fn accounts(
    State(sim): State<Arc<Sim>>,
    Extension(params): Extension<Params>,
) -> Result<Json<serde_json::Value>, GraphError> {
    let token = sim.graph.authenticate(&params)?;
    if token.kind != TokenKind::User {
        return Err(GraphError::method(
            100,
            "(#100) Tried accessing nonexisting field (accounts) on node type (Page)",
        ));
    }
    token.require("pages_show_list")?;
    let pages = sim.lock().pages.clone();
    let ttl = if token.long_lived {
        None
    } else {
        token.expires_in().map(Duration::seconds)
    };
    let data: Vec<serde_json::Value> = pages
        .iter()
        .map(|p| {
            let page_token = sim.graph.core().tokens.issue(
                TokenKind::Page,
                &token.user_id,
                Some(&p.id),
                &token.scopes,
                ttl,
                token.long_lived,
            );
            json!({
                "id": p.id,
                "name": p.name,
                "category": p.category,
                "access_token": page_token.value,
                "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
            })
        })
        .collect();
    Ok(Json(
        json!({ "data": data, "paging": {"cursors": {"before": "QVFIUm", "after": "QVFIUn"}} }),
    ))
}
