//! LinkedIn: text, image, multi-image (2–20) and video posts, as the member or as an
//! organization the member administers (offered as sub-accounts).
//!
//! Every `/rest/` call carries the pinned `Linkedin-Version` and Rest.li 2.0 headers
//! (`api.rs`). Commentary is escaped into LinkedIn's little text format, so the creator's
//! parentheses, hashes and at-signs show literally. Videos go up in the ranged parts
//! LinkedIn's `initializeUpload` prescribes, straight from the host's media store; the
//! progress (ETags so far) is kept in plugin storage per post target, so an interrupted
//! upload continues with the missing parts only, in the same call or the next attempt.
//! A finalized video makes `publish` answer *pending* until LinkedIn reports it
//! AVAILABLE; `check_status` then creates the post.

mod api;
mod limits;
mod text;
mod video;

use api::Session;
use plugboard_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

struct Linkedin;

impl Platform for Linkedin {
    fn describe() -> PlatformInfo {
        limits::describe()
    }

    fn validate(post: Post) -> Vec<Problem> {
        let mut problems = describe::check(&limits::describe(), &post);
        problems.extend(limits::check(&post));
        problems
    }

    fn authorize(req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        let client_id = secrets::app_required("client_id")?;
        let scopes = if req.scopes.is_empty() {
            default_scopes()?
        } else {
            req.scopes.clone()
        };
        let query = [
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", req.redirect_uri.as_str()),
            ("state", req.state.as_str()),
            ("scope", &scopes.join(" ")),
        ];
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", oauth::percent_encode(v)))
            .collect();
        Ok(Authorization {
            url: format!(
                "{}/oauth/v2/authorization?{}",
                api::oauth_url()?,
                qs.join("&")
            ),
            stash: vec![],
        })
    }

