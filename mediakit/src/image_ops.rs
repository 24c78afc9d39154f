//! The image pipeline: decode under limits with the EXIF orientation applied, resize
//! (cover with a focal point, contain, pad, exact) with `fast_image_resize`, and encode to
//! JPEG (`jpeg-encoder`), PNG (`image`) or WebP (libwebp), optionally under a byte budget.
//! Re-encoding from pixels is what strips metadata: none of the encoders is handed any.

use crate::spec::{Fit, ImageFormat, ImageSpec, Resize};
use crate::{Failure, Limits};
use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageReader};
use std::io::BufReader;
use std::path::Path;

/// Decoded pixels: 8-bit RGB, or RGBA when the source has an alpha channel.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub alpha: bool,
    pub data: Vec<u8>,
}

impl Pixels {
    fn channels(&self) -> usize {
        if self.alpha { 4 } else { 3 }
    }

    fn pixel_type(&self) -> PixelType {
        if self.alpha {
            PixelType::U8x4
        } else {
            PixelType::U8x3
        }
    }
}

/// What an encode produced.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub mime_type: &'static str,
}

fn image_error(e: image::ImageError) -> Failure {
    match e {
        image::ImageError::Limits(e) => Failure::new(
            "image-too-large",
            format!("the image needs more memory to decode than allowed: {e}"),
        ),
        image::ImageError::Unsupported(e) => Failure::new("unsupported-media-type", e.to_string()),
        e => Failure::new(
            "corrupt-media",
            format!("the image is corrupt or truncated: {e}"),
        ),
    }
}

/// Decodes the image at `path`, refusing dimensions past `limits` before any pixel memory
/// is allocated, and turns it upright by its EXIF orientation.
pub fn decode(path: &Path, limits: &Limits) -> Result<Pixels, Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::new("io", format!("opening the image: {e}")))?;
    let reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| Failure::new("io", format!("reading the image: {e}")))?;
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    limits.check_image(width, height)?;
    let orientation = decoder.orientation().map_err(image_error)?;
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    decode_limits.max_alloc = Some(limits.max_decode_bytes);
    decoder.set_limits(decode_limits).map_err(image_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    image.apply_orientation(orientation);
    Ok(from_dynamic(image))
}

/// 8-bit RGB or RGBA pixels of any decoded image.
pub fn from_dynamic(image: DynamicImage) -> Pixels {
    let (width, height) = (image.width(), image.height());
    if image.color().has_alpha() {
        Pixels {
            width,
            height,
            alpha: true,
            data: image.into_rgba8().into_raw(),
        }
    } else {
        Pixels {
            width,
            height,
            alpha: false,
            data: image.into_rgb8().into_raw(),
        }
    }
}

/// The part of the source that `fit` keeps and the size it is scaled to:
/// `(left, top, width, height)` in source pixels, and the output size.
pub fn geometry(src: (u32, u32), resize: &Resize) -> ((f64, f64, f64, f64), (u32, u32)) {
    let (w, h) = (f64::from(src.0), f64::from(src.1));
    let (tw, th) = (f64::from(resize.width), f64::from(resize.height));
    let whole = (0.0, 0.0, w, h);
    match resize.fit {
        Fit::Exact => (whole, (resize.width, resize.height)),
        Fit::Contain | Fit::Pad => {
            let scale = (tw / w).min(th / h);
            let out = (
                ((w * scale).round() as u32).clamp(1, resize.width),
                ((h * scale).round() as u32).clamp(1, resize.height),
            );
            (whole, out)
        }
        Fit::Cover => {
            let scale = (tw / w).max(th / h);
            let (cw, ch) = ((tw / scale).min(w), (th / scale).min(h));
            let (fx, fy) = resize.focal.map(|f| (f.x, f.y)).unwrap_or((0.5, 0.5));
            let left = (fx * w - cw / 2.0).clamp(0.0, w - cw);
            let top = (fy * h - ch / 2.0).clamp(0.0, h - ch);
            ((left, top, cw, ch), (resize.width, resize.height))
        }
    }
}

/// Scales the `crop` region of `src` to `out` pixels (bicubic, SIMD).
fn scale(src: &Pixels, crop: (f64, f64, f64, f64), out: (u32, u32)) -> Result<Pixels, Failure> {
    let internal = |e: String| Failure::new("internal", format!("resizing: {e}"));
    if crop == (0.0, 0.0, f64::from(src.width), f64::from(src.height))
        && out == (src.width, src.height)
    {
        return Ok(Pixels {
            width: src.width,
            height: src.height,
            alpha: src.alpha,
            data: src.data.clone(),
        });
    }
    let view = fast_image_resize::images::ImageRef::new(
        src.width,
        src.height,
        &src.data,
        src.pixel_type(),
    )
    .map_err(|e| internal(e.to_string()))?;
    let mut dst = Image::new(out.0, out.1, src.pixel_type());
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom))
        .crop(crop.0, crop.1, crop.2, crop.3);
    Resizer::new()
        .resize(&view, &mut dst, &options)
        .map_err(|e| internal(e.to_string()))?;
    Ok(Pixels {
        width: out.0,
        height: out.1,
        alpha: src.alpha,
        data: dst.into_vec(),
    })
}

