//! Plugin logs into `tracing`, tagged with plugin, version, call and account, with a per-call
//! budget so a chatty or hostile plugin cannot flood the host's logs.

use crate::runtime::state::HostState;
use plugboard_bindings::platform::plugboard::plugin::log::{self as wit, Level};

impl wit::Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.counters.log_lines += 1;
        if self.counters.log_lines > self.limits.log_lines {
            self.counters.log_dropped += 1;
            return Ok(());
        }
        let mut message = message;
        let cap = self.limits.log_message_bytes as usize;
        if message.len() > cap {
            let mut cut = cap;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let i = &self.info;
        let account = i.account.as_deref().unwrap_or("-");
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(target: "plugin", plugin = %i.plugin, version = %i.version, call = %i.call_id, function = i.function, account, "{message}")
            };
        }
        match level {
            Level::Trace => emit!(trace),
            Level::Debug => emit!(debug),
            Level::Info => emit!(info),
            Level::Warn => emit!(warn),
            Level::Error => emit!(error),
        }
        Ok(())
    }
}
