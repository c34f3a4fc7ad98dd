//! Text on the card: what the standard fonts can show, how wide it is, and how to make it fit.
//!
//! The card uses the PDF standard fonts Helvetica and Helvetica-Bold with WinAnsiEncoding, so no
//! font file is embedded and every reader and card printer renders them. Their price is a
//! 1-byte encoding of about 220 characters (ASCII, Latin-1 and a few typographic signs), so
//! [`fold`] maps any text onto it:
//!
//! 1. NFC first, so that a letter typed as base + combining accent becomes the precomposed
//!    character WinAnsi has (`e` + U+0301 → `é`, which prints as is);
//! 2. characters WinAnsi encodes are kept;
//! 3. whitespace becomes one space (runs collapsed, ends trimmed); control and invisible
//!    formatting characters (bidi marks, zero-width joiners, soft hyphens) are dropped, as they
//!    have no glyph;
//! 4. letters with a stroke, which have no decomposition (`Ł`, `đ`, `ħ`, `ı`), become their
//!    base letter, for Polish, Croatian, Maltese and Turkish names;
//! 5. anything else is decomposed (NFKD, which is NFD plus the compatibility forms: ligatures
//!    such as `ﬁ`, full-width letters) and its combining marks stripped: `ő` → `o`, `ș` → `s`;
//! 6. what is still not encodable (Cyrillic, Greek, CJK, Arabic, emoji...) becomes `?`.
//!
//! A name in a non-Latin script thus prints as question marks. That is deliberate: the card
//! must never fail to print, the QR code carries the exact UTF-8 name to the gate, and showing
//! such names needs an embedded font (a later change), not a guess at transliteration.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization as _;

/// The two faces the card uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
}

impl Font {
    /// The page resource name.
    pub(crate) fn resource(self) -> &'static [u8] {
        match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
        }
    }

    /// The standard font's PostScript name.
    pub(crate) fn base_font(self) -> &'static [u8] {
        match self {
            Font::Regular => b"Helvetica",
            Font::Bold => b"Helvetica-Bold",
        }
    }

    fn ascii_widths(self) -> &'static [u16; 95] {
        match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        }
    }
}

/// Advance widths (1/1000 em) of ASCII 0x20..=0x7E, from Adobe's Helvetica AFM. For 0x27 and
/// 0x60, whose WinAnsi glyphs (quotesingle, grave) differ from the AFM's standard-encoding ones
/// (quoteright, quoteleft), the larger of the two is used, so estimates never fall short.
#[rustfmt::skip]
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 222, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,      // p..~
];

/// Same for Helvetica-Bold.
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 278, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0..?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P.._
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // `..o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,      // p..~
];

/// Upper bound for any non-ASCII WinAnsi glyph that is not an accented ASCII letter: the widest
/// ones (Æ, Œ, ‰, …, ™, —) are 1000 units in both faces.
const WIDEST: u16 = 1000;

/// The ellipsis that marks truncated text (WinAnsi 0x85).
pub(crate) const ELLIPSIS: char = '\u{2026}';

/// The WinAnsiEncoding byte of `c`, if the encoding has it.
pub(crate) fn winansi(c: char) -> Option<u8> {
    let code = u32::from(c);
    if (0x20..=0x7E).contains(&code) || (0xA0..=0xFF).contains(&code) {
        return u8::try_from(code).ok();
    }
    Some(match c {
        '\u{20AC}' => 0x80, // €
        '\u{201A}' => 0x82, // ‚
        '\u{0192}' => 0x83, // ƒ
        '\u{201E}' => 0x84, // „
        '\u{2026}' => 0x85, // …
        '\u{2020}' => 0x86, // †
        '\u{2021}' => 0x87, // ‡
        '\u{02C6}' => 0x88, // ˆ
        '\u{2030}' => 0x89, // ‰
        '\u{0160}' => 0x8A, // Š
        '\u{2039}' => 0x8B, // ‹
        '\u{0152}' => 0x8C, // Œ
        '\u{017D}' => 0x8E, // Ž
        '\u{2018}' => 0x91, // ‘
        '\u{2019}' => 0x92, // ’
        '\u{201C}' => 0x93, // “
        '\u{201D}' => 0x94, // ”
        '\u{2022}' => 0x95, // •
        '\u{2013}' => 0x96, // –
        '\u{2014}' => 0x97, // —
        '\u{02DC}' => 0x98, // ˜
        '\u{2122}' => 0x99, // ™
        '\u{0161}' => 0x9A, // š
        '\u{203A}' => 0x9B, // ›
        '\u{0153}' => 0x9C, // œ
        '\u{017E}' => 0x9E, // ž
        '\u{0178}' => 0x9F, // Ÿ
        _ => return None,
    })
}

/// Characters with no glyph that are dropped rather than shown as `?`.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}' | '\u{FEFF}')
        || ('\u{200B}'..='\u{200F}').contains(&c)
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2060}'..='\u{206F}').contains(&c)
        || ('\u{FE00}'..='\u{FE0F}').contains(&c)
}