    fn exchange_code(req: CodeExchange) -> Result<Connection, PluginError> {
        let param = |name: &str| {
            req.params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let Some(code) = param("code") else {
            let why = param("error_description")
                .or(param("error"))
                .unwrap_or_else(|| "no authorization code".into());
            return Err(PluginError::Permanent(format!(
                "LinkedIn refused the authorization: {why}"
            )));
        };
        let token: api::Token = oauth_check(
            http::post(&format!("{}/oauth/v2/accessToken", api::oauth_url()?))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", req.redirect_uri.as_str()),
                    ("client_id", secrets::app_required("client_id")?.as_str()),
                    (
                        "client_secret",
                        secrets::app_required("client_secret")?.as_str(),
                    ),
                ])
                .send()?,
            false,
        )?
        .json()?;
        let session = Session::with_token(&token.access_token)?;
        let scopes: Vec<String> = token
            .scope
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        #[derive(Deserialize)]
        struct UserInfo {
            sub: String,
            name: Option<String>,
            picture: Option<String>,
        }
        let me: UserInfo = api::check(
            http::get(&format!("{}/v2/userinfo", session.api))
                .bearer(&session.token)
                .send()?,
        )?
        .json()?;
        let mut accounts = vec![AccountProfile {
            remote_id: me.sub.clone(),
            display_name: me.name.clone().unwrap_or_else(|| me.sub.clone()),
            username: None,
            avatar_url: me.picture,
            kind: "user".into(),
            properties: vec![
                pair("author_urn", format!("urn:li:person:{}", me.sub)),
                pair("scopes", scopes.join(" ")),
            ],
            credentials: None,
        }];
        if scopes
            .iter()
            .any(|s| s == "r_organization_admin" || s == "rw_organization_admin")
        {
            accounts.extend(organizations(&session, &scopes)?);
        }
        Ok(Connection {
            credentials: token.credentials(),
            accounts,
        })
    }

    fn refresh() -> Result<Credentials, PluginError> {
        let Some(refresh_token) = secrets::account("refresh_token")? else {
            return Err(PluginError::AuthExpired(
                "LinkedIn gave this connection no refresh token (programmatic refresh is for approved partner apps); reconnect the account".into(),
            ));
        };
        let token: api::Token = oauth_check(
            http::post(&format!("{}/oauth/v2/accessToken", api::oauth_url()?))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.as_str()),
                    ("client_id", secrets::app_required("client_id")?.as_str()),
                    (
                        "client_secret",
                        secrets::app_required("client_secret")?.as_str(),
                    ),
                ])
                .send()?,
            true,
        )?
        .json()?;
        Ok(token.credentials())
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let problems = Self::validate(post.clone());
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        let session = Session::current()?;
        let author = secrets::account_required("author_urn")?;
        let mut body = post_body(&post, &author);
        match post.kind.as_str() {
            "image" => {
                let m = &post.media[0];
                body["content"] =
                    json!({"media": media_entry(&upload_image(&session, &author, m)?, m)});
            }
            "multi-image" => {
                let mut images = Vec::new();
                for m in &post.media {
                    images.push(media_entry(&upload_image(&session, &author, m)?, m));
                }
                body["content"] = json!({"multiImage": {"images": images}});
            }
            "video" => {
                let m = &post.media[0];
                let urn = video::upload(&session, &author, &post.target_id, m)?;
                let mut media = json!({"id": urn});
                if let Some(title) = option(&post, "title") {
                    media["title"] = title.into();
                }
                body["content"] = json!({"media": media});
                return Ok(PublishOutcome::Pending(PendingPost {
                    handle: serde_json::to_string(&PendingVideo {
                        target_id: post.target_id,
                        video: urn,
                        body,
                    })
                    .map_err(|e| PluginError::Permanent(e.to_string()))?,
                    poll_after_secs: 3,
                    message: "LinkedIn is processing the video".into(),
                }));
            }
            _ => {}
        }
        create_post(&session, &post.target_id, &body, post.attempt > 1)
    }

    fn check_status(handle: String) -> Result<PublishOutcome, PluginError> {
        let pending: PendingVideo = serde_json::from_str(&handle)
            .map_err(|e| PluginError::Permanent(format!("unreadable pending handle: {e}")))?;
        let session = Session::current()?;
        match video::status(&session, &pending.video)?.as_str() {
            "AVAILABLE" => create_post(&session, &pending.target_id, &pending.body, true),
            "PROCESSING_FAILED" => Err(PluginError::Permanent(
                "LinkedIn could not process the video (PROCESSING_FAILED); check that it is a valid MP4".into(),
            )),
            other => Ok(PublishOutcome::Pending(PendingPost {
                handle,
                poll_after_secs: 3,
                message: format!("LinkedIn is processing the video ({other})"),
            })),
        }
    }

    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        // The create request is marked in storage just before it is sent: without the
        // mark, the interruption came earlier (an upload) and nothing can have been posted.
        if storage::get_string(&sent_key(&post.target_id))?.is_none() {
            return Ok(ReconcileOutcome::NotPublished);
        }
        let author = secrets::account_required("author_urn")?;
        let needed = if author.starts_with("urn:li:organization:") {
            "r_organization_social"
        } else {
            "r_member_social"
        };
        let scopes = secrets::account("scopes")?.unwrap_or_default();
        if !scopes.split(' ').any(|s| s == needed) {
            return Ok(ReconcileOutcome::Unknown(format!(
                "reading this author's posts on LinkedIn takes the {needed} permission, which this connection lacks; check the feed and resolve the post by hand"
            )));
        }
        let session = Session::current()?;
        #[derive(Deserialize)]
        struct Page {
            elements: Vec<Element>,
        }
        #[derive(Deserialize)]
        struct Element {
            id: String,
            #[serde(default)]
            commentary: String,
        }
        let page: Page = api::check(session.get(&format!(
            "/rest/posts?q=author&author={}&count=50&sortBy=LAST_MODIFIED",
            api::encode_urn(&author)
        ))?)?
        .json()?;
        let wanted = text::escape(&post.text);
        Ok(
            match page.elements.into_iter().find(|e| e.commentary == wanted) {
                Some(e) => ReconcileOutcome::Published(PublishedPost {
                    url: Some(post_url(&e.id)),
                    remote_id: e.id,
                    thread_ids: Vec::new(),
                }),
                None => ReconcileOutcome::NotPublished,
            },
        )
    }

    fn delete(remote_id: String) -> Result<(), PluginError> {
        let session = Session::current()?;
        api::check(
            session
                .rest(http::delete(&format!(
                    "{}/rest/posts/{}",
                    session.api,
                    api::encode_urn(&remote_id)
                )))
                .send()?,
        )?;
        Ok(())
    }
}

/// A video post waiting for LinkedIn's processing: the handle `check_status` gets back.
#[derive(Serialize, Deserialize)]
struct PendingVideo {
    target_id: String,
    video: String,
    body: Value,
}

fn default_scopes() -> Result<Vec<String>, PluginError> {
    let mut scopes: Vec<String> = limits::MEMBER_SCOPES
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Organization scopes need LinkedIn's Community Management product; asking for them
    // without it fails the whole authorization, so they are opt-in per app.
    if secrets::app("organizations")?.as_deref() == Some("true") {
        scopes.extend(limits::ORGANIZATION_SCOPES.iter().map(|s| s.to_string()));
    }
    Ok(scopes)
}

