/// How a [`BlueskySim`](super::BlueskySim) presents itself and what it enforces.
/// The defaults are bsky.social's.
#[derive(Debug, Clone, PartialEq)]
pub struct BlueskyConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    /// The account that can sign in, with its app password.
    pub handle: String,
    pub did: String,
    pub app_password: String,
    /// Other accounts, `(handle, did)`, that mentions resolve to.
    pub known_handles: Vec<(String, String)>,
    /// Lifetime of an access JWT (2 hours) and a refresh JWT (90 days).
    pub access_jwt_secs: i64,
    pub refresh_jwt_secs: i64,
    /// Largest blob `uploadBlob` takes for an image (1,000,000 bytes).
    pub max_image_bytes: usize,
    /// Write points per hour and per day per DID (a created record costs 3).
    pub points_per_hour: u32,
    pub points_per_day: u32,
}

impl Default for BlueskyConfig {
    fn default() -> Self {
        BlueskyConfig {
            port: 0,
            handle: "alice.bsky.social".to_owned(),
            did: "did:plc:alice4sim7ulatorx2plugbd".to_owned(),
            app_password: "abcd-efgh-ijkl-mnop".to_owned(),
            known_handles: vec![(
                "bob.bsky.social".to_owned(),
                "did:plc:bob5sim7ulatorx2plugbdzz".to_owned(),
            )],
            access_jwt_secs: 2 * 3600,
            refresh_jwt_secs: 90 * 86_400,
            max_image_bytes: 1_000_000,
            points_per_hour: 5_000,
            points_per_day: 35_000,
        }
    }
}
