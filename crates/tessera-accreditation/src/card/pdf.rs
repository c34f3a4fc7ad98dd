//! The card as a one-page PDF, and the layout it draws.
//!
//! ```text
//!  ┌──────────────────────────────────────────────┐
//!  │ EP                             ACCREDITATION │  band in the category's colour
//!  │                         26 Jul – 11 Aug 2024 │
//!  ├──────────────────────────────────────────────┤
//!  │ Anne DUPONT                                  │  holder, bold
//!  │ Agence France-Presse                         │  organisation
//!  │ ┌──────┐ Photographer          ┌───────────┐ │
//!  │ │      │ ZONES                 │           │ │
//!  │ │photo │ 1 4 9                 │  QR code  │ │  30 mm wide with its quiet zone
//!  │ │      │ PRIVILEGES  TM PT     │           │ │
//!  │ └──────┘ VENUES  STA MPC       │           │ │
//!  │ P0000000042 · serial 0         └───────────┘ │
//!  └──────────────────────────────────────────────┘
//! ```
//!
//! Coordinates are PDF points from the bottom left of the card. Every text line has a box; the
//! layout shrinks or cuts the text to its box ([`super::text::fit`]), so nothing ever runs off
//! the card or into the photo or the QR code.

use std::io::Cursor;

use image::{DynamicImage, GenericImageView as _, ImageReader, Limits};
use pdf_writer::{Content, Filter, Name, Pdf, Rect, Ref, Str, TextStr};

use super::qr::{qr_matrix, QUIET_ZONE};
use super::text::{encode, fit, fold, Fitted, Font};
use super::{category_colour, CardError, CardFace};
use crate::photo::CardPhoto;

/// Points per millimetre.
const MM: f32 = 72.0 / 25.4;
/// Width of an ID-1 card (ISO/IEC 7810: 85.60 mm), points.
pub const CARD_WIDTH_PT: f32 = 85.60 * MM;
/// Height of an ID-1 card (53.98 mm), points.
pub const CARD_HEIGHT_PT: f32 = 53.98 * MM;
/// Side of the printed QR code with its quiet zone, points (30.3 mm). The symbol alone is
/// never under 21.9 mm (version 1: 21 of 29 modules), over the 20 mm phone cameras need at
/// arm's length, and about 26 mm for a typical badge.
pub const QR_SIDE_PT: f32 = 86.0;
/// Smallest printed QR module, millimetres: below this, card printers (300 dpi, so 3 dots a
/// module) and phone cameras stop telling modules apart.
pub const MIN_MODULE_MM: f32 = 0.25;
/// Largest photo accepted, bytes (the upload limit of [`crate::PhotoPolicy`]'s default).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// Pixels per QR module in the image: the PDF scales the image, without smoothing, so this
/// only needs to be an integer for every module to be the same size.
const QR_MODULE_PX: u32 = 4;
/// Largest side of a photo that has to be re-encoded (the print size of the photo policy).
const PHOTO_MAX_PX: (u32, u32) = (700, 900);

const MARGIN: f32 = 7.0;
const BAND_HEIGHT: f32 = 28.0;
const BAND_Y: f32 = CARD_HEIGHT_PT - BAND_HEIGHT;
/// Top of the photo, the QR code and the middle column.
const LOWER_TOP: f32 = 95.0;
/// The photo's box: 56 × 72 pt (19.8 × 25.4 mm), the 35:45 passport ratio.
const PHOTO_BOX: Box2 = Box2 { x: MARGIN, y: LOWER_TOP - 72.0, width: 56.0, height: 72.0 };
const QR_BOX: Box2 =
    Box2 { x: CARD_WIDTH_PT - MARGIN - QR_SIDE_PT, y: LOWER_TOP - QR_SIDE_PT, width: QR_SIDE_PT, height: QR_SIDE_PT };
const MIDDLE_X: f32 = PHOTO_BOX.x + PHOTO_BOX.width + 7.0;
const MIDDLE_WIDTH: f32 = QR_BOX.x - 3.0 - MIDDLE_X;
/// Helvetica's cap height, em: to centre capitals in the band.
const CAP_HEIGHT: f32 = 0.718;
const INK: [f32; 3] = [0.1, 0.1, 0.1];
const LABEL: [f32; 3] = [0.4, 0.4, 0.4];

