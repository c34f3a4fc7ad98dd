use super::pdf::{jpeg_frame, layout, max_qr_modules, Layout};
use super::text::{char_width, fit, fold, text_width, Font, ELLIPSIS};
use super::*;
use crate::badge::{BadgeSigner, MAX_CARD_TEXT_LEN};
use crate::codes::{AccountId, OrgCode};
use crate::photo::{prepare, CardPhoto, PhotoPolicy};
use crate::vetting::{Action, Actor, ScreeningAnswer, Vetting};
use crate::{AccessMatrix, ParseContext, RawApplication};
use image::{DynamicImage, GrayImage, ImageFormat};
use lopdf::{Document, Object, ObjectId};
use proptest::prelude::*;
use tessera_credential::IssuerKey;

const DAY: i64 = 86_400;
/// 2024-07-26 00:00 in Paris (UTC+2).
const OPENING: i64 = 1_721_944_800;
const PARIS: UtcOffset = time::macros::offset!(+2);

fn v(s: &str) -> VenueCode {
    VenueCode::parse(s).unwrap()
}
fn z(s: &str) -> ZoneCode {
    ZoneCode::parse(s).unwrap()
}
fn p(s: &str) -> PrivilegeCode {
    PrivilegeCode::parse(s).unwrap()
}

fn photographer() -> Badge {
    Badge {
        key_id: 1,
        person: PersonId(42),
        serial: 0,
        holder: "Anne DUPONT".into(),
        organisation: OrgCode::parse("AFP").unwrap(),
        category: CategoryCode::parse("EP").unwrap(),
        venues: vec![v("STA"), v("AQC"), v("ARN"), v("MPC")],
        zones: vec![z("1"), z("4"), z("9")],
        privileges: vec![p("TM"), p("PT")],
        valid_from: OPENING,
        valid_until: OPENING + 17 * DAY,
        grants: vec![],
        photo_sha256: [9; 32],
        device_key: None,
    }
}

/// The Base45 text of a really signed badge, as the crate's own API makes it.
fn signed_text(badge: &Badge) -> String {
    let mut vetting = Vetting::submit(badge.person, AccountId(1), 0);
    vetting.apply(Action::StartScreening, Actor::Account(AccountId(2)), 1, "").unwrap();
    vetting.record_answer(&ScreeningAnswer::Clear, 2).unwrap();
    vetting.apply(Action::Approve, Actor::Account(AccountId(2)), 3, "").unwrap();
    let signer = BadgeSigner::new(&IssuerKey::from_secret_bytes(1, &[7; 32]));
    signer.sign(badge, &vetting.clearance().unwrap()).unwrap().to_text()
}

fn face() -> CardFace {
    CardFace {
        organisation: "Agence France-Presse".into(),
        ..CardFace::from_badge(&photographer(), "Photographer", PARIS)
    }
}

fn encode_image(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn portrait() -> CardPhoto {
    let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(700, 900, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    }));
    prepare(&encode_image(img, ImageFormat::Png), &PhotoPolicy::default()).unwrap()
}

/// Decodes every QR code rqrr finds in a grey image.
fn decode_qr(img: GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared.detect_grids().into_iter().map(|g| g.decode().expect("a readable code").1).collect()
}

/// Draws the matrix as a reader sees it: its quiet zone, `scale` pixels per module.
fn render(m: &QrMatrix, scale: u32) -> GrayImage {
    let side = m.width_with_quiet_zone() as u32 * scale;
    let q = QUIET_ZONE as u32;
    GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale).checked_sub(q), (y / scale).checked_sub(q));
        match (mx, my) {
            (Some(mx), Some(my)) if m.is_dark(mx as usize, my as usize) => image::Luma([0]),
            _ => image::Luma([255]),
        }
    })
}

/// The parsed PDF, its one page and that page's dictionary entries needed by the tests.
struct Parsed {
    doc: Document,
    page: ObjectId,
}

