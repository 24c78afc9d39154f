//! Server configuration: flags, each with an environment variable, and embedded defaults
//! (SQLite and local storage in `./data`, listening on 127.0.0.1:8080).

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "PLUGBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder for the database, plugin artifacts, compiled cache, media and keys.
    #[arg(long, env = "PLUGBOARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://…` for several nodes; default SQLite in the data folder.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Public base URL of this server (signed media URLs that platforms fetch); default
    /// `http://LISTEN`.
    #[arg(long, env = "PLUGBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Operator token for the admin API; default: generated into DATA_DIR/admin-token.
    #[arg(long, env = "PLUGBOARD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Key that encrypts stored credentials (64 hex characters); default: key files in
    /// DATA_DIR/keys/credentials, generated on first start.
    #[arg(long, env = "PLUGBOARD_CREDENTIALS_KEY", hide_env_values = true)]
    pub credentials_key: Option<crate::crypto::credentials::KeyHex>,

    /// Folder of first-party plugin components installed on first start.
    #[arg(
        long,
        env = "PLUGBOARD_BUNDLED_PLUGINS",
        default_value = "plugins/target/wasm32-wasip2/release"
    )]
    pub bundled_plugins: PathBuf,

    /// Internal address ranges plugins may reach anyway (comma-separated CIDRs, e.g.
    /// `127.0.0.1/32` for local simulators). Loopback, private, link-local and metadata
    /// addresses are refused otherwise.
    #[arg(long, env = "PLUGBOARD_HTTP_ALLOW_RANGES", value_delimiter = ',')]
    pub http_allow_ranges: Vec<ipnet::IpNet>,

    /// Plugin calls that may run at once (sizes the instance pool).
    #[arg(long, env = "PLUGBOARD_MAX_CONCURRENT_CALLS", default_value_t = 1000)]
    pub max_concurrent_calls: u32,

    /// S3-compatible bucket for media instead of the local folder (credentials from the
    /// usual `AWS_*` variables).
    #[arg(long, env = "PLUGBOARD_S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// Endpoint of the S3-compatible service (MinIO, R2, …).
    #[arg(long, env = "PLUGBOARD_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Frontend origins allowed by CORS (comma-separated, e.g. `https://app.example.com`).
    #[arg(long, env = "PLUGBOARD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Largest media file accepted by an upload, in bytes (direct or resumable).
    #[arg(long, env = "PLUGBOARD_MAX_UPLOAD_BYTES", default_value_t = 5 << 30)]
    pub max_upload_bytes: u64,

    /// Seconds a node's claim on a job lasts without a heartbeat (sent every third of it):
    /// the jobs of a node that died are taken over this long after its last heartbeat.
    #[arg(long, env = "PLUGBOARD_JOB_LEASE_SECS", default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub job_lease_secs: u64,

    /// Jobs this node runs at once (publishes, status checks, webhook deliveries, …).
    #[arg(long, env = "PLUGBOARD_JOB_CONCURRENCY", default_value_t = 64,
        value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub job_concurrency: u64,

    /// Log as JSON lines.
    #[arg(long, env = "PLUGBOARD_LOG_JSON")]
    pub log_json: bool,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("plugboard.db").display()))
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// A configuration for tests and embedding: everything default, in `data_dir`.
    pub fn for_data_dir(data_dir: PathBuf) -> Config {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Wrapper::parse_from(["plugboard"]).config;
        config.data_dir = data_dir;
        config
    }
}
