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
    /// Threads (graph.threads.net and its OAuth dialog on one port).
    Threads {
        #[arg(long, env = "PLUGBOARD_SIM_THREADS_PORT", default_value_t = 4041)]
        port: u16,
    },
    /// A Bluesky PDS and entryway (sign in as alice.bsky.social, app password abcd-efgh-ijkl-mnop).
    Bluesky {
        #[arg(long, env = "PLUGBOARD_SIM_BLUESKY_PORT", default_value_t = 4042)]
        port: u16,
    },
    /// TikTok Content Posting API with its consent page and upload URLs on one port.
    Tiktok {
        #[arg(long, env = "PLUGBOARD_SIM_TIKTOK_PORT", default_value_t = 4022)]
        port: u16,
    },
    /// X API v2 with its OAuth 2.0 / OAuth 1.0a consent pages on one port.
    X {
        #[arg(long, env = "PLUGBOARD_SIM_X_PORT", default_value_t = 4021)]
        port: u16,
    },
    /// LinkedIn REST API, OAuth and upload URLs on one port (client `sim-linkedin-client`).
    Linkedin {
        #[arg(long, env = "PLUGBOARD_SIM_LINKEDIN_PORT", default_value_t = 4051)]
        port: u16,
    },
    /// YouTube Data API, uploads and Google OAuth on one port.
    Youtube {
        #[arg(long, env = "PLUGBOARD_SIM_YOUTUBE_PORT", default_value_t = 4052)]
        port: u16,
    },
    /// Facebook Pages (Graph API, graph-video, rupload and the login dialog on one port).
    Facebook {
        #[arg(long, env = "PLUGBOARD_SIM_FACEBOOK_PORT", default_value_t = 4011)]
        port: u16,
    },
    /// Instagram (graph.instagram.com, api/www.instagram.com and Facebook Login on one port).
    Instagram {
        #[arg(long, env = "PLUGBOARD_SIM_INSTAGRAM_PORT", default_value_t = 4012)]
        port: u16,
    },
    /// The OpenAI API (key `sk-test-openai`); `--flavor xai` or `local` for xAI or a
    /// local OpenAI-compatible server.
    Openai {
        #[arg(long, env = "PLUGBOARD_SIM_OPENAI_PORT", default_value_t = 4031)]
        port: u16,
        #[arg(long, default_value = "openai", value_parser = ["openai", "xai", "local"])]
        flavor: String,
        /// Pause before each streamed token.
        #[arg(long, default_value_t = 30)]
        token_delay_ms: u64,
    },
    /// The Anthropic Messages API (key `sk-ant-test`).
    Anthropic {
        #[arg(long, env = "PLUGBOARD_SIM_ANTHROPIC_PORT", default_value_t = 4032)]
        port: u16,
        #[arg(long, default_value_t = 30)]
        token_delay_ms: u64,
    },
    /// The Gemini API (key `AIza-test-gemini`).
    Gemini {
        #[arg(long, env = "PLUGBOARD_SIM_GEMINI_PORT", default_value_t = 4033)]
        port: u16,
        #[arg(long, default_value_t = 30)]
        token_delay_ms: u64,
    },
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
        Platform::Threads { port } => {
            let sim =
                plugboard_simulators::ThreadsSim::start(plugboard_simulators::ThreadsConfig {
                    port,
                    ..Default::default()
                })
                .await?;
            tracing::info!(base_url = %sim.base_url(), "threads simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Bluesky { port } => {
            let sim =
                plugboard_simulators::BlueskySim::start(plugboard_simulators::BlueskyConfig {
                    port,
                    ..Default::default()
                })
                .await?;
            tracing::info!(base_url = %sim.base_url(), "bluesky simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Openai {
            port,
            flavor,
            token_delay_ms,
        } => {
            let base = match flavor.as_str() {
                "xai" => plugboard_simulators::OpenAiConfig::xai(),
                "local" => plugboard_simulators::OpenAiConfig::local(),
                _ => plugboard_simulators::OpenAiConfig::default(),
            };
            let sim = plugboard_simulators::OpenAiSim::start(plugboard_simulators::OpenAiConfig {
                port,
                token_delay_ms,
                ..base
            })
            .await?;
            tracing::info!(base_url = %sim.base_url(), %flavor, "openai simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Anthropic {
            port,
            token_delay_ms,
        } => {
            let sim =
                plugboard_simulators::AnthropicSim::start(plugboard_simulators::AnthropicConfig {
                    port,
                    token_delay_ms,
                    ..Default::default()
                })
                .await?;
            tracing::info!(base_url = %sim.base_url(), "anthropic simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Gemini {
            port,
            token_delay_ms,
        } => {
            let sim = plugboard_simulators::GeminiSim::start(plugboard_simulators::GeminiConfig {
                port,
                token_delay_ms,
                ..Default::default()
            })
            .await?;
            tracing::info!(base_url = %sim.base_url(), "gemini simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Tiktok { port } => {
            let sim = plugboard_simulators::TikTokSim::start(plugboard_simulators::TikTokConfig {
                port,
                ..Default::default()
            })
            .await?;
            tracing::info!(base_url = %sim.base_url(), client_key = %sim.config().client_key, "tiktok simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::X { port } => {
            let sim = plugboard_simulators::XSim::start(plugboard_simulators::XConfig {
                port,
                ..Default::default()
            })
            .await?;
            let c = sim.config();
            tracing::info!(base_url = %sim.base_url(), client_id = %c.client_id, consumer_key = %c.consumer_key, "x simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Linkedin { port } => {
            let config = plugboard_simulators::LinkedinConfig {
                port,
                ..Default::default()
            };
            let sim = plugboard_simulators::LinkedinSim::start(config.clone()).await?;
            tracing::info!(base_url = %sim.base_url(), client_id = %config.client_id, "linkedin simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Youtube { port } => {
            let config = plugboard_simulators::YoutubeConfig {
                port,
                ..Default::default()
            };
            let sim = plugboard_simulators::YoutubeSim::start(config.clone()).await?;
            tracing::info!(base_url = %sim.base_url(), client_id = %config.client_id, "youtube simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Instagram { port } => {
            let sim =
                plugboard_simulators::InstagramSim::start(plugboard_simulators::InstagramConfig {
                    port,
                    ..Default::default()
                })
                .await?;
            tracing::info!(base_url = %sim.base_url(), app_id = %sim.config().app_id, "instagram simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
        Platform::Facebook { port } => {
            let sim =
                plugboard_simulators::FacebookSim::start(plugboard_simulators::FacebookConfig {
                    port,
                    ..Default::default()
                })
                .await?;
            tracing::info!(base_url = %sim.base_url(), app_id = %sim.config().app_id, "facebook simulator listening");
            tokio::signal::ctrl_c().await?;
            sim.shutdown().await;
        }
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
