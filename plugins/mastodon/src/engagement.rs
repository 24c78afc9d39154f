//! Metrics, replies to the account's statuses, and answering them.
//!
//! Mastodon has no listing of every reply an account received (notifications would need
//! the `read:notifications` scope and mix in follows and boosts), so comments are listed
//! per status from its thread context. The cursor is the newest reply id already handed
//! out: ids are snowflakes, so "newer" is "numerically greater".

use crate::api::{self, Account, Context, Status};
use plugboard_sdk::prelude::*;

pub fn metrics(remote_id: Option<String>) -> Result<Vec<Metric>, PluginError> {
    let session = api::Session::current()?;
    let metric = |name: &str, value: u64| Metric {
        name: name.into(),
        value: value as f64,
    };
    Ok(match remote_id {
        Some(id) => {
            let status: Status =
                api::check(session.get(&format!("/api/v1/statuses/{id}"))?)?.json()?;
            vec![
                metric("favourites", status.favourites_count),
                metric("reblogs", status.reblogs_count),
                metric("replies", status.replies_count),
            ]
        }
        None => {
            let me: Account =
                api::check(session.get("/api/v1/accounts/verify_credentials")?)?.json()?;
            vec![
                metric("followers", me.followers_count),
                metric("following", me.following_count),
                metric("statuses", me.statuses_count),
            ]
        }
    })
}

fn snowflake(id: &str) -> u128 {
    id.parse().unwrap_or(0)
}

pub fn list_comments(
    post_remote_id: Option<String>,
    cursor: Option<String>,
) -> Result<CommentPage, PluginError> {
    let post = post_remote_id.ok_or_else(|| {
        PluginError::Unsupported(
            "Mastodon lists replies per status; name the status whose replies to list".into(),
        )
    })?;
    let session = api::Session::current()?;
    let own = secrets::account_required("account_id")?;
    let context: Context =
        api::check(session.get(&format!("/api/v1/statuses/{post}/context"))?)?.json()?;
    let seen = cursor.as_deref().map(snowflake).unwrap_or(0);
    let mut newest = cursor;
    let mut comments = Vec::new();
    for status in context.descendants {
        let Some(author) = &status.account else {
            continue;
        };
        if author.id == own || snowflake(&status.id) <= seen {
            continue;
        }
        if newest
            .as_deref()
            .is_none_or(|n| snowflake(&status.id) > snowflake(n))
        {
            newest = Some(status.id.clone());
        }
        comments.push(Comment {
            remote_id: status.id.clone(),
            post_remote_id: Some(post.clone()),
            parent_remote_id: status.in_reply_to_id.clone(),
            author_name: author.shown_name(),
            author_id: Some(author.id.clone()),
            text: api::plain_text(&status.content),
            created_at: api::iso_to_unix(&status.created_at).unwrap_or(0).max(0) as u64,
        });
    }
    Ok(CommentPage {
        comments,
        next_cursor: newest,
    })
}

/// FNV-1a: a stable digest of the reply text for its idempotency key (no crypto needed,
/// only "the same reply to the same comment").
fn digest(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn reply_comment(comment_remote_id: String, text: String) -> Result<String, PluginError> {
    if text.trim().is_empty() {
        return Err(invalid("text", "empty", "a reply needs text"));
    }
    let session = api::Session::current()?;
    // The same reply to the same comment within Mastodon's idempotency hour answers the
    // status already posted, so a retried reply job cannot post twice.
    let key = format!("reply-{comment_remote_id}-{:016x}", digest(&text));
    let status: Status = api::check(
        session.request(
            http::post(&format!("{}/api/v1/statuses", session.instance))
                .header("Idempotency-Key", &key)
                .json(&serde_json::json!({
                    "status": text,
                    "in_reply_to_id": comment_remote_id,
                })),
        )?,
    )?
    .json()?;
    Ok(status.id)
}
