/// How an [`XSim`](super::XSim) presents itself and what it enforces.
///
/// The defaults are X's published values for a non-Premium account.
#[derive(Debug, Clone, PartialEq)]
pub struct XConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    /// The user that authorization approves as, since nobody is there to log in.
    pub username: String,
    /// Display name of that user.
    pub name: String,
    /// OAuth 2.0 client of the registered app.
    pub client_id: String,
    /// Its secret: a confidential client must authenticate with HTTP Basic.
    pub client_secret: String,
    /// OAuth 1.0a consumer key of the same app.
    pub consumer_key: String,
    pub consumer_secret: String,
    /// Lifetime of OAuth 2.0 access tokens (X: 2 hours).
    pub access_token_ttl_secs: u64,
    /// Weighted length limit of a post (X: 280 without Premium).
    pub max_weighted_length: usize,
    /// `POST /2/tweets` per user in the 15-minute window (X: 200).
    pub tweet_rate_limit: u32,
    /// How long video and GIF uploads stay in processing after FINALIZE.
    pub media_processing_ms: u64,
    /// Largest APPEND segment (X: 5 MB).
    pub max_segment_bytes: usize,
    /// Largest image (simple upload, X: 5 MB).
    pub image_size_limit: u64,
    /// Largest GIF (X: 15 MB).
    pub gif_size_limit: u64,
    /// Largest video (X: 512 MB).
    pub video_size_limit: u64,
}

impl Default for XConfig {
    fn default() -> Self {
        XConfig {
            port: 0,
            username: "plugboard_dev".to_owned(),
            name: "Plugboard Dev".to_owned(),
            client_id: "sim-client-id".to_owned(),
            client_secret: "sim-client-secret".to_owned(),
            consumer_key: "sim-consumer-key".to_owned(),
            consumer_secret: "sim-consumer-secret".to_owned(),
            access_token_ttl_secs: 7200,
            max_weighted_length: 280,
            tweet_rate_limit: 200,
            media_processing_ms: 500,
            max_segment_bytes: 5 * 1024 * 1024,
            image_size_limit: 5 * 1024 * 1024,
            gif_size_limit: 15 * 1024 * 1024,
            video_size_limit: 512 * 1024 * 1024,
        }
    }
}
