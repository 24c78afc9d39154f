/// How an [`InstagramSim`](super::InstagramSim) presents itself and what it enforces. The
/// defaults are Instagram's own numbers; tests shorten the time-based ones and may lower
/// the quota to reach it quickly.
#[derive(Debug, Clone, PartialEq)]
pub struct InstagramConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The Instagram app id (`client_id`) of Instagram Login, which is also the Meta app id
    /// Facebook Login uses.
    pub app_id: String,
    pub app_secret: String,
    /// "Require App Secret": every call made with a token needs `appsecret_proof`.
    pub require_appsecret_proof: bool,
    /// The professional account the login approves as (nobody is there to log in).
    pub username: String,
    /// `BUSINESS` or `MEDIA_CREATOR`; personal accounts cannot use the API.
    pub account_type: String,
    /// The Facebook Page the account is linked to (Facebook Login variant).
    pub page_name: String,
    /// Lifetime of the token from the code exchange (1 h).
    pub short_token_secs: i64,
    /// Lifetime of a long-lived token (60 days).
    pub long_token_secs: i64,
    /// Age a long-lived token must reach before `ig_refresh_token` takes it (24 h).
    pub refresh_min_age_secs: i64,
    /// How long an image container stays `IN_PROGRESS`.
    pub image_processing_ms: u64,
    /// How long a video container stays `IN_PROGRESS`.
    pub video_processing_ms: u64,
    /// Unpublished containers turn `EXPIRED` after this long (24 h).
    pub container_ttl_secs: i64,
    /// Published posts per rolling window (50), enforced at `media_publish`.
    pub quota_total: usize,
    /// The window of the quota (86,400 s).
    pub quota_duration_secs: i64,
    /// Longest caption, in Unicode scalars.
    pub max_caption_chars: usize,
    pub max_hashtags: usize,
    pub max_mentions: usize,
    /// Largest JPEG.
    pub max_image_bytes: u64,
    /// Largest reel.
    pub max_video_bytes: u64,
}

impl Default for InstagramConfig {
    fn default() -> Self {
        InstagramConfig {
            port: 0,
            app_id: "990011223344556".into(),
            app_secret: "ig-simulator-app-secret".into(),
            require_appsecret_proof: true,
            username: "alice.bakes".into(),
            account_type: "BUSINESS".into(),
            page_name: "Alice's Bakery".into(),
            short_token_secs: 3600,
            long_token_secs: 60 * 86_400,
            refresh_min_age_secs: 86_400,
            image_processing_ms: 1_000,
            video_processing_ms: 30_000,
            container_ttl_secs: 86_400,
            quota_total: 50,
            quota_duration_secs: 86_400,
            max_caption_chars: 2_200,
            max_hashtags: 30,
            max_mentions: 20,
            max_image_bytes: 8 * 1024 * 1024,
            max_video_bytes: 300 * 1024 * 1024,
        }
    }
}
