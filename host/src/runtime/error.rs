//! Typed errors of a plugin call. Traps and limit breaches (the host's side) are
//! [`CallError`]; errors the plugin returns stay in the call's inner `Result`.

use thiserror::Error;

/// A limit a call can run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Cpu,
    WallClock,
    Memory,
    Stack,
    Table,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::Cpu => "CPU time",
            Limit::WallClock => "wall-clock time",
            Limit::Memory => "memory",
            Limit::Stack => "stack",
            Limit::Table => "table",
        })
    }
}

#[derive(Debug, Error)]
pub enum CallError {
    #[error("plugin `{0}` is not installed")]
    NotInstalled(String),
    #[error(
        "plugin `{plugin}` {version} is a {actual} plugin; this call needs a {expected} plugin"
    )]
    WrongWorld {
        plugin: String,
        version: String,
        actual: &'static str,
        expected: &'static str,
    },
    #[error(
        "plugin `{plugin}` {version} exceeded its {limit} limit ({detail}) in `{function}`; the operator can raise it with `plugboard plugin grant {plugin} --limit …`"
    )]
    LimitExceeded {
        plugin: String,
        version: String,
        function: &'static str,
        limit: Limit,
        detail: String,
    },
    #[error("plugin `{plugin}` {version} crashed in `{function}`: {message}")]
    Crashed {
        plugin: String,
        version: String,
        function: &'static str,
        message: String,
    },
    #[error("plugin `{plugin}` {version} could not be instantiated: {message}")]
    Instantiate {
        plugin: String,
        version: String,
        message: String,
    },
}

impl CallError {
    /// The limit that was breached, if that is what happened.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            CallError::LimitExceeded { limit, .. } => Some(*limit),
            _ => None,
        }
    }
}