/// OAuth answers: a refused refresh means reconnecting; a refused exchange is final.
fn oauth_check(resp: http::Response, refreshing: bool) -> Result<http::Response, PluginError> {
    if resp.is_success() {
        return Ok(resp);
    }
    let api::Refusal { code, message } = api::refusal(&resp);
    Err(match resp.status {
        400 | 401 if refreshing => PluginError::AuthExpired(format!(
            "LinkedIn refused the refresh ({code}: {message}); reconnect the account"
        )),
        400 | 401 => PluginError::Permanent(format!(
            "LinkedIn refused the token request ({code}: {message})"
        )),
        _ => http::status_error(&resp, &format!("LinkedIn: {message}")),
    })
}

/// The organizations the member administers, as sub-accounts acting with the member's token.
fn organizations(session: &Session, scopes: &[String]) -> Result<Vec<AccountProfile>, PluginError> {
    #[derive(Deserialize)]
    struct Acls {
        elements: Vec<Acl>,
    }
    #[derive(Deserialize)]
    struct Acl {
        organization: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Organization {
        localized_name: String,
        vanity_name: Option<String>,
    }
    let acls: Acls = api::check(
        session.get("/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED")?,
    )?
    .json()?;
    let mut out = Vec::new();
    for acl in acls.elements {
        let Some(id) = acl.organization.strip_prefix("urn:li:organization:") else {
            continue;
        };
        let org: Organization =
            api::check(session.get(&format!("/rest/organizations/{id}"))?)?.json()?;
        out.push(AccountProfile {
            remote_id: format!("organization:{id}"),
            display_name: org.localized_name,
            username: org.vanity_name,
            avatar_url: None,
            kind: "organization".into(),
            properties: vec![
                pair("author_urn", acl.organization.clone()),
                pair("scopes", scopes.join(" ")),
            ],
            credentials: None,
        });
    }
    Ok(out)
}

fn option<'a>(post: &'a Post, name: &str) -> Option<&'a str> {
    post.options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn post_body(post: &Post, author: &str) -> Value {
    json!({
        "author": author,
        "commentary": text::escape(&post.text),
        "visibility": option(post, "visibility").unwrap_or("PUBLIC"),
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": option(post, "disable_reshare") == Some("true"),
    })
}

fn media_entry(urn: &str, m: &MediaRef) -> Value {
    let mut entry = json!({"id": urn});
    if let Some(alt) = &m.alt_text {
        entry["altText"] = alt.clone().into();
    }
    entry
}

fn upload_image(session: &Session, author: &str, m: &MediaRef) -> Result<String, PluginError> {
    #[derive(Deserialize)]
    struct Init {
        value: InitValue,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct InitValue {
        upload_url: String,
        image: String,
    }
    let init: Init = api::check(session.post_json(
        "/rest/images?action=initializeUpload",
        &json!({"initializeUploadRequest": {"owner": author}}),
    )?)?
    .json()?;
    api::check(
        http::put(&init.value.upload_url)
            .bearer(&session.token)
            .header("Content-Type", &m.mime_type)
            .media_body(&m.handle, 0, None)
            .send()?,
    )?;
    Ok(init.value.image)
}

fn sent_key(target_id: &str) -> String {
    format!("sent:{target_id}")
}

fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

/// `POST /rest/posts`. A repeated attempt that LinkedIn calls a duplicate is the post the
/// earlier attempt created.
fn create_post(
    session: &Session,
    target_id: &str,
    body: &Value,
    repeated: bool,
) -> Result<PublishOutcome, PluginError> {
    storage::set_string(&sent_key(target_id), &api::now().to_string())?;
    let resp = session.post_json("/rest/posts", body)?;
    if resp.status == 422 && repeated {
        let refusal = api::refusal(&resp);
        if refusal.code == "DUPLICATE_POST"
            && let Some(urn) = refusal
                .message
                .split_whitespace()
                .find(|w| w.starts_with("urn:li:"))
        {
            return Ok(published(urn, Some(post_url(urn))));
        }
    }
    let resp = api::check(resp)?;
    let urn = resp
        .header("x-restli-id")
        .map(str::to_string)
        .ok_or_else(|| {
            PluginError::Transient(
                "LinkedIn created the post but named no URN (x-restli-id)".into(),
            )
        })?;
    // The outcome is known now; the mark only matters for an interrupted create.
    storage::delete(&sent_key(target_id)).map_err(storage::to_plugin_error)?;
    Ok(published(&urn, Some(post_url(&urn))))
}

plugboard_sdk::export_platform!(
    Linkedin,
    manifest = r#"
name = "LinkedIn"
description = "Publish text, image, multi-image and video posts to LinkedIn members and organization pages."
hosts = ["https://api.linkedin.com", "https://www.linkedin.com", "https://*.linkedin.com", "http://127.0.0.1:*"]
secrets = ["client_id", "client_secret", "organizations", "api_url", "oauth_url", "linkedin_version"]
storage-quota = 1048576
"#
);