/// Most modules per side the QR area prints at [`MIN_MODULE_MM`] or more (113: version 24).
pub(crate) fn max_qr_modules() -> usize {
    let total = (QR_SIDE_PT / (MIN_MODULE_MM * MM)).floor() as usize;
    total.saturating_sub(2 * QUIET_ZONE)
}

/// A rectangle, points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Box2 {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// One line of text, placed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextRun {
    /// What the line is (`holder`, `zones`...), for tests and debugging.
    pub role: &'static str,
    pub font: Font,
    pub fitted: Fitted,
    /// Left end of the text, points.
    pub x: f32,
    pub baseline: f32,
    /// The box the text must stay in: left end and width.
    pub box_x: f32,
    pub box_width: f32,
    pub colour: [f32; 3],
}

/// Where everything goes on the card.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub band: [f32; 3],
    pub runs: Vec<TextRun>,
}

impl Layout {
    /// The run with this role.
    #[cfg(test)]
    pub fn run(&self, role: &str) -> Option<&TextRun> {
        self.runs.iter().find(|r| r.role == role)
    }
}

/// A line's place and type: its box, baseline, font, size range and alignment.
struct Line {
    role: &'static str,
    box_x: f32,
    box_width: f32,
    baseline: f32,
    font: Font,
    max_size: f32,
    min_size: f32,
    align: Align,
    colour: [f32; 3],
}

impl Line {
    fn place(&self, text: &str) -> TextRun {
        let fitted = fit(text, self.font, self.box_width, self.max_size, self.min_size);
        let x = match self.align {
            Align::Left => self.box_x,
            Align::Right => self.box_x + self.box_width - fitted.width,
        };
        TextRun {
            role: self.role,
            font: self.font,
            fitted,
            x,
            baseline: self.baseline,
            box_x: self.box_x,
            box_width: self.box_width,
            colour: self.colour,
        }
    }
}

fn codes<T: std::fmt::Display>(list: &[T]) -> String {
    if list.is_empty() {
        // An en dash says "none" where a blank would look like a printing fault.
        "\u{2013}".to_owned()
    } else {
        list.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
    }
}

/// Black or white, whichever reads better on `rgb` (relative luminance, sRGB weights).
fn text_on(rgb: [f32; 3]) -> [f32; 3] {
    let luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    if luminance > 0.55 {
        [0.0, 0.0, 0.0]
    } else {
        [1.0, 1.0, 1.0]
    }
}

