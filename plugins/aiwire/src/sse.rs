//! Server-sent events from a streamed response body.

use std::collections::VecDeque;

use plugboard_sdk::PluginError;
use plugboard_sdk::http::{BodyStream, http_error};

/// One event: its `event:` name (if any) and its `data:` lines joined by newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event: Option<String>,
    pub data: String,
}

/// Parses events out of the bytes as they arrive.
#[derive(Default)]
pub struct Parser {
    buffer: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    ready: VecDeque<Event>,
}

impl Parser {
    /// Feeds a chunk; complete events become available from [`Parser::pop`].
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            self.line(line.strip_suffix('\r').unwrap_or(&line));
        }
    }

    fn line(&mut self, line: &str) {
        if line.is_empty() {
            if !self.data.is_empty() || self.event.is_some() {
                self.ready.push_back(Event {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data).join("\n"),
                });
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
    }

    /// The next complete event.
    pub fn pop(&mut self) -> Option<Event> {
        self.ready.pop_front()
    }

    /// At the end of the body: an event not followed by a blank line still counts.
    pub fn finish(&mut self) {
        if !self.buffer.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buffer)).into_owned();
            self.line(rest.trim_end_matches('\r'));
        }
        self.line("");
    }
}

/// Events read from a host body stream as they arrive.
pub struct Reader {
    body: BodyStream,
    parser: Parser,
    done: bool,
}

impl Reader {
    pub fn new(body: BodyStream) -> Reader {
        Reader {
            body,
            parser: Parser::default(),
            done: false,
        }
    }

    /// The next event, or `None` at the end of the body.
    pub fn next_event(&mut self) -> Result<Option<Event>, PluginError> {
        loop {
            if let Some(event) = self.parser.pop() {
                return Ok(Some(event));
            }
            if self.done {
                return Ok(None);
            }
            match self.body.next().map_err(http_error)? {
                Some(chunk) => self.parser.push(&chunk),
                None => {
                    self.done = true;
                    self.parser.finish();
                }
            }
        }
    }
}

/// Reads a whole (error) body from a stream.
pub fn read_all(body: &BodyStream) -> Result<Vec<u8>, PluginError> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().map_err(http_error)? {
        out.extend_from_slice(&chunk);
        if out.len() > 1 << 20 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_line_endings() {
        let mut p = Parser::default();
        p.push(b"event: message_start\r\ndata: {\"a\":");
        assert_eq!(p.pop(), None);
        p.push(b"1}\r\n\r\n: comment\n\ndata: one\ndata: two\n\ndata: [DONE]");
        assert_eq!(
            p.pop(),
            Some(Event {
                event: Some("message_start".into()),
                data: "{\"a\":1}".into()
            })
        );
        assert_eq!(p.pop().unwrap().data, "one\ntwo");
        assert_eq!(p.pop(), None);
        p.finish();
        assert_eq!(p.pop().unwrap().data, "[DONE]");
    }
}
