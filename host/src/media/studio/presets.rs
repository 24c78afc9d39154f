//! Platform presets: "fit this to Instagram Reel" is computed from what each installed
//! platform plugin's `describe()` says it accepts (one preset per plugin × post kind ×
//! media type), never from a table of our own. A preset explains precisely why a library
//! item does not fit it, and plans the operation that makes one that does.

use crate::app::App;
use crate::runtime::manifest::World;
use crate::store::media::MediaRow;
use mediakit::spec::{Fit, ImageFormat, ImageSpec, Operation, Resize, Trim, VideoSpec};
use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
    MediaConstraint, PlatformInfo,
};
use serde::Serialize;

/// What one platform accepts for one post kind and media type.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preset {
    /// `{plugin}/{post_kind}/{media_type}`, e.g. `instagram/reel/video`.
    pub id: String,
    pub plugin: String,
    pub platform: String,
    pub post_kind: String,
    /// `image` or `video`.
    pub media_type: String,
    pub mime_types: Vec<String>,
    pub max_bytes: u64,
    pub min_width: Option<u32>,
    pub max_width: Option<u32>,
    pub min_height: Option<u32>,
    pub max_height: Option<u32>,
    pub min_aspect: Option<f32>,
    pub max_aspect: Option<f32>,
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
    pub max_frame_rate: Option<f32>,
}

impl Preset {
    fn new(
        plugin: &str,
        info: &PlatformInfo,
        kind: &str,
        media_type: &str,
        c: &MediaConstraint,
    ) -> Preset {
        Preset {
            id: format!("{plugin}/{kind}/{media_type}"),
            plugin: plugin.to_string(),
            platform: info.display_name.clone(),
            post_kind: kind.to_string(),
            media_type: media_type.to_string(),
            mime_types: c
                .mime_types
                .iter()
                .filter(|m| m.starts_with(&format!("{media_type}/")))
                .cloned()
                .collect(),
            max_bytes: c.max_bytes,
            min_width: c.min_width,
            max_width: c.max_width,
            min_height: c.min_height,
            max_height: c.max_height,
            min_aspect: c.min_aspect,
            max_aspect: c.max_aspect,
            min_duration_ms: c.min_duration_ms,
            max_duration_ms: c.max_duration_ms,
            max_frame_rate: c.max_frame_rate,
        }
    }

    /// Whether the preset takes `mime` (`image/*` takes any image).
    pub fn accepts(&self, mime: &str) -> bool {
        self.mime_types.iter().any(|m| {
            m == mime
                || m.strip_suffix("/*")
                    .is_some_and(|prefix| mime.split('/').next() == Some(prefix))
        })
    }

    fn label(&self) -> String {
        format!("{} {}", self.platform, self.post_kind)
    }
}

/// The presets of one plugin's description.
pub fn from_info(plugin: &str, info: &PlatformInfo) -> Vec<Preset> {
    let mut out: Vec<Preset> = Vec::new();
    for kind in &info.post_kinds {
        let Some(rules) = &kind.media else { continue };
        for c in &rules.constraints {
            for media_type in ["image", "video"] {
                let prefix = format!("{media_type}/");
                if c.mime_types.iter().any(|m| m.starts_with(&prefix))
                    && !out
                        .iter()
                        .any(|p| p.post_kind == kind.name && p.media_type == media_type)
                {
                    out.push(Preset::new(plugin, info, &kind.name, media_type, c));
                }
            }
        }
    }
    out
}

/// The presets of every installed platform plugin; a plugin whose `describe()` fails is
/// left out (and logged), not an error for the whole list.
pub async fn list(app: &App) -> Vec<Preset> {
    let mut out = Vec::new();
    for plugin in app.runtime.registry.list() {
        if plugin.manifest.world != World::Platform {
            continue;
        }
        match app.runtime.describe_platform(plugin.id()).await {
            Ok(info) => out.extend(from_info(plugin.id(), &info)),
            Err(e) => {
                tracing::warn!(plugin = plugin.id(), error = %e, "describe failed; its presets are not listed")
            }
        }
    }
    out
}

