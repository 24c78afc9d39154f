//! Plugboard: a social publishing server whose platform integrations and AI providers are
//! sandboxed WebAssembly component plugins.

pub mod api;
pub mod app;
pub mod blobs;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod runtime;
pub mod server;
pub mod store;
