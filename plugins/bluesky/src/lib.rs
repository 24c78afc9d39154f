//! Bluesky: text and image posts and reply chains, with facets (links,
//! mentions resolved to DIDs, tags) on UTF-8 byte offsets, over an
//! app-password session whose refresh JWT rotates.
//!
//! Each item of a chain gets its record key (a TID) chosen and saved in plugin
//! storage under the target id *before* it is created, and its strong ref
//! saved once it is. An interrupted publish therefore resumes at the item it
//! stopped at: items with a ref are skipped, an item with only a key is looked
//! up (`getRecord`) before it is created, and the PDS refuses a second record
//! under the same key — no item is ever posted twice.

mod api;
mod facets;
mod rules;

use api::Session;
use plugboard_sdk::http;
use plugboard_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

struct Bluesky;

const COLLECTION: &str = "app.bsky.feed.post";

impl Platform for Bluesky {
    fn describe() -> PlatformInfo {
        rules::describe()
    }

    fn validate(post: Post) -> Vec<Problem> {
        rules::validate(&post)
    }

    fn connect_with(fields: Vec<(String, String)>) -> Result<Connection, PluginError> {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().trim_start_matches('@').to_string())
                .ok_or_else(|| PluginError::Permanent(format!("the '{name}' field is required")))
        };
        let (handle, password) = (field("handle")?, field("app_password")?);
        let entryway = api::service_url()?;
        let session: api::SessionReply = api::check(
            http::post(&format!("{entryway}/xrpc/com.atproto.server.createSession"))
                .json(&json!({ "identifier": handle, "password": password }))
                .send()?,
        )?
        .json()?;
        let pds = session.pds(&entryway);
        Ok(Connection {
            credentials: session.credentials(),
            accounts: vec![AccountProfile {
                remote_id: session.did.clone(),
                display_name: session.handle.clone(),
                username: Some(session.handle.clone()),
                avatar_url: None,
                kind: "user".into(),
                properties: vec![
                    pair("did", session.did.clone()),
                    pair("handle", session.handle.clone()),
                    pair("pds_url", pds),
                ],
                credentials: None,
            }],
        })
    }

    fn refresh() -> Result<Credentials, PluginError> {
        let pds = secrets::account_required("pds_url")?;
        let refresh_jwt = secrets::account_required("refresh_jwt")?;
        let session: api::SessionReply = api::check(
            http::post(&format!("{pds}/xrpc/com.atproto.server.refreshSession"))
                .bearer(&refresh_jwt)
                .send()?,
        )?
        .json()?;
        Ok(session.credentials())
    }

    fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
        let problems = rules::validate(&post);
        if !problems.is_empty() {
            return Err(PluginError::InvalidContent(problems));
        }
        let session = Session::current()?;
        let langs: Option<Vec<String>> =
            post.options
                .iter()
                .find(|(k, _)| k == "langs")
                .map(|(_, v)| {
                    v.split(',')
                        .map(|l| l.trim().to_string())
                        .filter(|l| !l.is_empty())
                        .collect()
                });
        let items: Vec<(&str, &[MediaRef])> =
            std::iter::once((post.text.as_str(), post.media.as_slice()))
                .chain(
                    post.thread
                        .iter()
                        .map(|t| (t.text.as_str(), t.media.as_slice())),
                )
                .collect();
        let mut chain = Chain::load(&post.target_id)?.unwrap_or_default();
        chain.items.resize_with(items.len(), Default::default);
        for (i, (text, media)) in items.iter().enumerate() {
            if chain.items[i].cid.is_some() {
                continue;
            }
            if chain.items[i].rkey.is_some() && lookup(&session, &mut chain.items[i])? {
                chain.save(&post.target_id)?;
                continue;
            }
            let rkey = chain.items[i].rkey.get_or_insert_with(api::tid).clone();
            chain.save(&post.target_id)?;
            let mut record = json!({
                "$type": COLLECTION,
                "text": text,
                "createdAt": api::iso_now(),
            });
            let found = facets_of(&session, text)?;
            if !found.is_empty() {
                record["facets"] = Value::Array(found);
            }
            if let Some(langs) = &langs {
                record["langs"] = json!(langs);
            }
            if i > 0 {
                record["reply"] = json!({ "root": chain.items[0].strong_ref(), "parent": chain.items[i - 1].strong_ref() });
            }
            if !media.is_empty() {
                record["embed"] = images_embed(&session, media)?;
            }
            let created: Created = api::check(session.send(
                http::post(&session.xrpc("com.atproto.repo.createRecord"))
                    .json(&json!({ "repo": session.did, "collection": COLLECTION, "rkey": rkey, "record": record })),
            )?)?
            .json()?;
            chain.items[i].uri = Some(created.uri);
            chain.items[i].cid = Some(created.cid);
            chain.save(&post.target_id)?;
        }
        storage::delete(&Chain::key(&post.target_id)).map_err(storage::to_plugin_error)?;
        Ok(PublishOutcome::Published(outcome(&session, &chain)))
    }

    fn reconcile(post: Post) -> Result<ReconcileOutcome, PluginError> {
        let session = Session::current()?;
        let Some(mut chain) = Chain::load(&post.target_id)? else {
            // Nothing was started, or the chain finished and was forgotten: look
            // for the first item among the newest posts.
            return Ok(match find_by_text(&session, &post.text)? {
                Some(uri) => ReconcileOutcome::Published(PublishedPost {
                    url: web_url(&session, &uri),
                    remote_id: uri,
                    thread_ids: Vec::new(),
                }),
                None => ReconcileOutcome::NotPublished,
            });
        };
        for item in chain
            .items
            .iter_mut()
            .filter(|i| i.cid.is_none() && i.rkey.is_some())
        {
            lookup(&session, item)?;
        }
        chain.save(&post.target_id)?;
        let expected = 1 + post.thread.len();
        if chain.items.len() == expected && chain.items.iter().all(|i| i.cid.is_some()) {
            return Ok(ReconcileOutcome::Published(outcome(&session, &chain)));
        }
        // The items already out are saved: publishing again resumes after them.
        Ok(ReconcileOutcome::NotPublished)
    }
}

