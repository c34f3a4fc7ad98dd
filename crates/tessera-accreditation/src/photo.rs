//! The applicant's photo: checked, cropped to the card's ratio and re-encoded.
//!
//! Uploaded bytes are untrusted. [`prepare`] checks them in order of cost: the size in bytes,
//! the type from the content's magic bytes (JPEG or PNG only, whatever the file name says), the
//! dimensions read from the header alone (so a decompression bomb, a small file that claims a
//! huge image, is refused before any pixel is decoded), then decodes under allocation limits,
//! crops the largest centred rectangle of the card's ratio (35:45, the passport-photo portrait),
//! scales it down to at most the print size, and re-encodes it as a baseline JPEG. Re-encoding
//! drops metadata (location, camera) and anything hidden in the original file. The
//! [`CardPhoto::sha256`] of the result is what the badge carries.

use std::io::Cursor;

use image::{DynamicImage, GenericImageView as _, ImageFormat, ImageReader, Limits};
use sha2::{Digest as _, Sha256};

/// Rules for photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoPolicy {
    /// Largest upload, in bytes.
    pub max_bytes: usize,
    /// Smallest accepted width, pixels.
    pub min_width: u32,
    /// Smallest accepted height, pixels.
    pub min_height: u32,
    /// Largest accepted width, pixels (refused from the header, before decoding).
    pub max_width: u32,
    /// Largest accepted height, pixels.
    pub max_height: u32,
    /// The card photo's width:height ratio.
    pub ratio: (u32, u32),
    /// The cropped photo is scaled down to fit this (width, height).
    pub output_max: (u32, u32),
    /// JPEG quality of the result (1 to 100).
    pub jpeg_quality: u8,
}

impl Default for PhotoPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 5 * 1024 * 1024,
            min_width: 300,
            min_height: 400,
            max_width: 6_000,
            max_height: 6_000,
            ratio: (35, 45),
            output_max: (700, 900),
            jpeg_quality: 85,
        }
    }
}

/// The accepted types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoType {
    /// JPEG (JFIF or Exif).
    Jpeg,
    /// PNG.
    Png,
}

/// Why a photo is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// No bytes.
    #[error("the photo is empty")]
    Empty,
    /// More bytes than the policy allows.
    #[error("the photo is {size} bytes, more than the {max} allowed")]
    TooBig {
        /// Size of the upload.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A known image type that is not accepted.
    #[error("{0} images are not accepted: send a JPEG or PNG")]
    UnsupportedType(&'static str),
    /// Not an image at all.
    #[error("the file is not an image")]
    NotAnImage,
    /// Smaller than the minimum dimensions.
    #[error("the photo is {width}×{height} pixels, smaller than the minimum {min_width}×{min_height}")]
    TooSmall {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Minimum width.
        min_width: u32,
        /// Minimum height.
        min_height: u32,
    },
    /// Larger than the maximum dimensions (refused before decoding).
    #[error("the photo claims {width}×{height} pixels, larger than the maximum {max_width}×{max_height}")]
    TooLarge {
        /// Width claimed by the header.
        width: u32,
        /// Height claimed by the header.
        height: u32,
        /// Maximum width.
        max_width: u32,
        /// Maximum height.
        max_height: u32,
    },
    /// The header or the data cannot be decoded.
    #[error("the image is damaged: {0}")]
    Corrupt(String),
    /// Re-encoding failed (should not happen).
    #[error("could not encode the card photo: {0}")]
    Encode(String),
}

/// The type by content, refusing other image types by name.
pub fn sniff(bytes: &[u8]) -> Result<PhotoType, PhotoError> {
    let starts = |m: &[u8]| bytes.starts_with(m);
    if bytes.is_empty() {
        Err(PhotoError::Empty)
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Ok(PhotoType::Jpeg)
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Ok(PhotoType::Png)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Err(PhotoError::UnsupportedType("GIF"))
    } else if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Err(PhotoError::UnsupportedType("WebP"))
    } else if bytes.get(4..8) == Some(b"ftyp") {
        Err(PhotoError::UnsupportedType("HEIF/AVIF"))
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Err(PhotoError::UnsupportedType("TIFF"))
    } else if starts(b"BM") {
        Err(PhotoError::UnsupportedType("BMP"))
    } else {
        Err(PhotoError::NotAnImage)
    }
}