/// Lays the face out (see the module documentation).
pub(crate) fn layout(face: &CardFace) -> Layout {
    let band = category_colour(&face.category).map(|c| f32::from(c) / 255.0);
    let on_band = text_on(band);
    let full_width = CARD_WIDTH_PT - 2.0 * MARGIN;
    let category_width = 84.0;
    let band_right_x = MARGIN + category_width + 6.0;
    let band_right_width = CARD_WIDTH_PT - MARGIN - band_right_x;
    let left = |role, box_x, box_width, baseline, font, max_size, min_size, colour| Line {
        role,
        box_x,
        box_width,
        baseline,
        font,
        max_size,
        min_size,
        align: Align::Left,
        colour,
    };
    let mut runs = Vec::new();

    // The category code, capitals centred in the band: the size comes first (a code of eight
    // wide letters shrinks), then the baseline that centres it.
    let mut category =
        left("category", MARGIN, category_width, 0.0, Font::Bold, 20.0, 8.0, on_band).place(face.category.as_str());
    category.baseline = BAND_Y + (BAND_HEIGHT - CAP_HEIGHT * category.fitted.size) / 2.0;
    runs.push(category);
    let right = |role, baseline, font, max_size, min_size| Line {
        role,
        box_x: band_right_x,
        box_width: band_right_width,
        baseline,
        font,
        max_size,
        min_size,
        align: Align::Right,
        colour: on_band,
    };
    runs.push(right("title", BAND_Y + 16.5, Font::Bold, 5.5, 5.5).place("ACCREDITATION"));
    runs.push(right("valid", BAND_Y + 7.0, Font::Regular, 7.5, 5.0).place(&fold(&face.valid)));

    runs.push(left("holder", MARGIN, full_width, BAND_Y - 14.0, Font::Bold, 12.0, 6.0, INK).place(&fold(&face.holder)));
    runs.push(
        left("organisation", MARGIN, full_width, BAND_Y - 24.0, Font::Regular, 8.0, 5.0, INK)
            .place(&fold(&face.organisation)),
    );

    let id = format!("{} \u{b7} serial {}", face.person, face.serial);
    runs.push(left("id", PHOTO_BOX.x, PHOTO_BOX.width, PHOTO_BOX.y - 9.0, Font::Regular, 5.5, 4.0, INK).place(&id));

    let mid = |role, baseline, font, max_size, min_size, colour| {
        left(role, MIDDLE_X, MIDDLE_WIDTH, baseline, font, max_size, min_size, colour)
    };
    runs.push(mid("function", LOWER_TOP - 7.0, Font::Regular, 7.5, 5.0, INK).place(&fold(&face.function)));
    runs.push(mid("zones_label", LOWER_TOP - 16.0, Font::Bold, 5.0, 5.0, LABEL).place("ZONES"));
    runs.push(mid("zones", LOWER_TOP - 31.0, Font::Bold, 18.0, 7.0, INK).place(&codes(&face.zones)));
    runs.push(mid("privileges_label", LOWER_TOP - 41.0, Font::Bold, 5.0, 5.0, LABEL).place("PRIVILEGES"));
    runs.push(mid("privileges", LOWER_TOP - 50.0, Font::Bold, 8.0, 5.0, INK).place(&codes(&face.privileges)));
    runs.push(mid("venues_label", LOWER_TOP - 60.0, Font::Bold, 5.0, 5.0, LABEL).place("VENUES"));
    runs.push(mid("venues", LOWER_TOP - 69.0, Font::Regular, 7.5, 5.0, INK).place(&codes(&face.venues)));

    Layout { band, runs }
}

/// How the photo goes into the PDF.
enum PhotoImage<'a> {
    /// The JPEG itself, which PDF readers decode (DCTDecode): no quality lost, no bytes added.
    Jpeg { bytes: &'a [u8], width: u32, height: u32, gray: bool },
    /// Decoded RGB pixels, zlib-compressed (FlateDecode), for images PDF cannot take as they are.
    Rgb { zlib: Vec<u8>, width: u32, height: u32 },
}

impl PhotoImage<'_> {
    fn size(&self) -> (u32, u32) {
        match self {
            PhotoImage::Jpeg { width, height, .. } | PhotoImage::Rgb { width, height, .. } => (*width, *height),
        }
    }
}

/// A JPEG's frame header (SOFn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JpegFrame {
    pub marker: u8,
    pub precision: u8,
    pub width: u32,
    pub height: u32,
    pub components: u8,
}

impl JpegFrame {
    /// What DCTDecode takes everywhere: baseline, extended or progressive Huffman coding (SOF0
    /// to SOF2), 8 bits, grey or colour. CMYK, 12-bit and arithmetic coding are re-encoded.
    fn embeddable(&self) -> bool {
        matches!(self.marker, 0xC0..=0xC2) && self.precision == 8 && matches!(self.components, 1 | 3)
    }
}

/// Reads the frame header of a JPEG by walking its marker segments; `None` if there is none
/// before the scan data, or the bytes end early.
pub(crate) fn jpeg_frame(bytes: &[u8]) -> Option<JpegFrame> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2usize;
    loop {
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        // A marker may be preceded by any number of 0xFF fill bytes.
        while *bytes.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *bytes.get(i)?;
        i += 1;
        match marker {
            0x01 | 0xD0..=0xD7 => continue, // no length
            0xD9 | 0xDA => return None,     // end of image, start of scan: no frame header
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let segment = bytes.get(i + 2..i + len)?;
            let &[precision, h1, h0, w1, w0, components, ..] = segment else {
                return None;
            };
            return Some(JpegFrame {
                marker,
                precision,
                width: u32::from(u16::from_be_bytes([w1, w0])),
                height: u32::from(u16::from_be_bytes([h1, h0])),
                components,
            });
        }
        i += len;
    }
}

