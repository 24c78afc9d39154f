//! Reading OpenAI request bodies the way the API does: unknown arguments refused, types
//! and ranges checked, with OpenAI's messages, params and codes.

use serde_json::{Map, Value};

use super::error::ApiError;

pub(crate) type Body = Map<String, Value>;

pub(crate) fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
        )),
    }
}

pub(crate) fn reject_unknown(body: &Body, known: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(format!(
            "Unrecognized request argument supplied: {k}"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn missing(name: &str) -> ApiError {
    ApiError::invalid(format!("Missing required parameter: '{name}'."))
        .param(name)
        .code("missing_required_parameter")
}

fn wrong_type(name: &str, expected: &str, got: &Value) -> ApiError {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    ApiError::invalid(format!(
        "Invalid type for '{name}': expected {expected}, but got {got} instead."
    ))
    .param(name)
    .code("invalid_type")
}

pub(crate) fn string<'a>(body: &'a Body, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(name, "a string", other)),
    }
}

pub(crate) fn required_string<'a>(body: &'a Body, name: &str) -> Result<&'a str, ApiError> {
    string(body, name)?.ok_or_else(|| missing(name))
}

pub(crate) fn boolean(body: &Body, name: &str) -> Result<Option<bool>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(name, "a boolean", other)),
    }
}

/// An integer `>= min` (and `<= max` when given).
pub(crate) fn integer(
    body: &Body,
    name: &str,
    min: u64,
    max: Option<u64>,
) -> Result<Option<u32>, ApiError> {
    let value = match body.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let Some(n) = value.as_i64() else {
        return Err(wrong_type(name, "an integer", value));
    };
    if n < min as i64 {
        return Err(ApiError::invalid(format!(
            "Invalid '{name}': integer below minimum value. Expected a value >= {min}, but got {n} instead."
        ))
        .param(name)
        .code("integer_below_min_value"));
    }
    if let Some(max) = max
        && n as u64 > max
    {
        return Err(ApiError::invalid(format!(
            "Invalid '{name}': integer above maximum value. Expected a value <= {max}, but got {n} instead."
        ))
        .param(name)
        .code("integer_above_max_value"));
    }
    Ok(Some(u32::try_from(n).unwrap_or(u32::MAX)))
}

/// A number within `[min, max]`.
pub(crate) fn decimal(body: &Body, name: &str, min: f64, max: f64) -> Result<(), ApiError> {
    let value = match body.get(name) {
        None | Some(Value::Null) => return Ok(()),
        Some(v) => v,
    };
    let Some(n) = value.as_f64() else {
        return Err(wrong_type(name, "a decimal", value));
    };
    if n < min {
        return Err(ApiError::invalid(format!(
            "Invalid '{name}': decimal below minimum value. Expected a value >= {min}, but got {n} instead."
        ))
        .param(name)
        .code("decimal_below_min_value"));
    }
    if n > max {
        return Err(ApiError::invalid(format!(
            "Invalid '{name}': decimal above maximum value. Expected a value <= {max}, but got {n} instead."
        ))
        .param(name)
        .code("decimal_above_max_value"));
    }
    Ok(())
}

/// `value` must be one of `allowed`.
pub(crate) fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    Err(ApiError::invalid(format!(
        "Invalid value: '{value}'. Supported values are: {}.",
        list.join(", ")
    ))
    .param(name)
    .code("invalid_value"))
}

/// The text of a message `content`: a string, or an array of text parts (`type` one of
/// `text_types`).
pub(crate) fn content_text(
    content: &Value,
    param: &str,
    text_types: &[&str],
) -> Result<String, ApiError> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
                one_of(&format!("{param}[{i}].type"), kind, text_types)?;
                match part.get("text") {
                    Some(Value::String(t)) => out.push(t.clone()),
                    _ => return Err(missing(&format!("{param}[{i}].text"))),
                }
            }
            Ok(out.join("\n"))
        }
        other => Err(wrong_type(param, "a string or an array", other)),
    }
}
