//! Deterministic model output: the answer repeats the prompt, so tests can check that
//! what they sent came back, token by token.

/// What the simulated model says to `prompt`, cut at `max_tokens`.
pub(crate) struct Reply {
    /// Word-sized tokens, each but the first with its leading space.
    pub tokens: Vec<String>,
    /// Cut short by `max_tokens`.
    pub truncated: bool,
}

impl Reply {
    pub fn text(&self) -> String {
        self.tokens.concat()
    }

    pub fn output_tokens(&self) -> u32 {
        u32::try_from(self.tokens.len()).unwrap_or(u32::MAX)
    }
}

/// `You said: <prompt>`, split into word tokens.
pub(crate) fn reply(prompt: &str, max_tokens: Option<u32>) -> Reply {
    let text = format!("You said: {}", prompt.trim());
    let mut tokens: Vec<String> = Vec::new();
    for (i, word) in text.split_whitespace().enumerate() {
        tokens.push(if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        });
    }
    let limit = max_tokens.map_or(usize::MAX, |m| m as usize);
    let truncated = tokens.len() > limit;
    tokens.truncate(limit);
    Reply { tokens, truncated }
}

/// The simulators' tokenizer: one token per whitespace-separated word, plus one per
/// message for its framing.
pub(crate) fn count_tokens(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_echoes_the_prompt_and_respects_the_token_cap() {
        let full = reply("hello  brave new world", None);
        assert_eq!(full.text(), "You said: hello brave new world");
        assert_eq!(full.output_tokens(), 6);
        assert!(!full.truncated);
        let cut = reply("hello brave new world", Some(3));
        assert_eq!(cut.text(), "You said: hello");
        assert!(cut.truncated);
    }
}
