/// How a [`TikTokSim`](super::TikTokSim) presents itself and what it enforces.
///
/// The defaults are TikTok's documented values.
#[derive(Debug, Clone, PartialEq)]
pub struct TikTokConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    pub client_key: String,
    pub client_secret: String,
    pub username: String,
    pub nickname: String,
    /// An unaudited app may only post `SELF_ONLY`.
    pub audited: bool,
    /// `max_video_post_duration_sec` of the creator.
    pub max_video_post_duration_sec: u64,
    /// Access-token lifetime (TikTok: 24 h).
    pub access_token_ttl_secs: u64,
    /// Smallest chunk (TikTok: 5 MB; files below it go in one piece). Tests lower it.
    pub min_chunk_bytes: u64,
    /// Largest chunk but the last (TikTok: 64 MB).
    pub max_chunk_bytes: u64,
    /// Largest last chunk (TikTok: 128 MB).
    pub max_last_chunk_bytes: u64,
    /// How long a complete upload stays in processing before it is published.
    pub processing_ms: u64,
}

impl Default for TikTokConfig {
    fn default() -> Self {
        TikTokConfig {
            port: 0,
            client_key: "sim-client-key".into(),
            client_secret: "sim-client-secret".into(),
            username: "plugboard.creator".into(),
            nickname: "Plugboard Creator".into(),
            audited: true,
            max_video_post_duration_sec: 600,
            access_token_ttl_secs: 86_400,
            min_chunk_bytes: 5 * 1024 * 1024,
            max_chunk_bytes: 64 * 1024 * 1024,
            max_last_chunk_bytes: 128 * 1024 * 1024,
            processing_ms: 500,
        }
    }
}