impl Parsed {
    fn load(bytes: &[u8]) -> Self {
        assert!(bytes.starts_with(b"%PDF-"), "{:?}", &bytes[..bytes.len().min(8)]);
        let doc = Document::load_mem(bytes).expect("lopdf loads the card");
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 1, "one page");
        let page = *pages.values().next().unwrap();
        Self { doc, page }
    }

    fn page_dict(&self) -> &lopdf::Dictionary {
        self.doc.get_object(self.page).unwrap().as_dict().unwrap()
    }

    fn media_box(&self) -> Vec<f32> {
        self.page_dict().get(b"MediaBox").unwrap().as_array().unwrap().iter().map(|o| o.as_float().unwrap()).collect()
    }

    fn x_object(&self, name: &[u8]) -> Option<&lopdf::Stream> {
        let resources = self.doc.dereference(self.page_dict().get(b"Resources").ok()?).ok()?.1.as_dict().ok()?;
        let x_objects = self.doc.dereference(resources.get(b"XObject").ok()?).ok()?.1.as_dict().ok()?;
        let id = x_objects.get(name).ok()?.as_reference().ok()?;
        self.doc.get_object(id).ok()?.as_stream().ok()
    }

    /// Every string the page shows (Tj operands), as WinAnsi bytes.
    fn shown(&self) -> Vec<Vec<u8>> {
        let content = self.doc.get_page_content(self.page).unwrap();
        let ops = lopdf::content::Content::decode(&content).unwrap().operations;
        ops.iter()
            .filter(|op| op.operator == "Tj")
            .filter_map(|op| match op.operands.first() {
                Some(Object::String(bytes, _)) => Some(bytes.clone()),
                _ => None,
            })
            .collect()
    }
}

fn int(stream: &lopdf::Stream, key: &[u8]) -> i64 {
    stream.dict.get(key).unwrap().as_i64().unwrap()
}

fn name<'a>(stream: &'a lopdf::Stream, key: &[u8]) -> &'a [u8] {
    stream.dict.get(key).unwrap().as_name().unwrap()
}

/// Every text line stays in its box, on the card.
fn assert_fits(layout: &Layout) {
    for run in &layout.runs {
        let f = &run.fitted;
        assert!(f.size > 0.0 && f.size.is_finite(), "{run:?}");
        assert!(run.x >= run.box_x - 1e-3, "{run:?}");
        assert!(run.x + f.width <= run.box_x + run.box_width + 1e-3, "{run:?}");
        let measured = text_width(run.font, &f.text) as f32 * f.size / 1000.0;
        assert!((measured - f.width).abs() < 1e-2, "{run:?}: measured {measured}");
        assert!(run.box_x >= 0.0 && run.box_x + run.box_width <= CARD_WIDTH_PT, "{run:?}");
        assert!(run.baseline > 0.0 && run.baseline + f.size <= CARD_HEIGHT_PT, "{run:?}");
        assert!(f.text.chars().all(|c| super::text::winansi(c).is_some()), "{run:?}");
    }
}

#[test]
fn a_real_decoder_reads_the_badge_from_the_matrix() {
    let text = signed_text(&photographer());
    let m = qr_matrix(&text).unwrap();
    assert_eq!((m.width() - 17) % 4, 0, "a QR version's width");
    assert!(m.width() <= 57, "a typical badge fits version 10: {} modules", m.width());
    assert_eq!(decode_qr(render(&m, 4)), vec![text.clone()]);
    // Outside the symbol is the light quiet zone.
    assert!(!m.is_dark(m.width(), 0) && !m.is_dark(0, usize::MAX));
    // The finder pattern's corner is dark, as in every QR code.
    assert!(m.is_dark(0, 0) && m.is_dark(m.width() - 1, 0) && m.is_dark(0, m.width() - 1));
}