/// Letters with a stroke or without a dot: no Unicode decomposition, an obvious base letter.
fn unstroked(c: char) -> Option<char> {
    Some(match c {
        'Ł' => 'L',
        'ł' => 'l',
        'Đ' => 'D',
        'đ' => 'd',
        'Ħ' => 'H',
        'ħ' => 'h',
        'ı' => 'i',
        'Ŧ' => 'T',
        'ŧ' => 't',
        'Ƶ' => 'Z',
        'ƶ' => 'z',
        _ => return None,
    })
}

/// Folds `s` onto what WinAnsiEncoding can show (see the module documentation).
pub fn fold(s: &str) -> String {
    let mut out = Folded { text: String::with_capacity(s.len()), space: false };
    for c in s.nfc() {
        if c.is_whitespace() {
            out.space = true;
        } else if winansi(c).is_some() {
            out.push(c);
        } else if is_invisible(c) || is_combining_mark(c) {
            // No glyph of its own: a mark NFC could not compose is a diacritic to strip.
        } else if let Some(base) = unstroked(c) {
            out.push(base);
        } else {
            let base: Vec<char> = std::iter::once(c).nfkd().filter(|d| !is_combining_mark(*d)).collect();
            if !base.is_empty() && base.iter().all(|d| winansi(*d).is_some() && !d.is_whitespace()) {
                base.into_iter().for_each(|d| out.push(d));
            } else {
                out.push('?');
            }
        }
    }
    out.text
}

/// Folded text being built: a run of whitespace becomes one space before the next character,
/// so spaces are collapsed and never lead or trail.
struct Folded {
    text: String,
    space: bool,
}

impl Folded {
    fn push(&mut self, c: char) {
        if self.space && !self.text.is_empty() {
            self.text.push(' ');
        }
        self.space = false;
        self.text.push(c);
    }
}

/// WinAnsi bytes of already folded text (anything unexpected becomes `?`).
pub(crate) fn encode(folded: &str) -> Vec<u8> {
    folded.chars().map(|c| winansi(c).unwrap_or(b'?')).collect()
}

/// Advance width of one folded character, 1/1000 em; never less than the real glyph's.
pub(crate) fn char_width(font: Font, c: char) -> u16 {
    let ascii = |c: char| {
        let code = u32::from(c);
        (0x20..=0x7E).contains(&code).then(|| font.ascii_widths()[(code - 0x20) as usize])
    };
    if let Some(w) = ascii(c) {
        return w;
    }
    // An accented letter is as wide as its base letter in Helvetica (é = e, Å = A, ÿ = y).
    std::iter::once(c).nfd().next().filter(|b| *b != c).and_then(ascii).unwrap_or(WIDEST)
}

/// Width of folded text, 1/1000 em.
pub(crate) fn text_width(font: Font, text: &str) -> u64 {
    text.chars().map(|c| u64::from(char_width(font, c))).sum()
}

/// Text made to fit a width: its font size, and the text itself if it had to be cut.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fitted {
    /// What to show (folded, possibly ending with an ellipsis).
    pub text: String,
    /// Font size, points.
    pub size: f32,
    /// Width at that size, points (never more than the width asked for).
    pub width: f32,
    /// Whether the text was cut.
    pub truncated: bool,
}

/// Fits folded `text` into `max_width` points: at `max_size` if it fits, else at the largest
/// size down to `min_size` (in steps of 0.1 pt, rounded down), else cut at `min_size` with an
/// ellipsis. Widths come from the fonts' metrics (see [`char_width`]), so the text never
/// overflows; kerning only ever narrows it.
pub(crate) fn fit(text: &str, font: Font, max_width: f32, max_size: f32, min_size: f32) -> Fitted {
    let (max_width, max_size, min_size) = (f64::from(max_width), f64::from(max_size), f64::from(min_size));
    let points = |units: u64, size: f64| units as f64 * size / 1000.0;
    let units = text_width(font, text);
    if units == 0 || points(units, max_size) <= max_width {
        return Fitted {
            text: text.to_owned(),
            size: max_size as f32,
            width: points(units, max_size) as f32,
            truncated: false,
        };
    }
    let size = (max_width * 1000.0 / units as f64 * 10.0).floor() / 10.0;
    if size >= min_size {
        return Fitted {
            text: text.to_owned(),
            size: size as f32,
            width: points(units, size) as f32,
            truncated: false,
        };
    }
    let budget = max_width * 1000.0 / min_size;
    let ellipsis = u64::from(char_width(font, ELLIPSIS));
    let mut used = 0u64;
    let mut cut = String::new();
    for c in text.chars() {
        let w = u64::from(char_width(font, c));
        if (used + w + ellipsis) as f64 > budget {
            break;
        }
        used += w;
        cut.push(c);
    }
    let mut cut = cut.trim_end().to_owned();
    if (text_width(font, &cut) + ellipsis) as f64 <= budget {
        cut.push(ELLIPSIS);
    } else {
        // Not even an ellipsis fits: show nothing rather than overflow.
        cut.clear();
    }
    let width = points(text_width(font, &cut), min_size) as f32;
    Fitted { text: cut, size: min_size as f32, width, truncated: true }
}
