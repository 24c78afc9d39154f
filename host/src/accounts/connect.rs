//! Connecting accounts: the OAuth flow (state and PKCE verifier kept server-side, bound to
//! user and workspace, single use, ten minutes), connection with named credentials, and
//! the choice among offered sub-accounts. A reconnect merges into the stored account.

use super::apps::{choose, settings_of};
use super::{AccountError, from_unix, merge_credentials};
use crate::api::caller::{Role, new_token, token_hash};
use crate::app::App;
use crate::crypto::credentials::SecretMap;
use crate::runtime::manifest::World;
use crate::runtime::state::CallContext;
use crate::store::accounts::{
    self as store, ACTIVE, AccountRow, OAuthState, PENDING_SELECTION, Taken,
};
use crate::store::activity::{self, Entry};
use crate::store::members;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    AccountProfile, AuthKind, AuthorizeRequest, CodeExchange, Connection, Credentials, PlatformInfo,
};
use plugboard_bindings::platform::plugboard::plugin::types::PluginError;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How long a started authorization stays valid.
pub const STATE_TTL_MINUTES: i64 = 10;
pub const MAX_SCOPES: usize = 50;
pub const MAX_SCOPE_LEN: usize = 200;
pub const MAX_RETURN_TO: usize = 2048;
pub const MAX_FIELDS: usize = 20;
pub const MAX_FIELD_VALUE: usize = 4096;
/// Longest remote id or profile text accepted from a plugin.
const MAX_PROFILE_TEXT: usize = 1024;

/// How to start an OAuth connection.
#[derive(Debug, Default)]
pub struct StartRequest {
    pub app_id: Option<String>,
    pub scopes: Vec<String>,
    pub return_to: Option<String>,
}

#[derive(Debug)]
pub struct Started {
    pub authorize_url: String,
    pub expires_at: DateTime<Utc>,
}

/// A finished connection: the stored accounts (the user account first, then sub-accounts
/// offered for selection) and where the browser goes next.
#[derive(Debug)]
pub struct Finished {
    pub accounts: Vec<AccountRow>,
    pub return_to: Option<String>,
}

/// A failed callback, with the page to send the browser back to when the state was genuine.
#[derive(Debug)]
pub struct CallbackFailure {
    pub error: AccountError,
    pub return_to: Option<String>,
}

/// The plugin, if installed and a platform plugin.
fn platform_plugin(app: &App, plugin: &str) -> Result<(), AccountError> {
    let p = app
        .runtime
        .registry
        .get(plugin)
        .ok_or_else(|| AccountError::NotFound(format!("plugin `{plugin}` is not installed")))?;
    if p.manifest.world != World::Platform {
        return Err(AccountError::Invalid {
            kind: "not-a-platform",
            detail: format!(
                "plugin `{plugin}` is an AI provider; only platform plugins connect accounts"
            ),
        });
    }
    Ok(())
}

async fn describe(app: &App, plugin: &str) -> Result<PlatformInfo, AccountError> {
    Ok(app
        .runtime
        .platform(plugin, "describe", CallContext::default())
        .await?
        .describe()
        .await?)
}

fn secrets_ctx(settings: &SecretMap) -> CallContext {
    CallContext {
        app_secrets: settings
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    }
}

fn plugin_err(plugin: &str, error: PluginError) -> AccountError {
    AccountError::Plugin {
        plugin: plugin.to_string(),
        error,
    }
}

/// Where the browser comes back to: the app's own redirect URI or this server's callback.
fn redirect_uri(app: &App, settings: &SecretMap) -> String {
    settings.0.get("redirect_uri").cloned().unwrap_or_else(|| {
        format!(
            "{}/api/v1/accounts/callback",
            app.config.public_url().trim_end_matches('/')
        )
    })
}

