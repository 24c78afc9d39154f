//! `auto_fit_media`: a target whose media does not fit its post kind publishes a studio
//! rendition fitted to it instead of failing.
//!
//! The rendition is an ordinary `media` job (planned exactly like `POST …/media/{id}/fit`,
//! cover crop) under the dedupe key `fit:{media_id}:{plugin}:{kind}`, so every target and
//! every attempt of the same media × platform × kind shares one job, and its result stays
//! in the library linked to its source (the job's payload and the `media.derived` entry).
//!
//! Decisions:
//! - Auto-fit never cuts a video: a video longer than the kind allows stays an error
//!   (trimming is an editorial choice; the studio's `/fit` does it when asked).
//! - A failed or cancelled rendition fails the target with the job's reason; it is not
//!   retried on its own, since the same source would fail the same way.

use super::targets::TargetRow;
use crate::app::App;
use crate::media::studio::presets::{self, PlanError, Preset};
use crate::media::studio::{self, MediaJob};
use crate::posts::content::{Effective, ThreadItem};
use crate::posts::validation::check_media;
use crate::runtime::caps::media::MediaItem;
use crate::store::media::{self as media_store, MediaRow};
use crate::store::posts::{self, Post};
use mediakit::spec::{Fit, Operation};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::PlatformInfo;
use plugboard_bindings::platform::plugboard::plugin::types::Problem;
use std::collections::BTreeMap;

/// Where the media of one target stands.
#[derive(Debug, PartialEq)]
pub enum Fitting {
    /// Every item fits or has a finished rendition: source id → rendition id.
    Ready(BTreeMap<String, String>),
    /// A rendition is being made; the reason names the file, the platform and the progress.
    Waiting(String),
    /// A rendition cannot be made, or its job failed.
    Failed(String),
}

/// How one library item stands against a post kind.
enum Assessment {
    Fits,
    Fittable {
        preset: Preset,
        op: Box<Operation>,
    },
    Unfittable {
        reason: String,
        problems: Vec<Problem>,
    },
}

fn dedupe_key(media_id: &str, plugin: &str, kind: &str) -> String {
    format!("fit:{media_id}:{plugin}:{kind}")
}

fn label(info: &PlatformInfo, kind: &str) -> String {
    format!("{} {kind}", info.display_name)
}

async fn assess(
    app: &App,
    plugin: &str,
    info: &PlatformInfo,
    kind: &str,
    field_prefix: &str,
    row: &MediaRow,
) -> Assessment {
    let problems = check_media(info, kind, field_prefix, &[crate::media::item(row)]);
    if problems.is_empty() {
        return Assessment::Fits;
    }
    let preset_id = format!("{plugin}/{kind}/{}", row.kind);
    let reason = match presets::plan_for(app, &preset_id, row, Fit::Cover).await {
        Ok((_, Operation::Video(v))) if v.trim.is_some() => format!(
            "it is longer than {} allows and auto-fit does not cut videos; trim it in the media studio",
            label(info, kind)
        ),
        Ok((preset, op)) => {
            return Assessment::Fittable {
                preset,
                op: Box::new(op),
            };
        }
        Err(PlanError::UnknownPreset(_)) => format!(
            "{} takes no {} media that it could be converted to",
            label(info, kind),
            row.kind
        ),
        Err(PlanError::CannotFit(m)) => m,
    };
    Assessment::Unfittable { reason, problems }
}

/// The media of the target's content: (the prefix `check_media` puts before `media[i]`,
/// the field its problems carry, the media id).
fn items(eff: &Effective) -> Vec<(String, String, String)> {
    let lists = std::iter::once((String::new(), &eff.media)).chain(
        eff.thread
            .iter()
            .enumerate()
            .map(|(j, t)| (format!("thread[{j}]."), &t.media)),
    );
    let mut out = Vec::new();
    for (prefix, ids) in lists {
        for (i, id) in ids.iter().enumerate() {
            out.push((prefix.clone(), format!("{prefix}media[{i}]"), id.clone()));
        }
    }
    out
}

/// What the host's media checks of a target come to with `auto_fit_media`.
pub struct Triage {
    /// Problems that stop publishing.
    pub errors: Vec<Problem>,
    /// Media that does not fit but will be fitted ("will be fitted to …").
    pub notes: Vec<Problem>,
    /// The items that will be fitted, as the planned rendition will be (keyed by media id),
    /// for the plugin's own `validate` to judge what it will receive.
    pub fitted: BTreeMap<String, MediaItem>,
}

/// The item as the rendition planned by `op` will be: its box, format and byte budget.
fn planned_item(row: &MediaRow, op: &Operation) -> MediaItem {
    let mut item = crate::media::item(row);
    let (resize, max_bytes, mime) = match op {
        Operation::Video(v) => (v.resize.as_ref(), v.max_bytes, "video/mp4"),
        Operation::Image(i) => (i.resize.as_ref(), i.max_bytes, i.format.mime_type()),
        _ => return item,
    };
    if let Some(r) = resize {
        item.width = Some(r.width);
        item.height = Some(r.height);
    }
    if let Some(max) = max_bytes {
        item.size = item.size.min(max);
    }
    item.mime_type = mime.to_string();
    item
}

