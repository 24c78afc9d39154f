//! `POST /v1/images/generations`, `/edits` and `/variations`: real image files.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::params;
use super::{OpenAi, unix_now};
use crate::ai::{self, Field, files};

/// What a model accepts.
struct Rules {
    /// Accepted `size` values; empty: `size` is not a parameter of this model.
    sizes: &'static [&'static str],
    default_size: (u32, u32),
    max_n: u32,
    max_prompt: usize,
    /// Answers base64 only and refuses `response_format`.
    b64_only: bool,
    /// Takes `output_format`.
    output_formats: bool,
    edits: bool,
    variations: bool,
}

fn rules(model: &str) -> Rules {
    match model {
        m if m.starts_with("gpt-image") => Rules {
            sizes: &["1024x1024", "1536x1024", "1024x1536", "auto"],
            default_size: (1024, 1024),
            max_n: 10,
            max_prompt: 32_000,
            b64_only: true,
            output_formats: true,
            edits: true,
            variations: false,
        },
        "dall-e-3" => Rules {
            sizes: &["1024x1024", "1792x1024", "1024x1792"],
            default_size: (1024, 1024),
            max_n: 1,
            max_prompt: 4_000,
            b64_only: false,
            output_formats: false,
            edits: false,
            variations: false,
        },
        "dall-e-2" => Rules {
            sizes: &["256x256", "512x512", "1024x1024"],
            default_size: (1024, 1024),
            max_n: 10,
            max_prompt: 1_000,
            b64_only: false,
            output_formats: false,
            edits: true,
            variations: true,
        },
        // xAI's image models take no size and answer 1024×768.
        _ => Rules {
            sizes: &[],
            default_size: (1024, 768),
            max_n: 10,
            max_prompt: 8_000,
            b64_only: false,
            output_formats: false,
            edits: false,
            variations: false,
        },
    }
}

/// The parameters every image endpoint shares, read from JSON or multipart text fields.
struct Ask {
    model: String,
    prompt: String,
    n: u32,
    size: (u32, u32),
    b64: bool,
    format: Format,
}

/// `output_format`.
#[derive(Clone, Copy)]
enum Format {
    Png,
    Jpeg,
    Webp,
}

const GENERATION_FIELDS: &[&str] = &[
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "response_format",
    "style",
    "output_format",
    "output_compression",
    "background",
    "moderation",
    "user",
    "partial_images",
    "stream",
];

const EDIT_FIELDS: &[&str] = &[
    "image",
    "image[]",
    "mask",
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "response_format",
    "output_format",
    "output_compression",
    "background",
    "input_fidelity",
    "user",
    "partial_images",
    "stream",
];

const VARIATION_FIELDS: &[&str] = &["image", "model", "n", "size", "response_format", "user"];

pub(crate) async fn generate(
    State(sim): State<Arc<OpenAi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        sim.authorize(&headers)?;
        let body = params::parse(&body)?;
        params::reject_unknown(&body, GENERATION_FIELDS)?;
        let ask = read(&sim, &body, true)?;
        Ok::<_, ApiError>(answer(&sim, &ask, &ask.prompt))
    })();
    result.unwrap_or_else(|e| sim.fail(e))
}

pub(crate) async fn edit(
    State(sim): State<Arc<OpenAi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match form(&sim, &headers, body).await {
        Ok(f) => f,
        Err(e) => return sim.fail(e),
    };
    let result = (|| {
        let (text, images) = split(&fields, EDIT_FIELDS)?;
        let ask = read(&sim, &text, true)?;
        if !rules(&ask.model).edits {
            return Err(ApiError::invalid(format!(
                "Invalid model {}. The model must be one of dall-e-2, gpt-image-1.",
                ask.model
            ))
            .param("model"));
        }
        let sources = check_sources(&ask.model, &images)?;
        let seed = format!("{}|{}", ask.prompt, sources);
        Ok(answer(&sim, &ask, &seed))
    })();
    result.unwrap_or_else(|e| sim.fail(e))
}