#[test]
fn the_svg_draws_exactly_the_dark_modules() {
    let m = qr_matrix(&signed_text(&photographer())).unwrap();
    let svg = m.to_svg(3);
    let side = m.width_with_quiet_zone();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    assert!(
        svg.contains(&format!("width=\"{}\"", side * 3)) && svg.contains(&format!("viewBox=\"0 0 {side} {side}\""))
    );
    // Rebuild the matrix from the path's runs: `M{x} {y}h{n}v1h-{n}z`.
    let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
    let mut drawn = vec![false; side * side];
    for run in d.split('z').filter(|r| !r.is_empty()) {
        let nums: Vec<usize> =
            run.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
        let [x, y, n, one, n2] = nums[..] else { panic!("bad run {run}") };
        assert_eq!((one, n2), (1, n));
        for i in x..x + n {
            assert!(!drawn[y * side + i], "drawn twice");
            drawn[y * side + i] = true;
        }
    }
    for y in 0..side {
        for x in 0..side {
            let expected = x >= QUIET_ZONE && y >= QUIET_ZONE && m.is_dark(x - QUIET_ZONE, y - QUIET_ZONE);
            assert_eq!(drawn[y * side + x], expected, "module ({x}, {y})");
        }
    }
    // A zero scale is taken as one pixel per module, not an empty image.
    assert!(m.to_svg(0).contains(&format!("width=\"{side}\"")));
}

#[test]
fn the_qr_code_read_back_from_the_pdf_is_the_badge() {
    let text = signed_text(&photographer());
    let photo = portrait();
    let bytes = card_pdf(&face(), Some(&photo), &text).unwrap();
    let pdf = Parsed::load(&bytes);

    let media = pdf.media_box();
    assert_eq!(media.len(), 4);
    assert!(media[0].abs() < 1e-3 && media[1].abs() < 1e-3, "{media:?}");
    assert!((media[2] - 242.65).abs() < 0.1 && (media[3] - 153.01).abs() < 0.1, "{media:?}");

    let qr = pdf.x_object(b"QR").expect("the QR image XObject");
    assert_eq!(name(qr, b"Subtype"), b"Image");
    assert_eq!(name(qr, b"ColorSpace"), b"DeviceGray");
    assert_eq!(int(qr, b"BitsPerComponent"), 8);
    let (w, h) = (int(qr, b"Width") as u32, int(qr, b"Height") as u32);
    let pixels = qr.decompressed_content().unwrap();
    assert_eq!(pixels.len() as u32, w * h);
    let modules = qr_matrix(&text).unwrap().width_with_quiet_zone() as u32;
    assert_eq!((w, h), (modules * 4, modules * 4), "4 pixels per module, quiet zone included");
    assert_eq!(decode_qr(GrayImage::from_raw(w, h, pixels).unwrap()), vec![text]);

    // The photo is the prepared JPEG itself, untouched.
    let img = pdf.x_object(b"Photo").expect("the photo XObject");
    assert_eq!(name(img, b"Filter"), b"DCTDecode");
    assert_eq!(name(img, b"ColorSpace"), b"DeviceRGB");
    assert_eq!((int(img, b"Width"), int(img, b"Height")), (i64::from(photo.width), i64::from(photo.height)));
    assert_eq!(img.content, photo.jpeg);

    let shown = pdf.shown();
    for expected in ["Anne DUPONT", "Agence France-Presse", "Photographer", "EP", "1 4 9", "TM PT", "STA AQC ARN MPC"] {
        assert!(shown.contains(&expected.as_bytes().to_vec()), "{expected} in {shown:?}");
    }
    assert!(shown.contains(&b"26 Jul \x96 11 Aug 2024".to_vec()), "the en dash is WinAnsi 0x96: {shown:?}");
    assert!(shown.contains(&b"P0000000042 \xb7 serial 0".to_vec()), "{shown:?}");
}

#[test]
fn the_printed_qr_code_is_big_enough_for_phones() {
    let m = qr_matrix(&signed_text(&photographer())).unwrap();
    let symbol_mm = QR_SIDE_PT * m.width() as f32 / m.width_with_quiet_zone() as f32 * 25.4 / 72.0;
    assert!(symbol_mm >= 25.0, "{symbol_mm} mm");
    let smallest = qr_matrix("").unwrap();
    assert_eq!(smallest.width(), 21);
    let smallest_mm = QR_SIDE_PT * 21.0 / 29.0 * 25.4 / 72.0;
    assert!(smallest_mm >= 20.0, "even version 1 prints over 20 mm: {smallest_mm}");
    // Even the largest badge the format allows prints with modules of 0.25 mm or more.
    // (Phone badges, longer, are shown on screens, never printed.)
    let largest = "A".repeat(MAX_CARD_TEXT_LEN);
    let m = qr_matrix(&largest).unwrap();
    assert!(m.width() <= max_qr_modules(), "{} > {}", m.width(), max_qr_modules());
    assert!(card_pdf(&face(), None, &largest).is_ok());
}