fn format_of(t: PhotoType) -> ImageFormat {
    match t {
        PhotoType::Jpeg => ImageFormat::Jpeg,
        PhotoType::Png => ImageFormat::Png,
    }
}

/// Checks size, type and the header's dimensions, without decoding any pixel.
pub fn check(bytes: &[u8], policy: &PhotoPolicy) -> Result<(PhotoType, u32, u32), PhotoError> {
    if bytes.len() > policy.max_bytes {
        return Err(PhotoError::TooBig { size: bytes.len(), max: policy.max_bytes });
    }
    let kind = sniff(bytes)?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format_of(kind))
        .into_dimensions()
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    if width > policy.max_width || height > policy.max_height {
        return Err(PhotoError::TooLarge { width, height, max_width: policy.max_width, max_height: policy.max_height });
    }
    if width < policy.min_width || height < policy.min_height {
        return Err(PhotoError::TooSmall { width, height, min_width: policy.min_width, min_height: policy.min_height });
    }
    Ok((kind, width, height))
}

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// The largest rectangle of ratio `ratio` (width, height) centred in a `width`×`height` image.
pub fn crop_rect(width: u32, height: u32, ratio: (u32, u32)) -> Rect {
    let (rw, rh) = (u64::from(ratio.0.max(1)), u64::from(ratio.1.max(1)));
    let (w, h) = (u64::from(width), u64::from(height));
    let (cw, ch) = if w * rh > h * rw { (h * rw / rh, h) } else { (w, w * rh / rw) };
    // Both are at most the image's own sides, so they fit in u32.
    let (cw, ch) = (cw.max(1).min(w) as u32, ch.max(1).min(h) as u32);
    Rect { x: (width - cw) / 2, y: (height - ch) / 2, width: cw, height: ch }
}

/// The photo as printed on the card and hashed into the badge.
#[derive(Clone, PartialEq, Eq)]
pub struct CardPhoto {
    /// Baseline JPEG.
    pub jpeg: Vec<u8>,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// SHA-256 of `jpeg`.
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for CardPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardPhoto({}×{}, {} bytes)", self.width, self.height, self.jpeg.len())
    }
}

/// Checks, decodes, crops, scales and re-encodes a photo (see the module documentation).
pub fn prepare(bytes: &[u8], policy: &PhotoPolicy) -> Result<CardPhoto, PhotoError> {
    let (kind, width, height) = check(bytes, policy)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format_of(kind));
    let mut limits = Limits::default();
    limits.max_image_width = Some(policy.max_width);
    limits.max_image_height = Some(policy.max_height);
    // Room for the decoded image at 8 bytes per pixel, plus the decoder's own buffers.
    limits.max_alloc = Some(u64::from(policy.max_width) * u64::from(policy.max_height) * 8 + (64 << 20));
    reader.limits(limits);
    let image = reader.decode().map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    if image.dimensions() != (width, height) {
        return Err(PhotoError::Corrupt("decoded size differs from the header".into()));
    }
    let r = crop_rect(width, height, policy.ratio);
    let mut cropped = image.crop_imm(r.x, r.y, r.width, r.height);
    let scale = (f64::from(policy.output_max.0) / f64::from(r.width))
        .min(f64::from(policy.output_max.1) / f64::from(r.height))
        .min(1.0);
    if scale < 1.0 {
        let w = ((f64::from(r.width) * scale).round() as u32).max(1);
        let h = ((f64::from(r.height) * scale).round() as u32).max(1);
        cropped = cropped.resize_exact(w, h, image::imageops::FilterType::Triangle);
    }
    let rgb = flatten_on_white(cropped);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, policy.jpeg_quality.clamp(1, 100))
        .encode_image(&rgb)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    let sha256 = Sha256::digest(&jpeg).into();
    Ok(CardPhoto { jpeg, width: rgb.width(), height: rgb.height(), sha256 })
}

