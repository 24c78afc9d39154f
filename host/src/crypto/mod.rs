//! Cryptography the host owns: signed media URLs (credential encryption joins here).

pub mod keyfile;
pub mod signed_url;
