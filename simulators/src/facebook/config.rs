/// How a [`FacebookSim`](super::FacebookSim) presents itself and what it enforces. The
/// defaults are Facebook's own numbers; tests shorten the time-based ones.
#[derive(Debug, Clone, PartialEq)]
pub struct FacebookConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    pub app_id: String,
    pub app_secret: String,
    /// "Require App Secret": every token call needs `appsecret_proof`.
    pub require_appsecret_proof: bool,
    /// The user the OAuth dialog approves as (nobody is there to log in).
    pub user_name: String,
    /// The Pages that user manages (name, category); each gets an id at start.
    pub pages: Vec<(String, String)>,
    /// Lifetime of a token from the code exchange (about 1–2 h).
    pub short_token_secs: i64,
    /// Lifetime of a long-lived user token (60 days).
    pub long_token_secs: i64,
    /// Longest post message (Unicode scalars).
    pub max_message_chars: usize,
    /// Largest photo fetched or uploaded.
    pub max_photo_bytes: u64,
    /// Largest video.
    pub max_video_bytes: u64,
    /// How long a video or reel spends in processing after its upload finished.
    pub processing_ms: u64,
    /// Reels published through the API per Page per rolling 24 h.
    pub reels_per_day: usize,
}

impl Default for FacebookConfig {
    fn default() -> Self {
        FacebookConfig {
            port: 0,
            app_id: "1234567890123456".into(),
            app_secret: "fb-simulator-app-secret".into(),
            require_appsecret_proof: true,
            user_name: "Alice Example".into(),
            pages: vec![
                ("Alice's Bakery".into(), "Bakery".into()),
                ("Alice Travels".into(), "Travel Company".into()),
            ],
            short_token_secs: 2 * 3600,
            long_token_secs: 60 * 86_400,
            max_message_chars: 63_206,
            max_photo_bytes: 10 * 1024 * 1024,
            max_video_bytes: 10 * 1024 * 1024 * 1024,
            processing_ms: 1_000,
            reels_per_day: 30,
        }
    }
}