/// JPEG has no transparency: transparent pixels become white (a card's background), not black.
fn flatten_on_white(image: DynamicImage) -> image::RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))
    }

    #[test]
    fn a_png_is_cropped_to_the_card_ratio_and_re_encoded_as_jpeg() {
        let bytes = encode(gradient(600, 600), ImageFormat::Png);
        let photo = prepare(&bytes, &PhotoPolicy::default()).unwrap();
        assert_eq!((photo.width, photo.height), (466, 600));
        assert_eq!(sniff(&photo.jpeg), Ok(PhotoType::Jpeg));
        let decoded = image::load_from_memory(&photo.jpeg).unwrap();
        assert_eq!(decoded.dimensions(), (466, 600));
        assert_eq!(photo.sha256, <[u8; 32]>::from(Sha256::digest(&photo.jpeg)));
        // Centred: the crop starts at x = 67, so the red channel of the first column is 67.
        let first = decoded.to_rgb8().get_pixel(0, 300).0[0];
        assert!((62..=72).contains(&first), "{first}");
    }

    #[test]
    fn a_large_jpeg_is_scaled_to_the_print_size() {
        let bytes = encode(gradient(1400, 2000), ImageFormat::Jpeg);
        let photo = prepare(&bytes, &PhotoPolicy::default()).unwrap();
        assert_eq!((photo.width, photo.height), (700, 900));
    }

    #[test]
    fn transparency_becomes_white() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(350, 450, image::Rgba([0, 0, 0, 0])));
        let photo = prepare(&encode(img, ImageFormat::Png), &PhotoPolicy::default()).unwrap();
        let px = image::load_from_memory(&photo.jpeg).unwrap().to_rgb8().get_pixel(10, 10).0;
        assert!(px.iter().all(|c| *c > 240), "{px:?}");
    }

    #[test]
    fn each_refusal_is_precise() {
        let p = PhotoPolicy::default();
        assert_eq!(prepare(b"", &p), Err(PhotoError::Empty));
        assert_eq!(prepare(b"hello, I am a text file", &p), Err(PhotoError::NotAnImage));
        assert_eq!(prepare(b"GIF89a....", &p), Err(PhotoError::UnsupportedType("GIF")));
        assert_eq!(prepare(b"RIFF\0\0\0\0WEBPVP8 ", &p), Err(PhotoError::UnsupportedType("WebP")));
        assert_eq!(prepare(b"\0\0\0\x18ftypheic", &p), Err(PhotoError::UnsupportedType("HEIF/AVIF")));
        let big = vec![0xFF; p.max_bytes + 1];
        assert_eq!(prepare(&big, &p), Err(PhotoError::TooBig { size: p.max_bytes + 1, max: p.max_bytes }));
        let small = encode(gradient(299, 500), ImageFormat::Png);
        assert_eq!(
            prepare(&small, &p),
            Err(PhotoError::TooSmall { width: 299, height: 500, min_width: 300, min_height: 400 })
        );
        let mut truncated = encode(gradient(400, 500), ImageFormat::Png);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(prepare(&truncated, &p), Err(PhotoError::Corrupt(_))));
        assert!(matches!(prepare(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0], &p), Err(PhotoError::Corrupt(_))));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        // A 400×500 PNG whose header is rewritten to claim 60,000 × 60,000 pixels (14 GB decoded).
        let mut bytes = encode(gradient(400, 500), ImageFormat::Png);
        // Signature (8), length (4), "IHDR" (4), then width and height.
        bytes[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            check(&bytes, &PhotoPolicy::default()),
            Err(PhotoError::TooLarge { width: 60_000, height: 60_000, max_width: 6_000, max_height: 6_000 })
        );
    }

    proptest! {
        /// The crop has the ratio (within rounding), fits and is centred.
        #[test]
        fn crop_fits_and_is_centred(w in 1u32..10_000, h in 1u32..10_000) {
            let r = crop_rect(w, h, (35, 45));
            prop_assert!(r.x + r.width <= w && r.y + r.height <= h);
            prop_assert!(r.width == w || r.height == h);
            prop_assert!(r.x.abs_diff(w - r.x - r.width) <= 1 && r.y.abs_diff(h - r.y - r.height) <= 1);
            let lhs = u64::from(r.width) * 45;
            let rhs = u64::from(r.height) * 35;
            prop_assert!(lhs.abs_diff(rhs) <= 45 || r.width == 1 || r.height == 1);
        }

        /// Any bytes behind a JPEG or PNG signature: an error or a photo, never a panic.
        #[test]
        fn garbage_never_panics(png in any::<bool>(), body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = if png { b"\x89PNG\r\n\x1a\n".to_vec() } else { vec![0xFF, 0xD8, 0xFF] };
            bytes.extend_from_slice(&body);
            let _ = prepare(&bytes, &PhotoPolicy::default());
        }
    }
}