/// Centres `img` on a `width`×`height` canvas of `background`.
fn pad(img: &Pixels, width: u32, height: u32, background: [u8; 3]) -> Pixels {
    let ch = img.channels();
    let mut fill = background.to_vec();
    if img.alpha {
        fill.push(255);
    }
    let mut data = fill.repeat(width as usize * height as usize);
    let (x0, y0) = ((width - img.width) / 2, (height - img.height) / 2);
    let row = img.width as usize * ch;
    for y in 0..img.height as usize {
        let dst = ((y0 as usize + y) * width as usize + x0 as usize) * ch;
        data[dst..dst + row].copy_from_slice(&img.data[y * row..(y + 1) * row]);
    }
    Pixels {
        width,
        height,
        alpha: img.alpha,
        data,
    }
}

/// Resizes by `resize` (padding included).
pub fn resize(src: &Pixels, resize: &Resize) -> Result<Pixels, Failure> {
    let (crop, out) = geometry((src.width, src.height), resize);
    let scaled = scale(src, crop, out)?;
    Ok(match resize.fit {
        Fit::Pad => pad(
            &scaled,
            resize.width,
            resize.height,
            resize.background_rgb(),
        ),
        _ => scaled,
    })
}

/// Drops the alpha channel, compositing onto `background` (JPEG has no transparency).
fn flatten(img: &Pixels, background: [u8; 3]) -> Vec<u8> {
    if !img.alpha {
        return img.data.clone();
    }
    let mut out = Vec::with_capacity(img.width as usize * img.height as usize * 3);
    for px in img.data.chunks_exact(4) {
        let a = u16::from(px[3]);
        for c in 0..3 {
            let v = (u16::from(px[c]) * a + u16::from(background[c]) * (255 - a) + 127) / 255;
            out.push(v as u8);
        }
    }
    out
}

/// Encodes once at `quality` (ignored by PNG and lossless WebP).
pub fn encode_once(
    img: &Pixels,
    format: ImageFormat,
    quality: u8,
    lossless: bool,
    background: [u8; 3],
) -> Result<Encoded, Failure> {
    let internal = |what: &str, e: String| Failure::new("internal", format!("{what}: {e}"));
    let bytes = match format {
        ImageFormat::Jpeg => {
            let rgb = flatten(img, background);
            let mut out = Vec::new();
            let encoder = jpeg_encoder::Encoder::new(&mut out, quality);
            encoder
                .encode(
                    &rgb,
                    img.width as u16,
                    img.height as u16,
                    jpeg_encoder::ColorType::Rgb,
                )
                .map_err(|e| internal("encoding JPEG", e.to_string()))?;
            out
        }
        ImageFormat::Png => {
            let mut out = Vec::new();
            let color = if img.alpha {
                image::ExtendedColorType::Rgba8
            } else {
                image::ExtendedColorType::Rgb8
            };
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new(&mut out),
                &img.data,
                img.width,
                img.height,
                color,
            )
            .map_err(|e| internal("encoding PNG", e.to_string()))?;
            out
        }
        ImageFormat::Webp => {
            let encoder = if img.alpha {
                webp::Encoder::from_rgba(&img.data, img.width, img.height)
            } else {
                webp::Encoder::from_rgb(&img.data, img.width, img.height)
            };
            let memory = if lossless {
                encoder.encode_lossless()
            } else {
                encoder.encode(f32::from(quality))
            };
            memory.to_vec()
        }
    };
    Ok(Encoded {
        bytes,
        width: img.width,
        height: img.height,
        mime_type: format.mime_type(),
    })
}

