//! Protocol simulators of the platforms Plugboard publishes to.
//!
//! Each simulator is a real HTTP server on 127.0.0.1 that speaks the platform's
//! API closely enough for a plugin to run its whole flow against it, records
//! what it was sent, and can be told to misbehave, so that end-to-end tests
//! exercise the failure paths real platforms produce.

pub mod ai;
pub mod anthropic;
pub mod bluesky;
pub mod facebook;
pub mod gemini;
pub mod graph;
pub mod instagram;
pub mod linkedin;
pub mod mastodon;
pub mod openai;
pub mod threads;
pub mod tiktok;
pub mod x;
pub mod youtube;

pub use ai::{AiFault, AiFaultAction, AiRequest, AiSim, StreamRecord};
pub use anthropic::{AnthropicConfig, AnthropicSim};
pub use bluesky::{BlueskyConfig, BlueskySim};
pub use facebook::{FacebookConfig, FacebookSim};
pub use gemini::{GeminiConfig, GeminiSim};
pub use instagram::{InstagramConfig, InstagramSim};
pub use linkedin::{LinkedinConfig, LinkedinSim};
pub use mastodon::{
    Fault, FaultAction, MastodonConfig, MastodonSim, RecordedPart, RecordedRequest, RecordedStatus,
};
pub use openai::{ErrorStyle, OpenAiConfig, OpenAiSim};
pub use threads::{ThreadsConfig, ThreadsSim};
pub use tiktok::{TikTokConfig, TikTokSim};
pub use x::{XConfig, XSim};
pub use youtube::{YoutubeConfig, YoutubeSim};