#[test]
fn payloads_the_card_cannot_carry_are_refused() {
    let huge = "A".repeat(5_000);
    assert_eq!(qr_matrix(&huge).unwrap_err(), CardError::QrTooLong { len: 5_000 });
    assert_eq!(card_pdf(&face(), None, &huge).unwrap_err(), CardError::QrTooLong { len: 5_000 });
    // Encodable, but only with modules too small for the card.
    let dense = "A".repeat(2_500);
    let modules = qr_matrix(&dense).unwrap().width();
    assert_eq!(card_pdf(&face(), None, &dense).unwrap_err(), CardError::QrTooDense { modules, max: 113 });
}

#[test]
fn a_photo_pdf_cannot_take_as_is_is_re_encoded() {
    // Someone built a CardPhoto around PNG bytes: it still prints, as raw RGB.
    let img = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(35, 45, |x, _| {
        if x < 10 {
            image::Rgba([0, 0, 0, 0]) // transparent: printed white
        } else {
            image::Rgba([200, 30, 40, 255])
        }
    }));
    let png = encode_image(img, ImageFormat::Png);
    let photo = CardPhoto { jpeg: png, width: 35, height: 45, sha256: [0; 32] };
    let pdf = Parsed::load(&card_pdf(&face(), Some(&photo), "HELLO").unwrap());
    let img = pdf.x_object(b"Photo").unwrap();
    assert_eq!(name(img, b"ColorSpace"), b"DeviceRGB");
    assert_eq!((int(img, b"Width"), int(img, b"Height"), int(img, b"BitsPerComponent")), (35, 45, 8));
    let rgb = img.decompressed_content().unwrap();
    assert_eq!(rgb.len(), 35 * 45 * 3);
    assert_eq!(&rgb[..3], &[255, 255, 255]);
    assert_eq!(&rgb[3 * 20..3 * 21], &[200, 30, 40]);
}

#[test]
fn a_grey_jpeg_is_embedded_as_grey() {
    let img = DynamicImage::ImageLuma8(GrayImage::from_fn(70, 90, |x, _| image::Luma([(x * 3) as u8])));
    let jpeg = encode_image(img, ImageFormat::Jpeg);
    let frame = jpeg_frame(&jpeg).unwrap();
    assert_eq!((frame.marker, frame.precision, frame.width, frame.height, frame.components), (0xC0, 8, 70, 90, 1));
    let photo = CardPhoto { jpeg: jpeg.clone(), width: 70, height: 90, sha256: [0; 32] };
    let pdf = Parsed::load(&card_pdf(&face(), Some(&photo), "HELLO").unwrap());
    let img = pdf.x_object(b"Photo").unwrap();
    assert_eq!((name(img, b"Filter"), name(img, b"ColorSpace")), (&b"DCTDecode"[..], &b"DeviceGray"[..]));
    assert_eq!(img.content, jpeg);
    // Padding after the end-of-image marker, which some writers add, is not truncation.
    let mut padded = jpeg;
    padded.extend_from_slice(&[0, 0, b'\n']);
    assert!(card_pdf(&face(), Some(&CardPhoto { jpeg: padded, ..photo }), "HELLO").is_ok());
}