pub(crate) async fn variation(
    State(sim): State<Arc<OpenAi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match form(&sim, &headers, body).await {
        Ok(f) => f,
        Err(e) => return sim.fail(e),
    };
    let result = (|| {
        let (text, images) = split(&fields, VARIATION_FIELDS)?;
        let ask = read(&sim, &text, false)?;
        if !rules(&ask.model).variations {
            return Err(ApiError::invalid(format!(
                "Invalid model {}. The model must be dall-e-2.",
                ask.model
            ))
            .param("model"));
        }
        let sources = check_sources(&ask.model, &images)?;
        Ok(answer(&sim, &ask, &format!("variation|{sources}")))
    })();
    result.unwrap_or_else(|e| sim.fail(e))
}

/// Authorizes, then reads a multipart body.
async fn form(sim: &OpenAi, headers: &HeaderMap, body: Bytes) -> Result<Vec<Field>, ApiError> {
    sim.authorize(headers)?;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("multipart/form-data") {
        return Err(ApiError::invalid(
            "Invalid Content-Type header (expected multipart/form-data).",
        ));
    }
    ai::multipart(content_type, body)
        .await
        .map_err(|e| ApiError::invalid(format!("Could not parse multipart form: {e}")))
}

/// Text fields as a JSON object (numbers parsed), and the file fields.
fn split<'a>(
    fields: &'a [Field],
    known: &[&str],
) -> Result<(Map<String, Value>, Vec<&'a Field>), ApiError> {
    let mut text = Map::new();
    let mut images = Vec::new();
    for field in fields {
        if !known.contains(&field.name.as_str()) {
            return Err(ApiError::invalid(format!(
                "Unrecognized request argument supplied: {}",
                field.name
            )));
        }
        if field.file_name.is_some() || field.name == "image" || field.name == "image[]" {
            if field.name != "mask" {
                images.push(field);
            }
            continue;
        }
        let value = String::from_utf8_lossy(&field.data).into_owned();
        let value = match (field.name.as_str(), value.parse::<i64>()) {
            ("n" | "output_compression" | "partial_images", Ok(n)) => json!(n),
            _ => json!(value),
        };
        text.insert(field.name.clone(), value);
    }
    Ok((text, images))
}

/// Checks the source images of an edit or variation; returns a seed describing them.
fn check_sources(model: &str, images: &[&Field]) -> Result<String, ApiError> {
    if images.is_empty() {
        return Err(params::missing("image"));
    }
    let dall_e = model == "dall-e-2";
    if dall_e && images.len() > 1 {
        return Err(ApiError::invalid("dall-e-2 takes exactly one image.").param("image"));
    }
    if images.len() > 16 {
        return Err(ApiError::invalid("At most 16 images can be edited at once.").param("image"));
    }
    let mut seed = String::new();
    for image in images {
        let mime = files::image_mime(&image.data);
        let supported = if dall_e {
            matches!(mime, Some("image/png"))
        } else {
            mime.is_some()
        };
        if !supported {
            let declared = image
                .content_type
                .as_deref()
                .unwrap_or("application/octet-stream");
            let expected = if dall_e {
                "'image/png'"
            } else {
                "'image/jpeg', 'image/png', and 'image/webp'"
            };
            return Err(ApiError::invalid(format!(
                "Invalid file 'image': unsupported mimetype ('{declared}'). Supported file formats are {expected}."
            ))
            .param("image")
            .code("invalid_image_format"));
        }
        let limit = if dall_e { 4 << 20 } else { 50 << 20 };
        if image.data.len() >= limit {
            return Err(ApiError::invalid(format!(
                "Invalid file 'image': the image must be less than {} MB.",
                limit >> 20
            ))
            .param("image")
            .code("image_too_large"));
        }
        let Some((w, h)) = files::image_dimensions(&image.data) else {
            return Err(
                ApiError::invalid("Invalid file 'image': the image could not be decoded.")
                    .param("image"),
            );
        };
        if dall_e && w != h {
            return Err(ApiError::invalid(
                "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB. Uploaded image must be a PNG and square.",
            )
            .param("image")
            .code("invalid_image"));
        }
        seed.push_str(&format!("{w}x{h}:{};", image.data.len()));
    }
    Ok(seed)
}

