//! Plugboard's media processing, independent of the server: the image pipeline
//! ([`image_ops`]), the FFmpeg pipelines ([`av`]), what an operation asks for ([`spec`]),
//! and the worker process that runs one operation in isolation ([`worker`]).

pub mod av;
pub mod image_ops;
pub mod spec;
pub mod worker;

use serde::{Deserialize, Serialize};

/// Why an operation failed; `kind` is a stable slug the API shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub kind: String,
    pub message: String,
}

impl Failure {
    pub fn new(kind: &str, message: impl Into<String>) -> Failure {
        Failure {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

/// Bounds on what one operation may read and make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest image side decoded (pixels).
    pub max_side: u32,
    /// Largest image decoded (pixels in total): the guard against decompression bombs.
    pub max_pixels: u64,
    /// Most memory one image decode may allocate.
    pub max_decode_bytes: u64,
    /// Longest input (or output) duration.
    pub max_duration_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_side: 16_384,
            max_pixels: 100_000_000,
            max_decode_bytes: 512 << 20,
            max_duration_ms: 4 * 3600 * 1000,
        }
    }
}

impl Limits {
    pub fn check_image(&self, width: u32, height: u32) -> Result<(), Failure> {
        if width == 0 || height == 0 {
            return Err(Failure::new(
                "corrupt-media",
                format!("the image claims to be {width}×{height} pixels"),
            ));
        }
        if width > self.max_side || height > self.max_side {
            return Err(Failure::new(
                "image-too-large",
                format!(
                    "the image is {width}×{height} pixels; each side may be at most {}",
                    self.max_side
                ),
            ));
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(Failure::new(
                "image-too-large",
                format!(
                    "the image has {pixels} pixels; at most {} are decoded",
                    self.max_pixels
                ),
            ));
        }
        Ok(())
    }
}