#[test]
fn unusable_photos_are_refused_not_printed() {
    let good = portrait();
    let mut truncated = good.jpeg.clone();
    truncated.truncate(truncated.len() / 3);
    for jpeg in [
        Vec::new(),
        b"not an image at all".to_vec(),
        vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0],
        truncated,
        vec![0xFF; MAX_PHOTO_BYTES + 1],
    ] {
        let photo = CardPhoto { jpeg, ..good.clone() };
        match card_pdf(&face(), Some(&photo), "HELLO") {
            Err(CardError::PhotoUnusable(_)) => {}
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("printed an unusable photo: {photo:?}"),
        }
    }
    // Without a photo, a grey box stands in its place and the card prints.
    let pdf = Parsed::load(&card_pdf(&face(), None, "HELLO").unwrap());
    assert!(pdf.x_object(b"Photo").is_none() && pdf.x_object(b"QR").is_some());
}

#[test]
fn the_jpeg_frame_reader_survives_any_prefix() {
    let jpeg = portrait().jpeg;
    for end in 0..jpeg.len().min(2_000) {
        let _ = jpeg_frame(&jpeg[..end]);
    }
    assert_eq!(jpeg_frame(&jpeg).map(|f| (f.width, f.height, f.components)), Some((700, 900, 3)));
    assert_eq!(jpeg_frame(&[0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x01]), None, "a length below 2");
}

#[test]
fn text_is_folded_onto_winansi() {
    assert_eq!(fold("Zoë Ærøskøbing"), "Zoë Ærøskøbing", "Latin-1 prints as is");
    assert_eq!(fold("Łukasz Żółć"), "Lukasz Zólc");
    assert_eq!(fold("Şerban Ţiriac Đoković Őry"), "Serban Tiriac Dokovic Ory");
    assert_eq!(fold("e\u{301}lodie"), "élodie", "decomposed input is composed first");
    assert_eq!(fold("Дмитрий 李"), "??????? ?");
    assert_eq!(fold("  Jean\t\n Pierre \u{a0} "), "Jean Pierre");
    assert_eq!(fold("ﬁ\u{200B}ne\u{202E}\u{0}"), "fine", "ligatures unfolded, invisibles dropped");
    assert_eq!(fold("Ana \u{1F3C5}"), "Ana ?");
    assert_eq!(fold("O\u{2019}Brien \u{2013} “Jr”"), "O\u{2019}Brien \u{2013} “Jr”", "WinAnsi typography kept");
    assert_eq!(super::text::encode("é–…"), vec![0xE9, 0x96, 0x85]);
}

#[test]
fn widths_are_helveticas_and_never_underestimated() {
    assert_eq!(
        text_width(Font::Regular, "Anne DUPONT"),
        667 + 556 + 556 + 556 + 278 + 722 + 722 + 667 + 778 + 722 + 611
    );
    assert_eq!(text_width(Font::Bold, "W@i"), 944 + 975 + 278);
    // Accented letters are as wide as their base letter; anything else non-ASCII counts 1000.
    assert_eq!(char_width(Font::Bold, 'É'), char_width(Font::Bold, 'E'));
    assert_eq!(char_width(Font::Regular, 'ÿ'), 500);
    for c in ['Æ', 'Œ', '…', '‰', '™', '—', 'ß', 'ø'] {
        assert_eq!(char_width(Font::Regular, c), 1000);
    }
}