fn unusable(reason: impl Into<String>) -> CardError {
    CardError::PhotoUnusable(reason.into())
}

/// Checks the photo by decoding it (so a damaged file is refused here, not found out on a
/// printed card), then keeps its JPEG if PDF can take it, or re-encodes its pixels.
fn photo_image(photo: &CardPhoto) -> Result<PhotoImage<'_>, CardError> {
    let bytes = photo.jpeg.as_slice();
    if bytes.is_empty() {
        return Err(unusable("no image data"));
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(unusable(format!("{} bytes, more than the {MAX_PHOTO_BYTES} allowed", bytes.len())));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| unusable(e.to_string()))?;
    if reader.format().is_none() {
        return Err(unusable("not a JPEG or PNG image"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(6_000);
    limits.max_image_height = Some(6_000);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    if reader.format() == Some(image::ImageFormat::Jpeg) && !ends_with_eoi(bytes) {
        // The JPEG decoder fills missing data with grey rather than failing: a cut-off upload
        // would print half a face.
        return Err(unusable("the JPEG is truncated (no end-of-image marker)"));
    }
    let image = reader.decode().map_err(|e| unusable(format!("cannot decode: {e}")))?;
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return Err(unusable("no pixels"));
    }
    if let Some(frame) = jpeg_frame(bytes) {
        if frame.embeddable() && (frame.width, frame.height) == (width, height) {
            return Ok(PhotoImage::Jpeg { bytes, width, height, gray: frame.components == 1 });
        }
    }
    let mut rgb = flatten_on_white(image);
    let scale = (f64::from(PHOTO_MAX_PX.0) / f64::from(width)).min(f64::from(PHOTO_MAX_PX.1) / f64::from(height));
    if scale < 1.0 {
        let w = ((f64::from(width) * scale).round() as u32).max(1);
        let h = ((f64::from(height) * scale).round() as u32).max(1);
        rgb = image::imageops::resize(&rgb, w, h, image::imageops::FilterType::Triangle);
    }
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(rgb.as_raw(), 6);
    Ok(PhotoImage::Rgb { zlib, width: rgb.width(), height: rgb.height() })
}

/// Whether a JPEG ends with its end-of-image marker (ignoring trailing padding some writers
/// add). Entropy-coded data never holds `FF D9` (an `FF` there is followed by `00` or a
/// restart marker), so the marker at the end means the file is whole.
fn ends_with_eoi(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|b| !matches!(b, 0x00 | b' ' | b'\t' | b'\r' | b'\n')).map_or(0, |i| i + 1);
    bytes[..end].ends_with(&[0xFF, 0xD9])
}

/// Transparent pixels become the card's white, not black.
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

/// The largest rectangle of the image's ratio centred in `b`.
fn contain(b: Box2, (width, height): (u32, u32)) -> Box2 {
    let scale = (b.width / width as f32).min(b.height / height as f32);
    let (w, h) = (width as f32 * scale, height as f32 * scale);
    Box2 { x: b.x + (b.width - w) / 2.0, y: b.y + (b.height - h) / 2.0, width: w, height: h }
}

