/// How a [`LinkedinSim`](super::LinkedinSim) presents itself and what it enforces.
///
/// The defaults are LinkedIn's documented values; tests shrink the slow or large ones
/// (video part size, processing time) and say so.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedinConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    /// The developer app's credentials.
    pub client_id: String,
    pub client_secret: String,
    /// Redirect URLs registered with the app; empty accepts any http(s) URL.
    pub redirect_uris: Vec<String>,
    /// Whether the app is approved for programmatic refresh tokens (partner apps only).
    pub refresh_tokens: bool,
    /// Lifetime of access tokens (LinkedIn: 60 days).
    pub access_token_ttl_secs: i64,
    /// The member who approves every authorization (`sub` of `/v2/userinfo`).
    pub member_sub: String,
    pub member_name: String,
    /// Organizations the member administers (sub-accounts).
    pub organizations: Vec<SimOrganization>,
    /// How many months back from the current one a `Linkedin-Version` stays active.
    pub active_version_months: u32,
    /// Size of every video upload part but the last (LinkedIn: 4,194,304 bytes).
    pub video_part_bytes: u64,
    /// Largest video (LinkedIn: 500 MB).
    pub max_video_bytes: u64,
    /// Longest `commentary`, in Unicode scalar values of the rendered text.
    pub max_commentary: usize,
    /// Largest image, in pixels (width × height).
    pub max_image_pixels: u64,
    /// How long a finalized video stays PROCESSING before it is AVAILABLE.
    pub video_processing_ms: u64,
    /// Posts an author may create per UTC day before 429.
    pub daily_post_limit: u32,
}

/// An organization (company page) the simulated member administers.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOrganization {
    pub id: u64,
    pub name: String,
    pub vanity_name: String,
}

impl Default for LinkedinConfig {
    fn default() -> Self {
        LinkedinConfig {
            port: 0,
            client_id: "sim-linkedin-client".to_owned(),
            client_secret: "sim-linkedin-secret".to_owned(),
            redirect_uris: Vec::new(),
            refresh_tokens: true,
            access_token_ttl_secs: 5_184_000,
            member_sub: "782bbtaQ".to_owned(),
            member_name: "Ada Lovelace".to_owned(),
            organizations: vec![SimOrganization {
                id: 2_414_183,
                name: "Analytical Engines Ltd".to_owned(),
                vanity_name: "analytical-engines".to_owned(),
            }],
            active_version_months: 12,
            video_part_bytes: 4_194_304,
            max_video_bytes: 500 * 1024 * 1024,
            max_commentary: 3000,
            max_image_pixels: 36_152_320,
            video_processing_ms: 3000,
            daily_post_limit: 150,
        }
    }
}