fn read(sim: &OpenAi, body: &Map<String, Value>, needs_prompt: bool) -> Result<Ask, ApiError> {
    let model = match params::string(body, "model")? {
        Some(m) => m.to_owned(),
        None if sim.config.image_models.iter().any(|m| m == "dall-e-2") => "dall-e-2".to_owned(),
        None => return Err(params::missing("model")),
    };
    if !sim.config.image_models.contains(&model) {
        return Err(ApiError::model_not_found(&model));
    }
    let rules = rules(&model);
    let prompt = if needs_prompt {
        params::required_string(body, "prompt")?.to_owned()
    } else {
        String::new()
    };
    if prompt.chars().count() > rules.max_prompt {
        return Err(ApiError::invalid(format!(
            "Invalid 'prompt': string too long. Expected a string with maximum length {}, but got a string with length {} instead.",
            rules.max_prompt,
            prompt.chars().count()
        ))
        .param("prompt")
        .code("string_above_max_length"));
    }
    let n = params::integer(body, "n", 1, None)?.unwrap_or(1);
    if n > rules.max_n {
        let message = if rules.max_n == 1 {
            "You must provide n=1 for this model.".to_owned()
        } else {
            format!(
                "Invalid 'n': integer above maximum value. Expected a value <= {}, but got {n} instead.",
                rules.max_n
            )
        };
        return Err(ApiError::invalid(message).param("n"));
    }
    let size = match params::string(body, "size")? {
        None | Some("auto") => rules.default_size,
        Some(_) if rules.sizes.is_empty() => {
            return Err(ApiError::invalid("Argument not supported: size").param("size"));
        }
        Some(size) => {
            params::one_of("size", size, rules.sizes)?;
            parse_size(size).unwrap_or(rules.default_size)
        }
    };
    let b64 = match params::string(body, "response_format")? {
        Some(_) if rules.b64_only => {
            return Err(ApiError::invalid("Unknown parameter: 'response_format'.")
                .param("response_format")
                .code("unknown_parameter"));
        }
        Some(format) => {
            params::one_of("response_format", format, &["url", "b64_json"])?;
            format == "b64_json"
        }
        None => rules.b64_only,
    };
    let format = match params::string(body, "output_format")? {
        Some(_) if !rules.output_formats => {
            return Err(ApiError::invalid("Unknown parameter: 'output_format'.")
                .param("output_format")
                .code("unknown_parameter"));
        }
        Some(f) => {
            params::one_of("output_format", f, &["png", "jpeg", "webp"])?;
            match f {
                "jpeg" => Format::Jpeg,
                "webp" => Format::Webp,
                _ => Format::Png,
            }
        }
        None => Format::Png,
    };
    if let Some(quality) = params::string(body, "quality")? {
        params::one_of(
            "quality",
            quality,
            &["auto", "low", "medium", "high", "standard", "hd"],
        )?;
    }
    Ok(Ask {
        model,
        prompt,
        n,
        size,
        b64,
        format,
    })
}

fn parse_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

fn encode(format: Format, png: Vec<u8>) -> (&'static str, Vec<u8>) {
    let target = match format {
        Format::Png => return ("image/png", png),
        Format::Jpeg => (image::ImageFormat::Jpeg, "image/jpeg"),
        Format::Webp => (image::ImageFormat::WebP, "image/webp"),
    };
    let decoded = image::load_from_memory(&png).expect("the simulator's own PNG decodes");
    let mut out = std::io::Cursor::new(Vec::new());
    decoded
        .to_rgb8()
        .write_to(&mut out, target.0)
        .expect("encoding in memory cannot fail");
    (target.1, out.into_inner())
}

fn answer(sim: &OpenAi, ask: &Ask, seed: &str) -> Response {
    let data: Vec<Value> = (0..ask.n)
        .map(|i| {
            let png = files::png(ask.size.0, ask.size.1, &format!("{seed}#{i}"));
            let (mime, bytes) = encode(ask.format, png);
            let mut item = if ask.b64 {
                json!({"b64_json": STANDARD.encode(&bytes)})
            } else {
                json!({"url": sim.store_file(mime, bytes)})
            };
            if ask.model == "dall-e-3" {
                item["revised_prompt"] = json!(ask.prompt);
            }
            item
        })
        .collect();
    let mut body = json!({"created": unix_now(), "data": data});
    if ask.model.starts_with("gpt-image") {
        let input = ai::answer::count_tokens(&ask.prompt);
        let output = 272 * ask.n;
        body["usage"] = json!({
            "input_tokens": input,
            "output_tokens": output,
            "total_tokens": input + output,
            "input_tokens_details": {"text_tokens": input, "image_tokens": 0},
        });
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}