#[derive(Deserialize)]
struct Created {
    uri: String,
    cid: String,
}

/// What is known of each item of a chain being published.
#[derive(Serialize, Deserialize, Default)]
struct Chain {
    items: Vec<ChainItem>,
}

#[derive(Serialize, Deserialize, Default)]
struct ChainItem {
    rkey: Option<String>,
    uri: Option<String>,
    cid: Option<String>,
}

impl ChainItem {
    fn strong_ref(&self) -> Value {
        json!({ "uri": self.uri, "cid": self.cid })
    }
}

impl Chain {
    fn key(target_id: &str) -> String {
        format!("chain:{target_id}")
    }

    fn load(target_id: &str) -> Result<Option<Chain>, PluginError> {
        match storage::get_string(&Chain::key(target_id))? {
            Some(raw) => serde_json::from_str(&raw)
                .map(Some)
                .map_err(|e| PluginError::Permanent(format!("unreadable stored chain: {e}"))),
            None => Ok(None),
        }
    }

    fn save(&self, target_id: &str) -> Result<(), PluginError> {
        let raw = serde_json::to_string(self).map_err(|e| PluginError::Permanent(e.to_string()))?;
        storage::set_string(&Chain::key(target_id), &raw)
    }
}

/// Whether the item's record exists (filling in its ref).
fn lookup(session: &Session, item: &mut ChainItem) -> Result<bool, PluginError> {
    let Some(rkey) = item.rkey.clone() else {
        return Ok(false);
    };
    let resp = session.send(
        http::get(&session.xrpc("com.atproto.repo.getRecord")).query(&[
            ("repo", session.did.as_str()),
            ("collection", COLLECTION),
            ("rkey", rkey.as_str()),
        ]),
    )?;
    if resp.status == 400 && api::error_name(&resp).as_deref() == Some("RecordNotFound") {
        return Ok(false);
    }
    let found: Created = api::check(resp)?.json()?;
    item.uri = Some(found.uri);
    item.cid = Some(found.cid);
    Ok(true)
}