/// `return_to` must lead back to this server or a configured frontend origin: the callback
/// redirects there without a bearer, so anything else would be an open redirect.
fn check_return_to(app: &App, raw: &str) -> Result<(), AccountError> {
    let invalid = |detail: String| AccountError::Invalid {
        kind: "invalid-return-to",
        detail,
    };
    if raw.len() > MAX_RETURN_TO {
        return Err(invalid(format!(
            "`return_to` must be at most {MAX_RETURN_TO} bytes"
        )));
    }
    let url =
        url::Url::parse(raw).map_err(|_| invalid("`return_to` must be an absolute URL".into()))?;
    let origin = url.origin().ascii_serialization();
    let allowed = std::iter::once(app.config.public_url())
        .chain(app.config.cors_origins.iter().cloned())
        .filter_map(|o| url::Url::parse(&o).ok())
        .any(|o| o.origin().ascii_serialization() == origin);
    if !matches!(url.scheme(), "http" | "https") || !allowed {
        return Err(invalid(format!(
            "`return_to` must be on this server or a configured frontend origin (PLUGBOARD_CORS_ORIGINS), not {origin}"
        )));
    }
    Ok(())
}

fn check_scopes(scopes: &[String]) -> Result<(), AccountError> {
    let bad = scopes.len() > MAX_SCOPES
        || scopes.iter().any(|s| {
            s.is_empty()
                || s.len() > MAX_SCOPE_LEN
                || s.chars().any(|c| c.is_whitespace() || c.is_control())
        });
    if bad {
        return Err(AccountError::Invalid {
            kind: "invalid-scopes",
            detail: format!(
                "`scopes` takes at most {MAX_SCOPES} scopes of 1–{MAX_SCOPE_LEN} characters without spaces"
            ),
        });
    }
    Ok(())
}

/// Starts an OAuth connection: makes the state and PKCE verifier, asks the plugin for the
/// authorization URL and remembers the state.
pub async fn start(
    app: &App,
    workspace_id: &str,
    user_id: &str,
    plugin: &str,
    req: StartRequest,
) -> Result<Started, AccountError> {
    platform_plugin(app, plugin)?;
    check_scopes(&req.scopes)?;
    if let Some(r) = &req.return_to {
        check_return_to(app, r)?;
    }
    match describe(app, plugin).await?.auth {
        AuthKind::Oauth2(_) | AuthKind::Oauth1 => {}
        AuthKind::Credentials(_) => {
            return Err(AccountError::Invalid {
                kind: "wrong-auth-kind",
                detail: format!(
                    "`{plugin}` connects with credentials, not OAuth: POST …/accounts/connect/{plugin}/credentials"
                ),
            });
        }
        AuthKind::None => {
            return Err(AccountError::Invalid {
                kind: "wrong-auth-kind",
                detail: format!("`{plugin}` needs no account connection"),
            });
        }
    }
    let chosen = choose(app, workspace_id, plugin, req.app_id.as_deref()).await?;
    let settings = match &chosen {
        Some(row) => settings_of(app, row)?,
        None => SecretMap::default(),
    };
    let redirect_uri = redirect_uri(app, &settings);
    let state = new_token("");
    let verifier = new_token("");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let auth = app
        .runtime
        .platform(plugin, "authorize", secrets_ctx(&settings))
        .await?
        .authorize(AuthorizeRequest {
            state: state.clone(),
            code_challenge: challenge,
            redirect_uri: redirect_uri.clone(),
            scopes: req.scopes,
        })
        .await?
        .map_err(|e| plugin_err(plugin, e))?;
    let url_ok = url::Url::parse(&auth.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !url_ok {
        return Err(plugin_err(
            plugin,
            PluginError::Permanent(
                "the plugin returned an authorization URL that is not http(s)".into(),
            ),
        ));
    }
    let now = Utc::now();
    let expires_at = now + Duration::minutes(STATE_TTL_MINUTES);
    store::insert_state(
        &app.db,
        &OAuthState {
            state_hash: token_hash(&state),
            workspace_id: workspace_id.to_string(),
            user_id: user_id.to_string(),
            plugin_id: plugin.to_string(),
            app_id: chosen.map(|a| a.id),
            code_verifier: app.cipher.seal(verifier.as_bytes())?,
            stash: app.cipher.seal_json(&auth.stash)?,
            redirect_uri,
            return_to: req.return_to,
            expires_at,
            used_at: None,
            created_at: now,
        },
    )
    .await?;
    Ok(Started {
        authorize_url: auth.url,
        expires_at,
    })
}

/// Finishes an OAuth connection from the browser's callback (all its query parameters).
pub async fn finish(app: &App, params: Vec<(String, String)>) -> Result<Finished, CallbackFailure> {
    let bare = |error: AccountError| CallbackFailure {
        error,
        return_to: None,
    };
    let state = params
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            bare(AccountError::State(
                "the callback has no `state` parameter".into(),
            ))
        })?;
    let taken = store::take_state(&app.db, &token_hash(&state))
        .await
        .map_err(|e| bare(e.into()))?;
    let s = match taken {
        Taken::Fresh(s) => s,
        Taken::Unknown => {
            return Err(bare(AccountError::State(
                "unknown `state`: start the connection again".into(),
            )));
        }
        Taken::Used(s) => {
            return Err(CallbackFailure {
                error: AccountError::State(
                    "this authorization was already used: start the connection again".into(),
                ),
                return_to: s.return_to,
            });
        }
        Taken::Expired(s) => {
            return Err(CallbackFailure {
                error: AccountError::State(format!(
                    "this authorization expired (they last {STATE_TTL_MINUTES} minutes): start the connection again"
                )),
                return_to: s.return_to,
            });
        }
    };
    let return_to = s.return_to.clone();
    match exchange(app, &s, params).await {
        Ok(accounts) => Ok(Finished {
            accounts,
            return_to,
        }),
        Err(error) => Err(CallbackFailure { error, return_to }),
    }
}

