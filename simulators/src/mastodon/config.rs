/// How a [`MastodonSim`](super::MastodonSim) presents itself and what it enforces.
///
/// The defaults are those of a stock Mastodon 4.3 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct MastodonConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    /// Instance title in `/api/v2/instance`.
    pub title: String,
    /// Account that `/oauth/authorize` approves as, since nobody is there to log in.
    pub username: String,
    /// `configuration.statuses.max_characters`.
    pub max_characters: usize,
    /// `configuration.statuses.max_media_attachments`.
    pub max_media_attachments: usize,
    /// `configuration.statuses.characters_reserved_per_url`.
    pub characters_reserved_per_url: usize,
    /// Largest accepted image upload, in bytes.
    pub image_size_limit: u64,
    /// Largest accepted video or audio upload, in bytes.
    pub video_size_limit: u64,
    /// How long video, gifv and audio uploads stay in processing.
    pub media_processing_ms: u64,
    /// Requests per account token within [`api_rate_period_secs`](Self::api_rate_period_secs).
    pub api_rate_limit: u32,
    /// Length of the API rate-limit window.
    pub api_rate_period_secs: u64,
    /// Media uploads per account within [`media_rate_period_secs`](Self::media_rate_period_secs).
    pub media_rate_limit: u32,
    /// Length of the media-upload rate-limit window.
    pub media_rate_period_secs: u64,
}

impl Default for MastodonConfig {
    fn default() -> Self {
        MastodonConfig {
            port: 0,
            title: "Plugboard Mastodon simulator".to_owned(),
            username: "alice".to_owned(),
            max_characters: 500,
            max_media_attachments: 4,
            characters_reserved_per_url: 23,
            image_size_limit: 16 * 1024 * 1024,
            video_size_limit: 99 * 1024 * 1024,
            media_processing_ms: 300,
            api_rate_limit: 300,
            api_rate_period_secs: 5 * 60,
            media_rate_limit: 30,
            media_rate_period_secs: 30 * 60,
        }
    }
}