#[test]
fn long_names_shrink_then_are_cut_with_an_ellipsis() {
    let mut face = face();
    face.holder = "Maria de los Ángeles Fernández-Villaverde y Castillo".into();
    let l = layout(&face);
    let holder = l.run("holder").unwrap();
    assert!(!holder.fitted.truncated && holder.fitted.text == fold(&face.holder));
    assert!(holder.fitted.size < 12.0 && holder.fitted.size >= 6.0, "{holder:?}");
    assert!(holder.fitted.width <= holder.box_width);
    assert_fits(&l);

    face.holder = "Wolfeschlegelsteinhausenbergerdorff ".repeat(40);
    face.organisation = "W".repeat(10_000);
    face.function = "Ω".repeat(500);
    face.valid = "x".repeat(300);
    let l = layout(&face);
    let holder = l.run("holder").unwrap();
    assert!(holder.fitted.truncated, "{holder:?}");
    assert_eq!(holder.fitted.size, 6.0);
    assert!(holder.fitted.text.ends_with(ELLIPSIS) && holder.fitted.text.starts_with("Wolfeschlegel"));
    assert!(holder.fitted.width <= holder.box_width);
    // The cut is as long as it can be: one more character would not fit.
    let budget = holder.box_width * 1000.0 / 6.0;
    let next = face.holder.chars().nth(holder.fitted.text.chars().count() - 1).unwrap();
    let longer = text_width(Font::Bold, &holder.fitted.text) + u64::from(char_width(Font::Bold, next));
    assert!(longer as f32 > budget || next == ' ');
    assert!(l.run("organisation").unwrap().fitted.truncated);
    assert_fits(&l);

    // The widest possible category code shrinks in its part of the band.
    face.category = CategoryCode::parse("MMMMMMMM").unwrap();
    let l = layout(&face);
    let category = l.run("category").unwrap();
    assert!(category.fitted.size < 20.0 && !category.fitted.truncated, "{category:?}");
    assert_fits(&l);
    let pdf = Parsed::load(&card_pdf(&face, None, "HELLO").unwrap());
    let mut cut = super::text::encode(&holder.fitted.text);
    assert_eq!(cut.pop(), Some(0x85), "the ellipsis is WinAnsi 0x85");
    assert!(pdf.shown().iter().any(|s| s.starts_with(&cut)));
}

#[test]
fn fitting_edge_cases() {
    let f = fit("", Font::Bold, 50.0, 12.0, 6.0);
    assert_eq!((f.text.as_str(), f.width, f.truncated), ("", 0.0, false));
    // Not even an ellipsis fits: nothing is shown rather than an overflow.
    let f = fit("ABC", Font::Bold, 1.0, 12.0, 6.0);
    assert_eq!((f.text.as_str(), f.truncated), ("", true));
    let f = fit("AB", Font::Bold, 100.0, 12.0, 6.0);
    assert_eq!((f.size, f.truncated), (12.0, false));
}

#[test]
fn diacritics_and_other_scripts_print() {
    let text = signed_text(&photographer());
    for (holder, shown) in [
        ("Zoë Łukasiewicz-Ærø", &b"Zo\xeb Lukasiewicz-\xc6r\xf8"[..]),
        ("Дмитрий ИВАНОВ", b"??????? ??????"),
        ("李小龍", b"???"),
        ("محمد صلاح", b"???? ????"),
        ("Ngô Bảo Châu", b"Ng\xf4 Bao Ch\xe2u"),
        ("Jean (Johnny) O\\Brien", b"Jean (Johnny) O\\Brien"),
    ] {
        let mut face = face();
        face.holder = holder.into();
        face.organisation = format!("{holder} ☃");
        let bytes = card_pdf(&face, None, &text).unwrap();
        let pdf = Parsed::load(&bytes);
        assert!(pdf.shown().contains(&shown.to_vec()), "{holder}: {:?}", pdf.shown());
        assert_fits(&layout(&face));
    }
}

#[test]
fn faces_from_badges_and_applications() {
    let badge = photographer();
    let f = CardFace::from_badge(&badge, "Photographer", PARIS);
    assert_eq!((f.holder.as_str(), f.organisation.as_str(), f.category.as_str()), ("Anne DUPONT", "AFP", "EP"));
    assert_eq!((f.person, f.serial, f.zones.len()), (PersonId(42), 0, 3));
    assert_eq!(f.valid, "26 Jul \u{2013} 11 Aug 2024");
    let reprint = CardFace::from_badge(&badge.reprint().unwrap(), "Photographer", PARIS);
    assert_eq!(reprint.serial, 1);

    let matrix = AccessMatrix::demo_default();
    let ctx = ParseContext { matrix: &matrix, today: time::macros::date!(2024 - 07 - 01) };
    let raw = RawApplication {
        given_name: "Anne".into(),
        family_name: "Dupont".into(),
        date_of_birth: "1990-04-02".into(),
        nationality: "FRA".into(),
        document_number: "12AB34567".into(),
        category: "EP".into(),
        function: "Photographer".into(),
        organisation: "AFP".into(),
        venues: "STA MPC".into(),
        zones: "1 4 9".into(),
        privileges: "TM PT".into(),
    };
    let app = crate::Application::parse(&raw, &ctx).unwrap();
    let f = CardFace::for_application(&app, PersonId(42), 0, "26 Jul \u{2013} 11 Aug 2024");
    assert_eq!((f.holder.as_str(), f.function.as_str()), ("Anne DUPONT", "Photographer"));
    assert_eq!(f.zones, vec![z("1"), z("4"), z("9")]);
    assert!(card_pdf(&f, None, "HELLO").is_ok());
}