fn i32_of(n: u32) -> i32 {
    // Image sides here are at most 6,000 (photo) or 185 × 4 (QR) pixels.
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The card as a one-page PDF of ID-1 size (landscape), ready for a card printer: the band in
/// the category's colour, the holder's name, organisation and function, zones, privileges and
/// venues, the photo on the left (a grey box without one) and the QR code of `qr_text` on the
/// right. Text is folded to the standard fonts' encoding ([`super::fold_text`]) and shrunk or
/// cut to fit. Never panics; refuses only an unprintable QR code or an unusable photo.
pub fn card_pdf(face: &CardFace, photo: Option<&CardPhoto>, qr_text: &str) -> Result<Vec<u8>, CardError> {
    let qr = qr_matrix(qr_text)?;
    let max = max_qr_modules();
    if qr.width() > max {
        return Err(CardError::QrTooDense { modules: qr.width(), max });
    }
    let photo = photo.map(photo_image).transpose()?;
    let layout = layout(face);
    let (qr_side, qr_pixels) = qr.to_gray(QR_MODULE_PX);
    let qr_zlib = miniz_oxide::deflate::compress_to_vec_zlib(&qr_pixels, 9);

    let catalog = Ref::new(1);
    let pages = Ref::new(2);
    let page = Ref::new(3);
    let contents = Ref::new(4);
    let regular = Ref::new(5);
    let bold = Ref::new(6);
    let qr_image = Ref::new(7);
    let photo_ref = Ref::new(8);
    let info = Ref::new(9);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    {
        let mut p = pdf.page(page);
        p.parent(pages).media_box(Rect::new(0.0, 0.0, CARD_WIDTH_PT, CARD_HEIGHT_PT)).contents(contents);
        let mut resources = p.resources();
        resources.fonts().pair(Name(Font::Regular.resource()), regular).pair(Name(Font::Bold.resource()), bold);
        let mut x_objects = resources.x_objects();
        x_objects.pair(Name(b"QR"), qr_image);
        if photo.is_some() {
            x_objects.pair(Name(b"Photo"), photo_ref);
        }
    }
    for (id, font) in [(regular, Font::Regular), (bold, Font::Bold)] {
        pdf.type1_font(id).base_font(Name(font.base_font())).encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    {
        let mut image = pdf.image_xobject(qr_image, &qr_zlib);
        image.filter(Filter::FlateDecode);
        image.width(i32_of(qr_side)).height(i32_of(qr_side)).bits_per_component(8);
        // No smoothing when the image is scaled: modules keep sharp edges.
        image.interpolate(false);
        image.color_space().device_gray();
    }
    if let Some(photo) = &photo {
        let (width, height) = photo.size();
        let (data, filter, gray) = match photo {
            PhotoImage::Jpeg { bytes, gray, .. } => (*bytes, Filter::DctDecode, *gray),
            PhotoImage::Rgb { zlib, .. } => (zlib.as_slice(), Filter::FlateDecode, false),
        };
        let mut image = pdf.image_xobject(photo_ref, data);
        image.filter(filter);
        image.width(i32_of(width)).height(i32_of(height)).bits_per_component(8);
        if gray {
            image.color_space().device_gray();
        } else {
            image.color_space().device_rgb();
        }
    }

    let mut content = Content::new();
    let [r, g, b] = layout.band;
    content.set_fill_rgb(r, g, b).rect(0.0, BAND_Y, CARD_WIDTH_PT, BAND_HEIGHT).fill_nonzero();
    match &photo {
        Some(photo) => {
            let at = contain(PHOTO_BOX, photo.size());
            content.save_state().transform([at.width, 0.0, 0.0, at.height, at.x, at.y]);
            content.x_object(Name(b"Photo")).restore_state();
        }
        None => {
            let b = PHOTO_BOX;
            content.set_fill_gray(0.9).rect(b.x, b.y, b.width, b.height).fill_nonzero();
        }
    }
    let q = QR_BOX;
    content.save_state().transform([q.width, 0.0, 0.0, q.height, q.x, q.y]);
    content.x_object(Name(b"QR")).restore_state();
    for run in layout.runs.iter().filter(|r| !r.fitted.text.is_empty()) {
        let [r, g, b] = run.colour;
        content.set_fill_rgb(r, g, b).begin_text();
        content.set_font(Name(run.font.resource()), run.fitted.size).next_line(run.x, run.baseline);
        content.show(Str(&encode(&run.fitted.text))).end_text();
    }
    let content = content.finish();
    pdf.stream(contents, content.as_slice());
    // No dates: the crate has no clock, and the same face gives the same bytes.
    pdf.document_info(info).title(TextStr("Accreditation card")).producer(TextStr("Tessera"));
    Ok(pdf.finish())
}