async fn exchange(
    app: &App,
    s: &OAuthState,
    params: Vec<(String, String)>,
) -> Result<Vec<AccountRow>, AccountError> {
    let settings = match &s.app_id {
        Some(id) => match crate::store::apps::get_any(&app.db, id).await? {
            Some(row) => settings_of(app, &row)?,
            None => {
                return Err(AccountError::State(
                    "the app of this authorization was deleted".into(),
                ));
            }
        },
        None => SecretMap::default(),
    };
    let verifier = String::from_utf8(app.cipher.open(&s.code_verifier)?)
        .map_err(|_| anyhow::anyhow!("stored PKCE verifier is not text"))?;
    let stash: Vec<(String, String)> = app.cipher.open_json(&s.stash)?;
    let conn = app
        .runtime
        .platform(&s.plugin_id, "exchange-code", secrets_ctx(&settings))
        .await?
        .exchange_code(CodeExchange {
            params,
            code_verifier: verifier,
            redirect_uri: s.redirect_uri.clone(),
            stash,
        })
        .await?
        .map_err(|e| plugin_err(&s.plugin_id, e))?;
    store_connection(
        app,
        &s.workspace_id,
        &s.user_id,
        &s.plugin_id,
        s.app_id.as_deref(),
        conn,
    )
    .await
}

/// Connects a plugin whose auth kind is `credentials` with the named fields it describes.
pub async fn connect_with(
    app: &App,
    workspace_id: &str,
    user_id: &str,
    plugin: &str,
    app_id: Option<&str>,
    fields: BTreeMap<String, String>,
) -> Result<Vec<AccountRow>, AccountError> {
    platform_plugin(app, plugin)?;
    let AuthKind::Credentials(names) = describe(app, plugin).await?.auth else {
        return Err(AccountError::Invalid {
            kind: "wrong-auth-kind",
            detail: format!(
                "`{plugin}` does not connect with credentials; start an OAuth connection with POST …/accounts/connect/{plugin}"
            ),
        });
    };
    let expected: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let unknown: Vec<&str> = fields
        .keys()
        .map(String::as_str)
        .filter(|k| !expected.contains(k))
        .collect();
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|k| fields.get(*k).is_none_or(|v| v.is_empty()))
        .collect();
    if !unknown.is_empty() || !missing.is_empty() {
        return Err(AccountError::Invalid {
            kind: "invalid-fields",
            detail: format!(
                "`{plugin}` takes the fields {}; unknown: [{}], missing: [{}]",
                names.join(", "),
                unknown.join(", "),
                missing.join(", ")
            ),
        });
    }
    if fields.values().any(|v| v.len() > MAX_FIELD_VALUE) {
        return Err(AccountError::Invalid {
            kind: "invalid-fields",
            detail: format!("field values must be at most {MAX_FIELD_VALUE} bytes"),
        });
    }
    let chosen = choose(app, workspace_id, plugin, app_id).await?;
    let settings = match &chosen {
        Some(row) => settings_of(app, row)?,
        None => SecretMap::default(),
    };
    let conn = app
        .runtime
        .platform(plugin, "connect-with", secrets_ctx(&settings))
        .await?
        .connect_with(fields.into_iter().collect())
        .await?
        .map_err(|e| plugin_err(plugin, e))?;
    store_connection(
        app,
        workspace_id,
        user_id,
        plugin,
        chosen.as_ref().map(|a| a.id.as_str()),
        conn,
    )
    .await
}