fn outcome(session: &Session, chain: &Chain) -> PublishedPost {
    let mut uris = chain.items.iter().filter_map(|i| i.uri.clone());
    let first = uris.next().unwrap_or_default();
    PublishedPost {
        url: web_url(session, &first),
        remote_id: first,
        thread_ids: uris.collect(),
    }
}

/// `https://bsky.app/profile/{handle}/post/{rkey}` for `at://did/collection/rkey`.
fn web_url(session: &Session, uri: &str) -> Option<String> {
    let rkey = uri.rsplit('/').next()?;
    let who = if session.handle.is_empty() {
        &session.did
    } else {
        &session.handle
    };
    Some(format!("https://bsky.app/profile/{who}/post/{rkey}"))
}

/// The facets of `text`; mentions of handles that do not resolve are left as text,
/// as the Bluesky app does.
fn facets_of(session: &Session, text: &str) -> Result<Vec<Value>, PluginError> {
    let mut out = Vec::new();
    for (start, end, found) in facets::find(text) {
        let feature = match found {
            facets::Found::Link(uri) => {
                json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri })
            }
            facets::Found::Tag(tag) => {
                json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag })
            }
            facets::Found::Mention(handle) => {
                let resp = session.send(
                    http::get(&session.xrpc("com.atproto.identity.resolveHandle"))
                        .query(&[("handle", handle.as_str())]),
                )?;
                if resp.status == 400 {
                    continue;
                }
                #[derive(Deserialize)]
                struct Resolved {
                    did: String,
                }
                let resolved: Resolved = api::check(resp)?.json()?;
                json!({ "$type": "app.bsky.richtext.facet#mention", "did": resolved.did })
            }
        };
        out.push(json!({ "index": { "byteStart": start, "byteEnd": end }, "features": [feature] }));
    }
    Ok(out)
}

/// Uploads each image (its bytes streamed by the host, never through the plugin)
/// and builds the images embed.
fn images_embed(session: &Session, media: &[MediaRef]) -> Result<Value, PluginError> {
    let mut images = Vec::new();
    for m in media {
        let uploaded: Value = api::check(
            session.send(
                http::post(&session.xrpc("com.atproto.repo.uploadBlob"))
                    .header("Content-Type", &m.mime_type)
                    .media_body(&m.handle, 0, None),
            )?,
        )?
        .json()?;
        let mut image =
            json!({ "alt": m.alt_text.clone().unwrap_or_default(), "image": uploaded["blob"] });
        if let (Some(w), Some(h)) = (m.width, m.height) {
            image["aspectRatio"] = json!({ "width": w, "height": h });
        }
        images.push(image);
    }
    Ok(json!({ "$type": "app.bsky.embed.images", "images": images }))
}

/// The newest posts of the account, searched for one with exactly this text.
fn find_by_text(session: &Session, text: &str) -> Result<Option<String>, PluginError> {
    let page: Value = api::check(session.send(
        http::get(&session.xrpc("com.atproto.repo.listRecords")).query(&[
            ("repo", session.did.as_str()),
            ("collection", COLLECTION),
            ("limit", "100"),
        ]),
    )?)?
    .json()?;
    Ok(page["records"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["value"]["text"] == text)
        .and_then(|r| r["uri"].as_str().map(str::to_owned)))
}

plugboard_sdk::export_platform!(
    Bluesky,
    manifest = r#"
name = "Bluesky"
description = "Publish text and image posts and reply chains to Bluesky with an app password."
hosts = ["https://bsky.social", "https://*.bsky.network", "https://*", "http://127.0.0.1:*"]
secrets = ["service_url"]
storage-quota = 1048576
"#
);
