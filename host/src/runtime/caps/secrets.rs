//! Secrets: granted app secrets and the current account's credentials, nothing else.

use crate::runtime::grants::HostRefusal;
use crate::runtime::state::HostState;
use plugboard_bindings::platform::plugboard::plugin::secrets::{self as wit, SecretError};

impl wit::Host for HostState {
    async fn app(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, SecretError>> {
        if let Err(refusal) = self.effective.secret_allowed(&name) {
            let msg = match refusal {
                HostRefusal::NotDeclared => format!(
                    "{} may not read app secret `{name}`: its manifest does not declare it",
                    self.who()
                ),
                HostRefusal::NotGranted => format!(
                    "{} may not read app secret `{name}`: the operator has not granted it. Grant it with `plugboard plugin grant {} --secret {name}`",
                    self.who(),
                    self.info.plugin
                ),
            };
            return Ok(Err(SecretError::NotGranted(msg)));
        }
        Ok(Ok(self.ctx.app_secrets.get(&name).cloned()))
    }

    async fn account(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Option<String>, SecretError>> {
        Ok(match &self.ctx.account {
            None => Err(SecretError::NoAccount),
            Some(acct) => Ok(acct.values.get(&name).cloned()),
        })
    }
}
