//! # plugboard-sdk
//!
//! Write a Plugboard plugin in Rust: implement [`Platform`] (or [`AiProvider`]) on a unit
//! struct and call [`export_platform!`] (or [`export_ai_provider!`]) once with the
//! plugin's manifest — the outbound hosts, app secrets and storage quota it needs. Build
//! with `cargo build --target wasm32-wasip2 --release`; the result is a component the host
//! installs.
//!
//! ```ignore
//! use plugboard_sdk::prelude::*;
//!
//! struct Hello;
//! impl Platform for Hello {
//!     fn describe() -> PlatformInfo { describe::text_only("hello", "Hello", 280) }
//!     fn publish(post: Post) -> Result<PublishOutcome, PluginError> {
//!         let token = secrets::account_required("access_token")?;
//!         let created: serde_json::Value = http::post("https://api.example.com/posts")
//!             .bearer(&token)
//!             .json(&serde_json::json!({ "text": post.text }))
//!             .send()?
//!             .error_for_status()?
//!             .json()?;
//!         Ok(published(created["id"].as_str().unwrap_or_default(), None))
//!     }
//! }
//! plugboard_sdk::export_platform!(Hello, manifest = r#"
//! hosts = ["https://api.example.com"]
//! "#);
//! ```

pub mod describe;
pub mod http;
pub mod log;
pub mod oauth;
pub mod secrets;
pub mod storage;
mod traits;
pub mod wit;

pub use traits::{AiProvider, Platform};

/// The contract version this SDK builds against; recorded in every plugin's manifest.
pub const CONTRACT_VERSION: &str = "0.1.0";

pub use wit::platform::exports::plugboard::plugin::publisher::{
    AccountProfile, AuthKind, Authorization, AuthorizeRequest, CodeExchange, Comment, CommentPage,
    Connection, Credentials, Feature, MediaConstraint, MediaRules, Metric, Oauth2Info, PendingPost,
    PlatformInfo, Post, PostKind, PublishOutcome, PublishedPost, RateLimitRule, RateScope,
    ReconcileOutcome, StatusChange, TextCounting, TextRules, ThreadItem, WebhookEvent,
    WebhookReply, WebhookRequest,
};
pub use wit::platform::plugboard::plugin::types::{MediaRef, PluginError, Problem, RateLimit};

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::describe;
    pub use crate::http;
    pub use crate::log;
    pub use crate::oauth;
    pub use crate::secrets;
    pub use crate::storage;
    pub use crate::*;
    pub use crate::{invalid, pair, published, unsupported};
}

/// A `(name, value)` pair as the contract uses them.
pub fn pair(name: impl Into<String>, value: impl Into<String>) -> (String, String) {
    (name.into(), value.into())
}

/// A `published` outcome with no thread items.
pub fn published(remote_id: impl Into<String>, url: Option<String>) -> PublishOutcome {
    PublishOutcome::Published(PublishedPost {
        remote_id: remote_id.into(),
        url,
        thread_ids: Vec::new(),
    })
}

/// An `unsupported` error for an operation the platform does not offer.
pub fn unsupported(what: &str) -> PluginError {
    PluginError::Unsupported(format!("{what} is not supported by this platform"))
}

/// An `invalid-content` error with one problem.
pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> PluginError {
    PluginError::InvalidContent(vec![Problem {
        field: field.to_string(),
        code: code.to_string(),
        message: message.into(),
    }])
}

/// Copies a manifest string into a fixed-size array so it can live in a custom section.
#[doc(hidden)]
pub const fn manifest_bytes<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Writes the manifest custom section (`plugboard:manifest`) that the host reads before it
/// compiles a plugin: id and version from `Cargo.toml`, the contract version of this SDK,
/// the world, and the author's TOML (hosts, secrets, storage quota, name, description).
#[doc(hidden)]
#[macro_export]
macro_rules! __manifest_section {
    ($world:literal, $manifest:literal) => {
        const __PLUGBOARD_MANIFEST_TEXT: &str = concat!(
            "id = \"",
            env!("CARGO_PKG_NAME"),
            "\"\nversion = \"",
            env!("CARGO_PKG_VERSION"),
            "\"\ncontract = \"0.1.0\"\nworld = \"",
            $world,
            "\"\n",
            $manifest
        );
        #[unsafe(link_section = "plugboard:manifest")]
        #[used]
        static __PLUGBOARD_MANIFEST: [u8; __PLUGBOARD_MANIFEST_TEXT.len()] =
            $crate::manifest_bytes(__PLUGBOARD_MANIFEST_TEXT);
    };
}