pub async fn find(app: &App, id: &str) -> Option<Preset> {
    let plugin = id.split('/').next()?;
    let info = app.runtime.describe_platform(plugin).await.ok()?;
    from_info(plugin, &info).into_iter().find(|p| p.id == id)
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// Every reason `row` does not fit `p`, in words for the user; empty when it fits.
pub fn problems(p: &Preset, row: &MediaRow) -> Vec<String> {
    let mut out = Vec::new();
    let label = p.label();
    if !p.accepts(&row.mime_type) {
        out.push(format!(
            "{label} does not accept {}; it takes {}",
            row.mime_type,
            p.mime_types.join(", ")
        ));
    }
    if p.max_bytes > 0 && row.size as u64 > p.max_bytes {
        out.push(format!(
            "the file has {} bytes; {label} takes at most {}",
            row.size, p.max_bytes
        ));
    }
    if let (Some(w), Some(h)) = (row.width, row.height) {
        let (w, h) = (w as u32, h as u32);
        let dims = [
            (
                p.min_width.filter(|&m| w < m),
                "wide",
                "at least",
                p.min_width,
            ),
            (
                p.max_width.filter(|&m| w > m),
                "wide",
                "at most",
                p.max_width,
            ),
            (
                p.min_height.filter(|&m| h < m),
                "high",
                "at least",
                p.min_height,
            ),
            (
                p.max_height.filter(|&m| h > m),
                "high",
                "at most",
                p.max_height,
            ),
        ];
        for (hit, side, bound, limit) in dims {
            if hit.is_some() {
                let v = if side == "wide" { w } else { h };
                out.push(format!(
                    "it is {v} pixels {side}; {label} needs {bound} {}",
                    limit.unwrap_or_default()
                ));
            }
        }
        let aspect = w as f32 / h.max(1) as f32;
        if p.min_aspect.is_some_and(|m| aspect < m - 0.005)
            || p.max_aspect.is_some_and(|m| aspect > m + 0.005)
        {
            out.push(format!(
                "its aspect ratio is {aspect:.3} ({w}×{h}); {label} takes {:.3} to {:.3}",
                p.min_aspect.unwrap_or(0.0),
                p.max_aspect.unwrap_or(f32::INFINITY)
            ));
        }
    }
    if let Some(d) = row.duration_ms {
        let d = d as u64;
        if let Some(min) = p.min_duration_ms.filter(|&m| d < m) {
            out.push(format!(
                "it lasts {}; {label} needs at least {}",
                secs(d),
                secs(min)
            ));
        }
        if let Some(max) = p.max_duration_ms.filter(|&m| d > m) {
            out.push(format!(
                "it lasts {}; {label} takes at most {}",
                secs(d),
                secs(max)
            ));
        }
    }
    if let (Some(fps), Some(max)) = (row.frame_rate, p.max_frame_rate)
        && fps > f64::from(max) + 0.01
    {
        out.push(format!(
            "it has {fps:.2} frames per second; {label} takes at most {max}"
        ));
    }
    out
}

/// The largest box of the source's aspect ratio (clamped to the preset's range) within the
/// preset's size bounds; sides even for video.
fn target_box(p: &Preset, w: u32, h: u32, even: bool) -> (u32, u32) {
    let (w, h) = (f64::from(w), f64::from(h));
    let aspect = w / h;
    let lo = p.min_aspect.map_or(0.0, f64::from);
    let hi = p.max_aspect.map_or(f64::INFINITY, f64::from);
    let t = aspect.clamp(lo, hi.max(lo));
    let (cw, ch) = if t < aspect { (h * t, h) } else { (w, w / t) };
    let mut s: f64 = 1.0;
    if let Some(m) = p.max_width {
        s = s.min(f64::from(m) / cw);
    }
    if let Some(m) = p.max_height {
        s = s.min(f64::from(m) / ch);
    }
    if let Some(m) = p.min_width {
        s = s.max(f64::from(m) / cw);
    }
    if let Some(m) = p.min_height {
        s = s.max(f64::from(m) / ch);
    }
    let round = |v: f64| -> u32 {
        if even {
            ((v / 2.0).floor() as u32 * 2).max(2)
        } else {
            (v.floor() as u32).max(1)
        }
    };
    let (bw, bh) = (round(cw * s), round(ch * s));
    let step = if even { 2 } else { 1 };
    let fits = |w: u32, h: u32| {
        let a = f64::from(w) / f64::from(h);
        a >= lo - 1e-9 && a <= hi + 1e-9
    };
    if fits(bw, bh) {
        return (bw, bh);
    }
    // Rounding pushed the ratio out of a narrow range (9:16 exactly needs a width that is
    // a multiple of 9): the nearest smaller height whose rounded width fits.
    let mut h = bh;
    while h > step {
        let w = ((f64::from(h) * t / f64::from(step)).round() as u32 * step).max(step);
        if fits(w, h) {
            return (w, h);
        }
        h -= step;
    }
    (bw, bh)
}

/// Why a library item cannot be fitted to a preset.
#[derive(Debug)]
pub enum PlanError {
    UnknownPreset(String),
    /// The item cannot be made to fit (wrong media type, too short, …), in words.
    CannotFit(String),
}

/// Finds the preset `id` and plans the operation that makes `row` fit it: the one planning
/// step both `POST …/media/{id}/fit` and publishing with `auto_fit_media` use.
pub async fn plan_for(
    app: &App,
    id: &str,
    row: &MediaRow,
    fit: Fit,
) -> Result<(Preset, Operation), PlanError> {
    let preset = find(app, id)
        .await
        .ok_or_else(|| PlanError::UnknownPreset(id.to_string()))?;
    let op = plan(&preset, row, fit).map_err(PlanError::CannotFit)?;
    Ok((preset, op))
}

/// The operation that makes `row` fit `p`: `fit` decides between cropping (cover) and
/// letterboxing (pad) when the aspect ratio must change.
pub fn plan(p: &Preset, row: &MediaRow, fit: Fit) -> Result<Operation, String> {
    let label = p.label();
    let (w, h) = match (row.width, row.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w as u32, h as u32),
        _ => return Err(format!("the {} has no known dimensions", row.kind)),
    };
    if row.kind != p.media_type {
        return Err(format!(
            "{label} takes {}s, and this is a {}",
            p.media_type, row.kind
        ));
    }
    match p.media_type.as_str() {
        "image" => {
            let format = [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp]
                .into_iter()
                .find(|f| p.accepts(f.mime_type()))
                .ok_or_else(|| format!("{label} takes none of JPEG, PNG or WebP"))?;
            let (bw, bh) = target_box(p, w, h, false);
            Ok(Operation::Image(ImageSpec {
                resize: Some(Resize {
                    width: bw,
                    height: bh,
                    fit,
                    focal: None,
                    background: None,
                }),
                format,
                quality: None,
                lossless: false,
                max_bytes: (p.max_bytes > 0).then_some(p.max_bytes),
            }))
        }
        _ => {
            if !p.accepts("video/mp4") {
                return Err(format!("{label} does not take MP4 video"));
            }
            let duration = row.duration_ms.unwrap_or(0).max(0) as u64;
            if let Some(min) = p.min_duration_ms.filter(|&m| duration < m) {
                return Err(format!(
                    "the video lasts {}; {label} needs at least {}",
                    secs(duration),
                    secs(min)
                ));
            }
            let (bw, bh) = target_box(p, w, h, true);
            Ok(Operation::Video(VideoSpec {
                resize: Some(Resize {
                    width: bw,
                    height: bh,
                    fit,
                    focal: None,
                    background: None,
                }),
                trim: p.max_duration_ms.filter(|&m| duration > m).map(|m| Trim {
                    start_ms: 0,
                    end_ms: Some(m),
                }),
                frame_rate: match (row.frame_rate, p.max_frame_rate) {
                    (Some(fps), Some(max)) if fps > f64::from(max) + 0.01 => Some(f64::from(max)),
                    _ => None,
                },
                max_bytes: (p.max_bytes > 0).then_some(p.max_bytes),
                ..VideoSpec::default()
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reel() -> Preset {
        Preset {
            id: "x/reel/video".into(),
            plugin: "x".into(),
            platform: "X".into(),
            post_kind: "reel".into(),
            media_type: "video".into(),
            mime_types: vec!["video/mp4".into()],
            max_bytes: 100 << 20,
            min_width: Some(500),
            max_width: Some(1080),
            min_height: None,
            max_height: Some(1920),
            min_aspect: Some(0.5625),
            max_aspect: Some(0.5625),
            min_duration_ms: Some(3000),
            max_duration_ms: Some(90_000),
            max_frame_rate: Some(60.0),
        }
    }

    #[test]
    fn a_landscape_master_becomes_a_portrait_box_within_bounds() {
        assert_eq!(target_box(&reel(), 1920, 1080, true), (594, 1056));
        assert_eq!(target_box(&reel(), 3840, 2160, true), (1080, 1920));
        let mut square = reel();
        (square.min_aspect, square.max_aspect) = (Some(1.0), Some(1.0));
        square.min_width = None;
        assert_eq!(target_box(&square, 4000, 3000, false), (1080, 1080));
    }
}
