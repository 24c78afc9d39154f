/// How a [`ThreadsSim`](super::ThreadsSim) presents itself and what it enforces.
///
/// The defaults are those of the real Threads API; tests shorten the waits.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadsConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    /// The Threads app's id and secret (`client_id`, `client_secret`).
    pub client_id: String,
    pub client_secret: String,
    /// The one Threads user that `/oauth/authorize` approves as.
    pub user_id: String,
    pub username: String,
    /// Lifetime of the token the code exchange gives (1 hour).
    pub short_lived_token_secs: i64,
    /// Lifetime of a long-lived token (60 days).
    pub long_lived_token_secs: i64,
    /// A long-lived token can be refreshed once it is this old (24 hours).
    pub refresh_min_age_secs: i64,
    /// How long image containers stay `IN_PROGRESS` after creation.
    pub image_processing_ms: u64,
    /// How long video containers stay `IN_PROGRESS` after creation.
    pub video_processing_ms: u64,
    /// Published posts per rolling 24 hours (replies excluded).
    pub posts_per_day: u32,
    /// Published replies per rolling 24 hours.
    pub replies_per_day: u32,
    /// Text limit, emoji counted by their UTF-8 bytes.
    pub max_text: usize,
    pub max_image_bytes: u64,
    pub max_video_bytes: u64,
    pub max_video_secs: u64,
}

impl Default for ThreadsConfig {
    fn default() -> Self {
        ThreadsConfig {
            port: 0,
            client_id: "1234567890123456".to_owned(),
            client_secret: "threads-sim-app-secret".to_owned(),
            user_id: "17841400000000001".to_owned(),
            username: "alice".to_owned(),
            short_lived_token_secs: 3600,
            long_lived_token_secs: 60 * 86_400,
            refresh_min_age_secs: 86_400,
            image_processing_ms: 1_000,
            video_processing_ms: 30_000,
            posts_per_day: 250,
            replies_per_day: 1_000,
            max_text: 500,
            max_image_bytes: 8 << 20,
            max_video_bytes: 1 << 30,
            max_video_secs: 300,
        }
    }
}
