//! Real, small media files for generated images and speech.

use std::io::Cursor;

use sha2::{Digest, Sha256};

/// A `width`×`height` PNG whose colours derive from `seed` (the prompt), so different
/// prompts give different images.
pub(crate) fn png(width: u32, height: u32, seed: &str) -> Vec<u8> {
    let hash = Sha256::digest(seed.as_bytes());
    let (r, g, b) = (hash[0], hash[1], hash[2]);
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        // Horizontal bands: compresses well and still tells prompts apart.
        let band = u8::try_from((y * 8 / height.max(1)) % 8).unwrap_or(0);
        let shade = band.wrapping_mul(16);
        let stripe = if (x * 8 / width.max(1)).is_multiple_of(2) {
            0
        } else {
            32
        };
        image::Rgb([r ^ shade, g ^ stripe, b.wrapping_add(shade)])
    });
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encoding a PNG in memory cannot fail");
    out.into_inner()
}

/// Dimensions of an image the simulator was sent, if it decodes as PNG, JPEG or WebP.
pub(crate) fn image_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// The MIME type of an image the simulator was sent, sniffed from its bytes.
pub(crate) fn image_mime(bytes: &[u8]) -> Option<&'static str> {
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Png => Some("image/png"),
        image::ImageFormat::Jpeg => Some("image/jpeg"),
        image::ImageFormat::WebP => Some("image/webp"),
        _ => None,
    }
}

/// Sample rate of synthesized speech (OpenAI's `pcm` format is 24 kHz 16-bit mono).
pub(crate) const SAMPLE_RATE: u32 = 24_000;

/// 16-bit mono PCM "speech": one short tone per word, pitch from the word.
pub(crate) fn pcm(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let per_word = SAMPLE_RATE / 10;
    for word in text.split_whitespace().take(200) {
        let pitch = 200.0 + f32::from(Sha256::digest(word.as_bytes())[0]) * 2.0;
        for i in 0..per_word {
            let t = i as f32 / SAMPLE_RATE as f32;
            let sample = (t * pitch * std::f32::consts::TAU).sin() * 8_000.0;
            out.extend_from_slice(&(sample as i16).to_le_bytes());
        }
    }
    out
}

/// The same audio as a RIFF/WAVE file.
pub(crate) fn wav(text: &str) -> Vec<u8> {
    let data = pcm(text);
    let data_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(data.len() + 44);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_png_decodes_at_its_size() {
        let bytes = png(64, 32, "a cat");
        assert_eq!(image_dimensions(&bytes), Some((64, 32)));
        assert_eq!(image_mime(&bytes), Some("image/png"));
        assert_ne!(bytes, png(64, 32, "a dog"));
    }

    #[test]
    fn wav_header_matches_its_data() {
        let bytes = wav("two words");
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        let data_len = u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize;
        assert_eq!(data_len, bytes.len() - 44);
        assert_eq!(data_len, 2 * (SAMPLE_RATE as usize / 10) * 2);
    }
}