fn check_profile(plugin: &str, p: &AccountProfile) -> Result<(), AccountError> {
    let too_long = [
        Some(&p.remote_id),
        Some(&p.display_name),
        p.username.as_ref(),
        p.avatar_url.as_ref(),
        Some(&p.kind),
    ]
    .into_iter()
    .flatten()
    .any(|t| t.len() > MAX_PROFILE_TEXT);
    if p.remote_id.is_empty() || p.kind.is_empty() || too_long {
        return Err(plugin_err(
            plugin,
            PluginError::Permanent(format!(
                "the plugin returned an account without a remote id or kind, or with a field over {MAX_PROFILE_TEXT} bytes"
            )),
        ));
    }
    Ok(())
}

/// Stores what a connection brought, in one transaction: the user account active, the
/// sub-accounts waiting for selection. Accounts already in the workspace are reconnected:
/// credentials merged, health reset.
async fn store_connection(
    app: &App,
    workspace_id: &str,
    user_id: &str,
    plugin: &str,
    app_id: Option<&str>,
    conn: Connection,
) -> Result<Vec<AccountRow>, AccountError> {
    let Some((first, rest)) = conn.accounts.split_first() else {
        return Err(plugin_err(
            plugin,
            PluginError::Permanent("the plugin connected no account".into()),
        ));
    };
    for p in &conn.accounts {
        check_profile(plugin, p)?;
    }
    let mut tx = app.db.write_tx(&format!("accounts:{workspace_id}")).await?;
    // Membership is checked again here: the callback carries no bearer, and the user may
    // have lost the role since the authorization started.
    let role = members::role_in(&app.db, &mut tx, workspace_id, user_id).await?;
    if role.is_none_or(|r| r < Role::Editor) {
        return Err(AccountError::Forbidden(
            "you are no longer an editor of this workspace".into(),
        ));
    }
    let target = Target {
        workspace_id,
        user_id,
        plugin,
        app_id,
    };
    let mut stored = Vec::new();
    let (primary, existed) = upsert(
        app,
        &mut tx,
        &target,
        None,
        first,
        Some(&conn.credentials),
        true,
    )
    .await?;
    activity::record_in(
        &app.db,
        &mut tx,
        Entry {
            workspace_id,
            actor_id: Some(user_id),
            action: if existed { "account.reconnected" } else { "account.connected" },
            subject_type: "account",
            subject_id: Some(&primary.id),
            details: json!({"plugin": plugin, "remote_id": primary.remote_id, "display_name": primary.display_name}),
        },
    )
    .await?;
    let parent_id = primary.id.clone();
    stored.push(primary);
    for sub in rest {
        let (row, _) = upsert(
            app,
            &mut tx,
            &target,
            Some(&parent_id),
            sub,
            sub.credentials.as_ref(),
            false,
        )
        .await?;
        stored.push(row);
    }
    tx.commit().await?;
    Ok(stored)
}

struct Target<'a> {
    workspace_id: &'a str,
    user_id: &'a str,
    plugin: &'a str,
    app_id: Option<&'a str>,
}

