//! Checking one target of a post: account state, media against the platform's declared
//! limits, and the plugin's own `validate`.

use super::validation::check_media;
use crate::app::App;
use crate::runtime::caps::media::{CallMedia, MediaItem};
use crate::store::posts::{Post, Target};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    Post as WitPost, ThreadItem,
};
use plugboard_bindings::platform::plugboard::plugin::types::{MediaRef, Problem};

fn problem(field: &str, code: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        code: code.into(),
        message,
    }
}

/// The post as the target's plugin receives it, with the media items it may use.
pub async fn wit_post(
    app: &App,
    workspace_id: &str,
    post: &Post,
    target: &Target,
) -> anyhow::Result<(WitPost, Vec<MediaItem>, Vec<Vec<MediaItem>>)> {
    let eff = post.content.for_platform(&target.plugin);
    let media = crate::media::media_items(app, workspace_id, &eff.media).await?;
    let mut thread_media = Vec::new();
    for item in &eff.thread {
        thread_media.push(crate::media::media_items(app, workspace_id, &item.media).await?);
    }
    let wit = WitPost {
        target_id: target.id.clone(),
        attempt: 1,
        kind: eff.kind.clone(),
        text: eff.text.clone(),
        media: media.iter().map(MediaItem::to_ref).collect(),
        thread: eff
            .thread
            .iter()
            .zip(&thread_media)
            .map(|(t, m)| ThreadItem {
                text: t.text.clone(),
                media: m.iter().map(MediaItem::to_ref).collect(),
            })
            .collect(),
        options: eff.options.into_iter().collect(),
        scheduled_at: None,
    };
    Ok((wit, media, thread_media))
}

/// Every problem that would stop this target from publishing.
pub async fn target(
    app: &App,
    workspace_id: &str,
    post: &Post,
    target: &Target,
) -> anyhow::Result<Vec<Problem>> {
    Ok(report(app, workspace_id, post, target).await?.0)
}

/// The problems that would stop this target from publishing, and notes that would not
/// (media that `auto_fit_media` will fit while publishing).
pub async fn report(
    app: &App,
    workspace_id: &str,
    post: &Post,
    target: &Target,
) -> anyhow::Result<(Vec<Problem>, Vec<Problem>)> {
    if super::accounts::active(app, workspace_id, &target.account_id)
        .await?
        .is_none()
    {
        return Ok((
            vec![problem(
                "account",
                "account-not-active",
                "the account is disconnected or awaiting selection; reconnect it".into(),
            )],
            Vec::new(),
        ));
    }
    if app.runtime.registry.get(&target.plugin).is_none() {
        return Ok((
            vec![problem(
                "account",
                "plugin-not-installed",
                format!(
                    "the `{}` plugin is not installed on this server",
                    target.plugin
                ),
            )],
            Vec::new(),
        ));
    }
    let (mut wit, media, thread_media) = match wit_post(app, workspace_id, post, target).await {
        Ok(v) => v,
        Err(e) => {
            return Ok((
                vec![problem("media", "media-missing", format!("{e:#}"))],
                Vec::new(),
            ));
        }
    };
    let info = app.runtime.describe_platform(&target.plugin).await?;
    let mut problems = check_media(&info, &wit.kind, "", &media);
    for (i, m) in thread_media.iter().enumerate() {
        problems.extend(check_media(&info, &wit.kind, &format!("thread[{i}]."), m));
    }
    let eff = post.content.for_platform(&target.plugin);
    let triage =
        crate::publish::autofit::triage(app, workspace_id, &eff, &target.plugin, &info, problems)
            .await?;
    let (mut problems, notes) = (triage.errors, triage.notes);
    // The plugin judges what it will receive: the rendition, not the source.
    let as_sent = |r: &mut MediaRef| {
        if let Some(item) = triage.fitted.get(&r.handle) {
            *r = item.to_ref();
        }
    };
    wit.media.iter_mut().for_each(as_sent);
    wit.thread
        .iter_mut()
        .for_each(|t| t.media.iter_mut().for_each(as_sent));
    let mut ctx = crate::accounts::call_context(app, workspace_id, &target.account_id).await?;
    ctx.media = CallMedia::new(media.into_iter().chain(thread_media.into_iter().flatten()));
    let plugin_problems = app
        .runtime
        .platform(&target.plugin, "validate", ctx)
        .await?
        .validate(wit)
        .await?;
    problems.extend(plugin_problems);
    Ok((problems, notes))
}
