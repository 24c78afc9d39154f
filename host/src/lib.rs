//! Plugboard: a social publishing server whose platform integrations and AI providers are
//! sandboxed WebAssembly component plugins.

pub mod accounts;
pub mod ai;
pub mod analytics;
pub mod api;
pub mod app;
pub mod blobs;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod crypto;
pub mod events;
pub mod inbound;
pub mod inbox;
pub mod jobs;
pub mod media;
pub mod posts;
pub mod publish;
pub mod runtime;
pub mod server;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod webhooks;