/// Inserts or reconnects one account. `activate`: the account becomes active; otherwise an
/// account not already active waits for selection.
async fn upsert(
    app: &App,
    tx: &mut crate::store::Tx,
    t: &Target<'_>,
    parent: Option<&str>,
    profile: &AccountProfile,
    creds: Option<&Credentials>,
    activate: bool,
) -> Result<(AccountRow, bool), AccountError> {
    let now = Utc::now();
    let existing =
        store::find_remote(&app.db, tx, t.workspace_id, t.plugin, &profile.remote_id).await?;
    let existed = existing.is_some();
    let mut row = existing.unwrap_or_else(|| AccountRow {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: t.workspace_id.to_string(),
        plugin_id: t.plugin.to_string(),
        app_id: None,
        remote_id: profile.remote_id.clone(),
        parent_account_id: None,
        kind: String::new(),
        display_name: String::new(),
        username: None,
        avatar_url: None,
        properties: "{}".into(),
        credentials: None,
        expires_at: None,
        last_refresh_at: None,
        last_error: None,
        needs_reconnect: false,
        status: PENDING_SELECTION.into(),
        connected_by: None,
        created_at: now,
        updated_at: now,
    });
    if let Some(c) = creds {
        let old: SecretMap = match &row.credentials {
            Some(sealed) => app.cipher.open_json(sealed)?,
            None => SecretMap::default(),
        };
        row.credentials = Some(app.cipher.seal_json(&merge_credentials(&old, &c.values))?);
        row.expires_at = c.expires_at.and_then(from_unix);
    }
    let mut properties: BTreeMap<String, String> =
        serde_json::from_str(&row.properties).unwrap_or_default();
    properties.extend(profile.properties.iter().cloned());
    row.properties = serde_json::to_string(&properties).map_err(anyhow::Error::from)?;
    row.app_id = t.app_id.map(String::from);
    row.parent_account_id = parent.map(String::from);
    row.kind = profile.kind.clone();
    row.display_name = profile.display_name.clone();
    row.username = profile.username.clone();
    row.avatar_url = profile.avatar_url.clone();
    row.needs_reconnect = false;
    row.last_error = None;
    if activate || row.status == ACTIVE {
        row.status = ACTIVE.into();
    } else {
        row.status = PENDING_SELECTION.into();
    }
    row.connected_by = Some(t.user_id.to_string());
    row.updated_at = now;
    if existed {
        store::update(&app.db, tx, &row).await?;
    } else {
        store::insert(&app.db, tx, &row).await?;
    }
    Ok((row, existed))
}

/// Activates the chosen sub-accounts a connection offered and forgets the others.
pub async fn select(
    app: &App,
    workspace_id: &str,
    user_id: &str,
    account_id: &str,
    remote_ids: &[String],
) -> Result<Vec<AccountRow>, AccountError> {
    let mut tx = app.db.write_tx(&format!("accounts:{workspace_id}")).await?;
    let parent = store::get_in(&app.db, &mut tx, account_id)
        .await?
        .filter(|a| a.workspace_id == workspace_id)
        .ok_or_else(|| AccountError::NotFound(format!("account `{account_id}` not found")))?;
    let pending: Vec<AccountRow> = store::children(&app.db, &mut tx, &parent.id)
        .await?
        .into_iter()
        .filter(|c| c.status == PENDING_SELECTION)
        .collect();
    let offered: BTreeSet<&str> = pending.iter().map(|c| c.remote_id.as_str()).collect();
    let unknown: Vec<&str> = remote_ids
        .iter()
        .map(String::as_str)
        .filter(|r| !offered.contains(r))
        .collect();
    if !unknown.is_empty() {
        return Err(AccountError::Invalid {
            kind: "unknown-sub-account",
            detail: format!(
                "not offered for selection by this account: {}; offered: [{}]",
                unknown.join(", "),
                offered.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let chosen: BTreeSet<&str> = remote_ids.iter().map(String::as_str).collect();
    let now = Utc::now();
    let mut activated = Vec::new();
    for mut child in pending {
        if !chosen.contains(child.remote_id.as_str()) {
            store::delete(&app.db, &mut tx, &child.id).await?;
            continue;
        }
        child.status = ACTIVE.into();
        child.updated_at = now;
        store::update(&app.db, &mut tx, &child).await?;
        activity::record_in(
            &app.db,
            &mut tx,
            Entry {
                workspace_id,
                actor_id: Some(user_id),
                action: "account.connected",
                subject_type: "account",
                subject_id: Some(&child.id),
                details: json!({"plugin": child.plugin_id, "remote_id": child.remote_id, "display_name": child.display_name, "parent_account_id": parent.id}),
            },
        )
        .await?;
        activated.push(child);
    }
    tx.commit().await?;
    Ok(activated)
}