/// Splits the host's media problems of a target into errors and notes: with
/// `auto_fit_media` set, an item that can be fitted is a note ("will be fitted to …"); one
/// that cannot keeps its problems and gains a `cannot-fit` one saying why.
pub async fn triage(
    app: &App,
    workspace_id: &str,
    eff: &Effective,
    plugin: &str,
    info: &PlatformInfo,
    problems: Vec<Problem>,
) -> anyhow::Result<Triage> {
    let mut out = Triage {
        errors: problems,
        notes: Vec::new(),
        fitted: BTreeMap::new(),
    };
    if !eff.auto_fit_media {
        return Ok(out);
    }
    for (prefix, field, id) in items(eff) {
        let Some(row) = media_store::get(&app.db, workspace_id, &id).await? else {
            continue;
        };
        match assess(app, plugin, info, &eff.kind, &prefix, &row).await {
            Assessment::Fits => {}
            Assessment::Fittable { preset, op } => {
                let (mine, rest): (Vec<Problem>, Vec<Problem>) = std::mem::take(&mut out.errors)
                    .into_iter()
                    .partition(|p| p.field == field);
                out.errors = rest;
                let why: Vec<String> = mine.into_iter().map(|p| p.message).collect();
                out.fitted.insert(id.clone(), planned_item(&row, &op));
                out.notes.push(Problem {
                    field,
                    code: "will-be-fitted".into(),
                    message: format!(
                        "{} will be fitted to {} ({}) when published: {}",
                        row.filename,
                        label(info, &eff.kind),
                        preset.id,
                        why.join("; ")
                    ),
                });
            }
            Assessment::Unfittable { reason, .. } => out.errors.push(Problem {
                field,
                code: "cannot-fit".into(),
                message: format!(
                    "{} cannot be fitted to {} automatically: {reason}",
                    row.filename,
                    label(info, &eff.kind)
                ),
            }),
        }
    }
    Ok(out)
}

/// Where the renditions of `post`'s media for `plugin` stand; with `enqueue`, a missing
/// rendition is queued (and waited for).
pub async fn resolve(
    app: &App,
    workspace_id: &str,
    post: &Post,
    plugin: &str,
    enqueue: bool,
) -> anyhow::Result<Fitting> {
    let eff = post.content.for_platform(plugin);
    if !eff.auto_fit_media {
        return Ok(Fitting::Ready(BTreeMap::new()));
    }
    let info = app.runtime.describe_platform(plugin).await?;
    let mut swaps = BTreeMap::new();
    let mut waiting = Vec::new();
    let mut failed = Vec::new();
    for (_, _, id) in items(&eff) {
        // A missing item is reported when the post is prepared for the plugin.
        let Some(row) = media_store::get(&app.db, workspace_id, &id).await? else {
            continue;
        };
        let target = label(&info, &eff.kind);
        let (preset, op) = match assess(app, plugin, &info, &eff.kind, "", &row).await {
            Assessment::Fits => continue,
            Assessment::Unfittable { reason, problems } => {
                let why: Vec<String> = problems.into_iter().map(|p| p.message).collect();
                failed.push(format!(
                    "{} does not fit {target} ({}) and cannot be fitted automatically: {reason}",
                    row.filename,
                    why.join("; ")
                ));
                continue;
            }
            Assessment::Fittable { preset, op } => (preset, op),
        };
        let key = dedupe_key(&id, plugin, &eff.kind);
        let job = match studio::by_key(app, workspace_id, &key).await? {
            Some(job) => Some(job),
            None if enqueue => {
                let queued = studio::enqueue(
                    app,
                    &row,
                    *op,
                    Some(preset.id.clone()),
                    post.created_by.as_deref(),
                    Some(key.clone()),
                )
                .await?;
                match queued {
                    Some(job) => Some(job),
                    // Another attempt queued it a moment ago.
                    None => studio::by_key(app, workspace_id, &key).await?,
                }
            }
            None => None,
        };
        let Some(job) = job else { continue };
        let view = MediaJob::of(&job);
        match (view.status.as_str(), view.result_media_id) {
            ("done", Some(rendition)) => {
                swaps.insert(id, rendition);
            }
            ("queued" | "running", _) => waiting.push(format!(
                "waiting for a fitted rendition of {} for {target} ({:.0}%)",
                row.filename,
                view.progress.unwrap_or(0.0)
            )),
            (status, _) => failed.push(format!(
                "the fitted rendition of {} for {target} {}: {}",
                row.filename,
                if status == "cancelled" {
                    "was cancelled"
                } else {
                    "failed"
                },
                view.error
                    .map(|e| e.message)
                    .unwrap_or_else(|| "no rendition was made".into())
            )),
        }
    }
    Ok(if !failed.is_empty() {
        Fitting::Failed(failed.join("; "))
    } else if !waiting.is_empty() {
        Fitting::Waiting(waiting.join("; "))
    } else {
        Fitting::Ready(swaps)
    })
}

/// `resolve` for a publish target (its post loaded); a deleted post has nothing to fit.
pub async fn for_target(app: &App, t: &TargetRow, enqueue: bool) -> anyhow::Result<Fitting> {
    match posts::get(&app.db, &t.workspace_id, &t.post_id).await? {
        Some(post) => resolve(app, &t.workspace_id, &post, &t.plugin, enqueue).await,
        None => Ok(Fitting::Ready(BTreeMap::new())),
    }
}

/// Makes `plugin`'s variant of `post` send the renditions instead of their sources.
pub fn apply(post: &mut Post, plugin: &str, swaps: &BTreeMap<String, String>) {
    if swaps.is_empty() {
        return;
    }
    let eff = post.content.for_platform(plugin);
    let swap = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| swaps.get(id).cloned().unwrap_or_else(|| id.clone()))
            .collect()
    };
    let variant = post.content.variants.entry(plugin.to_string()).or_default();
    variant.media = Some(swap(&eff.media));
    variant.thread = Some(
        eff.thread
            .iter()
            .map(|t| ThreadItem {
                text: t.text.clone(),
                media: swap(&t.media),
            })
            .collect(),
    );
}
