//! The Graph API as this plugin speaks it: which login the app uses and the hosts that
//! follow from it (each overridable by an app setting so tests reach a simulator), token +
//! `appsecret_proof` on every call, and Graph's error envelope mapped onto the contract's
//! error variants.

use plugboard_sdk::http::{self, Response};
use plugboard_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use metagraph::graph::regain_secs;
pub use metagraph::graph::{graph_error, iso_to_unix, now, url};

/// Which login the app was registered for (app setting `login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Instagram Login: graph.instagram.com, `instagram_business_*` scopes.
    Instagram,
    /// Facebook Login: graph.facebook.com, an Instagram account linked to a Page.
    Facebook,
}

impl Login {
    pub fn current() -> Result<Login, PluginError> {
        match secrets::app("login")?.as_deref() {
            None | Some("" | "instagram") => Ok(Login::Instagram),
            Some("facebook") => Ok(Login::Facebook),
            Some(other) => Err(PluginError::Permanent(format!(
                "the app setting login is '{other}'; use 'instagram' or 'facebook'"
            ))),
        }
    }
}

fn setting_or(name: &str, fallback: Option<String>, real: &str) -> Result<String, PluginError> {
    let url = secrets::app(name)?
        .or(fallback)
        .unwrap_or_else(|| real.to_string());
    Ok(url.trim_end_matches('/').to_string())
}

/// `graph_url` setting, else graph.instagram.com or graph.facebook.com.
pub fn graph_base(login: Login) -> Result<String, PluginError> {
    let real = match login {
        Login::Instagram => "https://graph.instagram.com",
        Login::Facebook => "https://graph.facebook.com",
    };
    setting_or("graph_url", None, real)
}

/// `api_url` setting (Instagram's code exchange), else the `graph_url` override, else
/// api.instagram.com.
pub fn api_base() -> Result<String, PluginError> {
    setting_or(
        "api_url",
        secrets::app("graph_url")?,
        "https://api.instagram.com",
    )
}

/// `www_url` setting (the login page), else the `graph_url` override, else the real host.
pub fn www_base(login: Login) -> Result<String, PluginError> {
    let real = match login {
        Login::Instagram => "https://www.instagram.com",
        Login::Facebook => "https://www.facebook.com",
    };
    setting_or("www_url", secrets::app("graph_url")?, real)
}

/// A token with its proof.
pub struct Auth {
    pub token: String,
    proof: String,
}

impl Auth {
    pub fn new(token: String) -> Result<Auth, PluginError> {
        let secret = secrets::app_required("client_secret")?;
        let proof = metagraph::graph::appsecret_proof(&secret, &token);
        Ok(Auth { token, proof })
    }

    pub fn account() -> Result<Auth, PluginError> {
        Auth::new(secrets::account_required("access_token")?)
    }

    fn params<'a>(&'a self, extra: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all: Vec<(&str, &str)> = extra.to_vec();
        all.push(("access_token", &self.token));
        all.push(("appsecret_proof", &self.proof));
        all
    }

    pub fn get(&self, url: &str, query: &[(&str, &str)]) -> Result<Value, PluginError> {
        check(http::get(url).query(&self.params(query)).send()?)?.json()
    }

    pub fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<Value, PluginError> {
        check(self.post_response(url, form)?)?.json()
    }

    /// The answer unchecked, for callers that act on particular errors.
    pub fn post_response(&self, url: &str, form: &[(&str, &str)]) -> Result<Response, PluginError> {
        http::post(url).form(&self.params(form)).send()
    }
}

/// api.instagram.com's own envelope.
#[derive(Deserialize)]
struct ApiEnvelope {
    error_message: String,
}

/// Passes 2xx through; maps Graph's (or api.instagram.com's) error envelope otherwise.
pub fn check(resp: Response) -> Result<Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let Some(error) = graph_error(&resp) else {
        if let Ok(api) = serde_json::from_slice::<ApiEnvelope>(&resp.body) {
            return Err(PluginError::Permanent(format!(
                "Instagram refused the login: {}",
                api.error_message
            )));
        }
        return Err(http::status_error(
            &resp,
            &format!("Instagram answered HTTP {}", resp.status),
        ));
    };
    let text = error.text();
    Err(match (error.code, error.error_subcode) {
        (190 | 102, _) => {
            PluginError::AuthExpired(format!("Instagram no longer accepts the token: {text}"))
        }
        (9, Some(2_207_042)) => PluginError::RateLimited(RateLimit {
            retry_after_secs: 3600,
            message: format!("Instagram's 24-hour publishing quota is used up: {text}"),
        }),
        (4 | 17 | 32 | 613 | 80_002, _) => PluginError::RateLimited(RateLimit {
            retry_after_secs: regain_secs(&resp).unwrap_or(if error.code == 4 {
                3600
            } else {
                600
            }),
            message: format!("Instagram throttled the calls: {text}"),
        }),
        (9007, Some(2_207_027)) => {
            PluginError::Transient(format!("Instagram is still processing the media: {text}"))
        }
        (10 | 200..=299, _) => PluginError::Permanent(format!(
            "Instagram refused for a missing permission: {text}; reconnect and grant it"
        )),
        (100 | 9004 | 9007 | 36_000..=36_999 | 2_207_026, _) => invalid(
            "",
            "rejected-by-platform",
            format!("Instagram rejected the post: {text}"),
        ),
        (1 | 2, _) => PluginError::Transient(format!("Instagram had a temporary problem: {text}")),
        _ if resp.status >= 500 => PluginError::Transient(format!("Instagram: {text}")),
        _ => PluginError::Permanent(format!("Instagram: {text}")),
    })
}

/// A string (or numeric) field of a Graph answer, or a transient error naming it.
pub fn field(v: &Value, name: &str) -> Result<String, PluginError> {
    metagraph::graph::field(v, name, "Instagram")
}
