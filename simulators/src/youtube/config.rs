/// How a [`YoutubeSim`](super::YoutubeSim) presents itself and what it enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct YoutubeConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    pub client_id: String,
    pub client_secret: String,
    /// Authorized redirect URIs of the OAuth client; empty accepts any http(s) URI.
    pub redirect_uris: Vec<String>,
    /// Lifetime of access tokens (Google: 3599 s).
    pub access_token_ttl_secs: i64,
    /// The channel the approving user owns.
    pub channel_id: String,
    pub channel_title: String,
    /// `videos.insert` calls per day of the project's bucket (100 at cost 1).
    pub daily_uploads: u32,
    /// Every chunk but the last must be a multiple of this (Google: 256 KiB).
    pub chunk_granularity: u64,
    /// Largest upload (YouTube: 256 GB).
    pub max_video_bytes: u64,
    /// How long an uploaded video stays `uploaded` before it is `processed`.
    pub processing_ms: u64,
}

impl Default for YoutubeConfig {
    fn default() -> Self {
        YoutubeConfig {
            port: 0,
            client_id: "sim-youtube.apps.googleusercontent.com".to_owned(),
            client_secret: "sim-youtube-secret".to_owned(),
            redirect_uris: Vec::new(),
            access_token_ttl_secs: 3599,
            channel_id: "UCsimulatedChannel000001".to_owned(),
            channel_title: "Plugboard Test Channel".to_owned(),
            daily_uploads: 100,
            chunk_granularity: 256 * 1024,
            max_video_bytes: 256 * 1000 * 1000 * 1000,
            processing_ms: 3000,
        }
    }
}
