//! Runs a protocol simulator standalone, e.g. `plugboard-sim mastodon --port 4001`,
//! for trying plugins by hand. It is driven over HTTP under `/__sim/`.

use clap::{Args, Parser, Subcommand};
use plugboard_simulators::{MastodonConfig, MastodonSim};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    version,
    about = "Protocol simulators of the platforms Plugboard publishes to"
)]
struct Cli {
    #[command(subcommand)]
    platform: Platform,
}

/// One subcommand per simulated platform.
#[derive(Subcommand)]
enum Platform {
    /// A Mastodon 4.3 instance.
    Mastodon(MastodonArgs),
}

#[derive(Args)]
struct MastodonArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, env = "PLUGBOARD_SIM_MASTODON_PORT", default_value_t = 4001)]
    port: u16,
    /// Account that OAuth authorization approves as.
    #[arg(long, default_value = "alice")]
    username: String,
    /// How long video, gifv and audio uploads stay in processing.
    #[arg(long, default_value_t = 300)]
    media_processing_ms: u64,
    /// Status length limit.
    #[arg(long, default_value_t = 500)]
    max_characters: usize,
    /// Requests per account per rate-limit window (5 minutes).
    #[arg(long, default_value_t = 300)]
    api_rate_limit: u32,
    /// Media uploads per account per media rate-limit window (30 minutes).
    #[arg(long, default_value_t = 30)]
    media_rate_limit: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().platform {
        Platform::Mastodon(args) => {
            let sim = MastodonSim::start(MastodonConfig {
                port: args.port,
                username: args.username,
                media_processing_ms: args.media_processing_ms,
                max_characters: args.max_characters,
                api_rate_limit: args.api_rate_limit,
                media_rate_limit: args.media_rate_limit,
                ..MastodonConfig::default()
            })
            .await?;
            tracing::info!(base_url = %sim.base_url(), "mastodon simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
    }
    Ok(())
}
