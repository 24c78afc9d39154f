//! The completion sink of the AI world: streamed deltas go straight to whoever listens.

use crate::runtime::state::HostState;
use plugboard_bindings::CompletionSink;
use plugboard_bindings::ai::plugboard::plugin::sink as wit;
use wasmtime::component::Resource;

impl wit::Host for HostState {}

impl wit::HostCompletionSink for HostState {
    async fn delta(
        &mut self,
        sink: Resource<CompletionSink>,
        text: String,
    ) -> wasmtime::Result<Result<(), ()>> {
        let entry = self.table.get_mut(&sink)?;
        Ok(if entry.inner.deliver(text) {
            Ok(())
        } else {
            Err(())
        })
    }

    async fn drop(&mut self, sink: Resource<CompletionSink>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}