#[test]
fn validity_is_printed_in_event_days() {
    assert_eq!(validity_text(OPENING, OPENING + DAY, PARIS), "26 Jul 2024", "one day, end exclusive");
    assert_eq!(validity_text(OPENING, OPENING + 17 * DAY, PARIS), "26 Jul \u{2013} 11 Aug 2024");
    assert_eq!(validity_text(OPENING, OPENING + 17 * DAY, UtcOffset::UTC), "25 Jul \u{2013} 11 Aug 2024");
    let new_year = 1_735_516_800; // 2024-12-30 00:00 UTC
    assert_eq!(validity_text(new_year, new_year + 4 * DAY, UtcOffset::UTC), "30 Dec 2024 \u{2013} 2 Jan 2025");
    assert_eq!(validity_text(OPENING, OPENING - DAY, PARIS), "26 Jul 2024", "an empty window prints its start");
    assert_eq!(validity_text(i64::MAX, i64::MAX, PARIS), "");
    assert_eq!(validity_text(i64::MIN, i64::MAX, PARIS), "");
}

#[test]
fn category_colours_are_stable_and_readable() {
    let ep = CategoryCode::parse("EP").unwrap();
    assert_eq!(category_colour(&ep), category_colour(&CategoryCode::parse("EP").unwrap()));
    let codes = ["A", "AP", "Ac", "E", "EP", "RT", "HB", "WF", "VL", "G", "SEC", "TO"];
    let distinct: std::collections::BTreeSet<_> =
        codes.iter().map(|c| category_colour(&CategoryCode::parse(c).unwrap())).collect();
    assert!(distinct.len() >= 6, "categories spread over the palette: {distinct:?}");
    let mut face = face();
    for code in codes {
        face.category = CategoryCode::parse(code).unwrap();
        let l = layout(&face);
        let text = l.run("category").unwrap().colour;
        let lum = |c: [f32; 3]| 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        assert!((lum(l.band) - lum(text)).abs() > 0.35, "{code}: band {:?} text {text:?}", l.band);
    }
}

#[test]
fn the_same_card_gives_the_same_bytes() {
    let text = signed_text(&photographer());
    let photo = portrait();
    assert_eq!(card_pdf(&face(), Some(&photo), &text).unwrap(), card_pdf(&face(), Some(&photo), &text).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any Unicode in the free-text fields: a valid PDF whose text stays in its boxes.
    #[test]
    fn any_text_prints(holder in any::<String>(), organisation in "\\PC{0,120}", function in any::<String>(), valid in "\\PC{0,40}") {
        let face = CardFace { holder, organisation, function, valid, ..face() };
        let bytes = card_pdf(&face, None, "HELLO").unwrap();
        prop_assert!(bytes.starts_with(b"%PDF-"));
        let pdf = Parsed::load(&bytes);
        prop_assert_eq!(pdf.shown().len(), layout(&face).runs.iter().filter(|r| !r.fitted.text.is_empty()).count());
        assert_fits(&layout(&face));
    }

    /// Any payload: a matrix or an error, never a panic.
    #[test]
    fn any_payload_encodes_or_is_refused(text in "\\PC{0,400}|[A-Z0-9 $%*+./:-]{0,3000}") {
        match qr_matrix(&text) {
            Ok(m) => prop_assert!(m.width() >= 21 && m.width() <= 177),
            Err(e) => prop_assert!(matches!(e, CardError::QrTooLong { .. }), "{:?}", e),
        }
    }
}
