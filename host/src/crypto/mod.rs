//! Cryptography the host owns: credential encryption at rest, signed media URLs.

pub mod credentials;
pub mod keyfile;
pub mod signed_url;