/// Encodes by `spec`; with `max_bytes`, lowers the quality (binary search) and then the
/// size until the file fits, and fails with `cannot-meet-size` if even that does not.
pub fn encode(img: Pixels, spec: &ImageSpec) -> Result<Encoded, Failure> {
    let quality = spec.quality.unwrap_or(85);
    let lossy = !spec.lossless && spec.format != ImageFormat::Png;
    let background = spec
        .resize
        .as_ref()
        .map(Resize::background_rgb)
        .unwrap_or([255, 255, 255]);
    let first = encode_once(&img, spec.format, quality, spec.lossless, background)?;
    let Some(budget) = spec.max_bytes else {
        return Ok(first);
    };
    if first.bytes.len() as u64 <= budget {
        return Ok(first);
    }
    let mut img = img;
    // Quality below this looks broken; past it, fewer pixels are the better trade.
    const MIN_QUALITY: u8 = 40;
    for _ in 0..6 {
        if lossy {
            let (mut lo, mut hi) = (MIN_QUALITY, quality);
            let mut best = None;
            while lo <= hi {
                let q = lo + (hi - lo) / 2;
                let enc = encode_once(&img, spec.format, q, false, background)?;
                if enc.bytes.len() as u64 <= budget {
                    best = Some(enc);
                    lo = q + 1;
                } else if q == 0 {
                    break;
                } else {
                    hi = q - 1;
                }
            }
            if let Some(enc) = best {
                return Ok(enc);
            }
        } else {
            let enc = encode_once(&img, spec.format, quality, spec.lossless, background)?;
            if enc.bytes.len() as u64 <= budget {
                return Ok(enc);
            }
        }
        // Bytes grow roughly with the pixel count: shrink both sides by the square root of
        // the overshoot at the lowest quality, with a margin.
        let at_floor = encode_once(&img, spec.format, MIN_QUALITY, spec.lossless, background)?;
        let ratio = (budget as f64 / at_floor.bytes.len() as f64).sqrt() * 0.9;
        let (w, h) = (
            ((f64::from(img.width) * ratio) as u32).max(1),
            ((f64::from(img.height) * ratio) as u32).max(1),
        );
        if w < 16 || h < 16 {
            break;
        }
        img = scale(
            &img,
            (0.0, 0.0, f64::from(img.width), f64::from(img.height)),
            (w, h),
        )?;
    }
    Err(Failure::new(
        "cannot-meet-size",
        format!("the image cannot be encoded as {budget} bytes or fewer at a usable quality"),
    ))
}

/// The whole image operation: decode, resize, encode, write.
pub fn run(
    input: &Path,
    output: &Path,
    spec: &ImageSpec,
    limits: &Limits,
) -> Result<Encoded, Failure> {
    let pixels = decode(input, limits)?;
    let pixels = match &spec.resize {
        Some(r) => resize(&pixels, r)?,
        None => pixels,
    };
    let encoded = encode(pixels, spec)?;
    std::fs::write(output, &encoded.bytes)
        .map_err(|e| Failure::new("io", format!("writing the output: {e}")))?;
    Ok(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Focal;

    fn cover(w: u32, h: u32, focal: Option<(f64, f64)>) -> Resize {
        Resize {
            width: w,
            height: h,
            fit: Fit::Cover,
            focal: focal.map(|(x, y)| Focal { x, y }),
            background: None,
        }
    }

    #[test]
    fn cover_crops_around_the_focal_point() {
        let (crop, out) = geometry((4000, 3000), &cover(1080, 1080, None));
        assert_eq!(out, (1080, 1080));
        assert_eq!(crop, (500.0, 0.0, 3000.0, 3000.0));
        // A focal point near the right edge moves the crop to the edge, not past it.
        let (crop, _) = geometry((4000, 3000), &cover(1080, 1080, Some((0.95, 0.5))));
        assert_eq!(crop, (1000.0, 0.0, 3000.0, 3000.0));
        let (crop, _) = geometry((4000, 3000), &cover(1080, 1080, Some((0.1, 0.5))));
        assert_eq!(crop, (0.0, 0.0, 3000.0, 3000.0));
    }

    #[test]
    fn contain_keeps_the_aspect_and_pad_fills_the_box() {
        let contain = Resize {
            fit: Fit::Contain,
            ..cover(1200, 630, None)
        };
        assert_eq!(geometry((4000, 3000), &contain).1, (840, 630));
        let src = Pixels {
            width: 40,
            height: 30,
            alpha: false,
            data: vec![10; 40 * 30 * 3],
        };
        let padded = resize(
            &src,
            &Resize {
                fit: Fit::Pad,
                background: Some("#ff0000".into()),
                ..cover(120, 63, None)
            },
        )
        .unwrap();
        assert_eq!((padded.width, padded.height), (120, 63));
        // Left of the centred image is the background colour.
        assert_eq!(&padded.data[..3], &[255, 0, 0]);
        let mid = (31 * 120 + 60) * 3;
        assert_eq!(&padded.data[mid..mid + 3], &[10, 10, 10]);
    }

    #[test]
    fn a_byte_budget_lowers_quality_then_size() {
        // Noise compresses badly: the budget forces both steps.
        let mut seed = 1u32;
        let data = (0..800 * 600 * 3)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect();
        let img = Pixels {
            width: 800,
            height: 600,
            alpha: false,
            data,
        };
        let spec = ImageSpec {
            resize: None,
            format: ImageFormat::Jpeg,
            quality: Some(90),
            lossless: false,
            max_bytes: Some(60_000),
        };
        let enc = encode(img, &spec).unwrap();
        assert!(enc.bytes.len() <= 60_000, "{} bytes", enc.bytes.len());
        assert!(enc.width < 800);
    }
}
