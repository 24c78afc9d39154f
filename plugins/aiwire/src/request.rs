//! Reading the contract's completion request.

use plugboard_sdk::{PluginError, invalid};

use crate::{CompletionRequest, Role};

/// The value of option `name`, if given.
pub fn option<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Refuses options the plugin does not know, naming the ones it does.
pub fn known_options(options: &[(String, String)], known: &[&str]) -> Result<(), PluginError> {
    match options.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(invalid(
            &format!("options.{k}"),
            "unknown-option",
            format!(
                "unknown option '{k}'; this provider takes: {}",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// An option parsed as a number.
pub fn number_option<T: std::str::FromStr>(
    options: &[(String, String)],
    name: &str,
) -> Result<Option<T>, PluginError> {
    option(options, name)
        .map(|v| {
            v.parse().map_err(|_| {
                invalid(
                    &format!("options.{name}"),
                    "invalid-option",
                    format!("option '{name}' must be a number, not '{v}'"),
                )
            })
        })
        .transpose()
}

/// The checks every provider makes before a network call: some conversation, a user turn,
/// a sane temperature.
pub fn check_conversation(
    req: &CompletionRequest,
    max_temperature: f32,
) -> Result<(), PluginError> {
    if !req.messages.iter().any(|m| m.role == Role::User) {
        return Err(invalid(
            "messages",
            "no-user-message",
            "the conversation needs at least one user message",
        ));
    }
    if let Some(t) = req.temperature
        && !(0.0..=max_temperature).contains(&t)
    {
        return Err(invalid(
            "temperature",
            "out-of-range",
            format!("temperature must be between 0 and {max_temperature}"),
        ));
    }
    if req.max_tokens == Some(0) {
        return Err(invalid(
            "max-tokens",
            "out-of-range",
            "max-tokens must be at least 1",
        ));
    }
    Ok(())
}

/// The system messages joined, for providers that take the system prompt apart.
pub fn system_prompt(req: &CompletionRequest) -> Option<String> {
    let parts: Vec<&str> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}
