//! `GET /api/v2/instance`, where clients discover the instance's limits.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::media::SUPPORTED_MIME_TYPES;
use super::state::Sim;

pub(crate) async fn show(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let config = &sim.config;
    let base = &sim.base_url;
    let domain = base.trim_start_matches("http://");
    Json(json!({
        "domain": domain,
        "title": config.title,
        "version": "4.3.0",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "A simulated Mastodon instance for Plugboard's tests.",
        "usage": { "users": { "active_month": 1 } },
        "thumbnail": { "url": format!("{base}/packs/media/images/preview.png") },
        "languages": ["en"],
        "configuration": {
            "urls": { "streaming": format!("ws://{domain}") },
            "accounts": { "max_featured_tags": 10, "max_pinned_statuses": 5 },
            "statuses": {
                "max_characters": config.max_characters,
                "max_media_attachments": config.max_media_attachments,
                "characters_reserved_per_url": config.characters_reserved_per_url,
            },
            "media_attachments": {
                "supported_mime_types": SUPPORTED_MIME_TYPES,
                "image_size_limit": config.image_size_limit,
                "image_matrix_limit": 33_177_600,
                "video_size_limit": config.video_size_limit,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8_294_400,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2_629_746,
            },
            "translation": { "enabled": false },
        },
        "registrations": { "enabled": false, "approval_required": false, "message": null },
        "api_versions": { "mastodon": 2 },
        "contact": { "email": "", "account": null },
        "rules": [],
    }))
}
