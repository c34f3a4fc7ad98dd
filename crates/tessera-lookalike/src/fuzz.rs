//! dnstwist's fuzzers, reimplemented: every lookalike of an official domain that dnstwist
//! 20250130 generates, each tagged with the fuzzer that made it.
//!
//! The behaviour follows `dnstwist.py` (class `Fuzzer`): the fuzzers work on the registrable
//! label only (`paris2024` in `paris2024.org`), the subdomain and suffix are put back around each
//! variant; homoglyphs are applied twice with one- and two-character windows, from dnstwist's
//! ASCII table merged with its per-TLD IDN table (or its general Unicode table for the other
//! TLDs); insertion and replacement use its QWERTY, QWERTZ and AZERTY neighbours; candidates are
//! punycode-encoded, deduplicated (the first fuzzer wins, in dnstwist's order) and kept only if
//! they pass dnstwist's host-name pattern. The data lives in [`tables`]. Two deliberate
//! differences: the split at the public suffix uses Mozilla's list (dnstwist, without its
//! optional `tld` package, guesses with a short list of second-level labels), and the original
//! domain itself is not a candidate.

pub mod tables;

use std::collections::{HashMap, HashSet};

use unicode_normalization::UnicodeNormalization;

use crate::name::{to_ascii, Name, NameError};

/// A dnstwist fuzzer: how a candidate was made from the official domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FuzzClass {
    /// One character appended (`paris20241`), or added before a hyphen.
    Addition,
    /// One bit flipped in one character (`parhs2024`).
    Bitsquatting,
    /// Every Latin letter that has a Cyrillic twin replaced (only if all of them have one).
    Cyrillic,
    /// One or two characters replaced by look-alikes (`parls2024`, `pаris2024`).
    Homoglyph,
    /// A hyphen inserted (`paris-2024`).
    Hyphenation,
    /// A keyboard neighbour inserted (`pariws2024`).
    Insertion,
    /// One character dropped (`pari2024`).
    Omission,
    /// An `s` (or `es`) added inside (`pariss2024`).
    Plural,
    /// One character doubled (`parris2024`).
    Repetition,
    /// One character replaced by a keyboard neighbour (`psris2024`).
    Replacement,
    /// A dot inserted (`par.is2024`).
    Subdomain,
    /// Two adjacent characters swapped (`apris2024`).
    Transposition,
    /// One vowel replaced by another (`puris2024`).
    VowelSwap,
    /// A phishing word added (`paris2024-login`).
    Dictionary,
    /// The same label under another TLD (`paris2024.com`).
    TldSwap,
    /// dnstwist's "various": the TLD folded into the label (`paris2024org.com`).
    Various,
}

impl FuzzClass {
    /// Every class, in dnstwist's order.
    pub const ALL: [FuzzClass; 16] = [
        FuzzClass::Addition,
        FuzzClass::Bitsquatting,
        FuzzClass::Cyrillic,
        FuzzClass::Homoglyph,
        FuzzClass::Hyphenation,
        FuzzClass::Insertion,
        FuzzClass::Omission,
        FuzzClass::Plural,
        FuzzClass::Repetition,
        FuzzClass::Replacement,
        FuzzClass::Subdomain,
        FuzzClass::Transposition,
        FuzzClass::VowelSwap,
        FuzzClass::Dictionary,
        FuzzClass::TldSwap,
        FuzzClass::Various,
    ];

    /// dnstwist's name for the fuzzer (`vowel-swap`, `tld-swap`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FuzzClass::Addition => "addition",
            FuzzClass::Bitsquatting => "bitsquatting",
            FuzzClass::Cyrillic => "cyrillic",
            FuzzClass::Homoglyph => "homoglyph",
            FuzzClass::Hyphenation => "hyphenation",
            FuzzClass::Insertion => "insertion",
            FuzzClass::Omission => "omission",
            FuzzClass::Plural => "plural",
            FuzzClass::Repetition => "repetition",
            FuzzClass::Replacement => "replacement",
            FuzzClass::Subdomain => "subdomain",
            FuzzClass::Transposition => "transposition",
            FuzzClass::VowelSwap => "vowel-swap",
            FuzzClass::Dictionary => "dictionary",
            FuzzClass::TldSwap => "tld-swap",
            FuzzClass::Various => "various",
        }
    }
}

/// One generated lookalike.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// The fuzzer that made it (the first one, when several make the same name).
    pub class: FuzzClass,
    /// The name as DNS and dnstwist's list output spell it (punycode for IDN labels).
    pub ascii: String,
    /// The same name in canonical Unicode form (see [`crate::name`]).
    pub unicode: String,
}

/// The word and TLD lists behind the dictionary and TLD-swap fuzzers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzOptions {
    /// Words for the dictionary fuzzer (dnstwist's `-d FILE`).
    pub dictionary: Vec<String>,
    /// TLDs for the TLD-swap fuzzer (dnstwist's `--tld FILE`).
    pub tlds: Vec<String>,
}

impl Default for FuzzOptions {
    /// dnstwist's own English and French dictionaries and its common and abused TLD lists.
    fn default() -> Self {
        FuzzOptions {
            dictionary: tables::DICTIONARY.iter().map(|s| s.to_string()).collect(),
            tlds: tables::TLDS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Why a domain cannot be fuzzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FuzzError {
    /// Not a domain name.
    #[error("not a domain name: {0}")]
    Name(#[from] NameError),
    /// A bare public suffix (`co.uk`): there is no label to vary.
    #[error("a public suffix has no registrable label")]
    NoRegistrableLabel,
}

/// Every dnstwist candidate for `official`, in dnstwist's fuzzer order, without duplicates and
/// without `official` itself.
pub fn fuzz(official: &str, options: &FuzzOptions) -> Result<Vec<Candidate>, FuzzError> {
    let name = Name::parse(official)?;
    let label: Vec<char> = name.registrable_label().ok_or(FuzzError::NoRegistrableLabel)?.chars().collect();
    let (sub, tld) = (name.subdomain(), name.suffix());
    let join = |parts: &[&str]| -> String {
        let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
        parts.join(".")
    };
    let label_str: String = label.iter().collect();

    let mut out = Vec::new();
    let mut seen = HashSet::new();
    seen.insert(name.as_str().to_string());
    let mut push = |class: FuzzClass, unicode: String| {
        // dnstwist encodes with IDNA before its pattern check; the same NFKC + lowercase as
        // `Name` keeps the Unicode and ASCII forms in step.
        let unicode: String =
            if unicode.is_ascii() { unicode } else { unicode.nfkc().flat_map(char::to_lowercase).collect() };
        let Some(ascii) = to_ascii(&unicode) else {
            return;
        };
        if valid_fqdn(&ascii) && seen.insert(ascii.clone()) {
            out.push(Candidate { class, ascii, unicode });
        }
    };

    let dictionary: Vec<&str> = options.dictionary.iter().map(String::as_str).filter(|w| valid_word(w)).collect();
    for class in FuzzClass::ALL {
        match class {
            FuzzClass::TldSwap => {
                for t in options.tlds.iter().filter(|t| valid_tld(t) && *t != tld) {
                    push(class, join(&[sub, &label_str, t]));
                }
            }
            FuzzClass::Various => {
                for v in various(sub, &label_str, tld) {
                    push(class, v);
                }
            }
            _ => {
                for variant in label_variants(class, &label, tld, &dictionary) {
                    push(class, join(&[sub, &variant, tld]));
                }
            }
        }
    }
    Ok(out)
}

/// The variants of the registrable label made by one label-level fuzzer.
fn label_variants(class: FuzzClass, d: &[char], tld: &str, dictionary: &[&str]) -> Vec<String> {
    let s = |chars: &[char]| -> String { chars.iter().collect() };
    let n = d.len();
    let with = |i: usize, middle: &str, j: usize| -> String {
        let mut v = s(&d[..i]);
        v.push_str(middle);
        v.push_str(&s(&d[j..]));
        v
    };
    let mut v = Vec::new();
    match class {
        FuzzClass::Addition => {
            let extra = ('0'..='9').chain('a'..='z');
            let label = s(d);
            if label.contains('-') {
                let parts: Vec<&str> = label.split('-').collect();
                for c in extra.clone() {
                    for p in 1..parts.len() {
                        v.push(format!("{}{c}-{}", parts[..p].join("-"), parts[p..].join("-")));
                    }
                }
            }
            v.extend(extra.map(|c| format!("{label}{c}")));
        }
        FuzzClass::Bitsquatting => {
            for (i, &c) in d.iter().enumerate() {
                for bit in 0..8 {
                    let flipped = char::from_u32(c as u32 ^ (1 << bit));
                    if let Some(b) = flipped.filter(|b| matches!(b, 'a'..='z' | '0'..='9' | '-')) {
                        v.push(with(i, &b.to_string(), i + 1));
                    }
                }
            }
        }
        FuzzClass::Cyrillic => {
            let map: HashMap<char, char> = tables::CYRILLIC.iter().copied().collect();
            let replaced: Vec<char> = d.iter().map(|c| *map.get(c).unwrap_or(c)).collect();
            if replaced.iter().zip(d).all(|(a, b)| a != b) {
                v.push(s(&replaced));
            }
        }
        FuzzClass::Homoglyph => {
            let glyphs = glyphs_for(tld);
            let once = homoglyph_mix(&s(d), &glyphs);
            let mut all: HashSet<String> = once.iter().cloned().collect();
            for r in &once {
                all.extend(homoglyph_mix(r, &glyphs));
            }
            let mut all: Vec<String> = all.into_iter().collect();
            all.sort_unstable(); // a set in dnstwist: any fixed order will do
            v = all;
        }
        FuzzClass::Hyphenation => v.extend((1..n).map(|i| with(i, "-", i))),
        FuzzClass::Insertion => {
            for (i, &o) in d.iter().enumerate().take(n.saturating_sub(1)) {
                for c in neighbours(o) {
                    v.push(with(i, &format!("{c}{o}"), i + 1));
                    v.push(with(i, &format!("{o}{c}"), i + 1));
                }
            }
        }
        FuzzClass::Omission => v.extend((0..n).map(|i| with(i, "", i + 1))),
        FuzzClass::Plural => {
            for (i, c) in d.iter().enumerate().take(n.saturating_sub(2)).skip(2) {
                let add = if matches!(c, 's' | 'x' | 'z') { "es" } else { "s" };
                v.push(with(i + 1, add, i + 1));
            }
        }
        FuzzClass::Repetition => v.extend((0..n).map(|i| with(i, &d[i].to_string(), i))),
        FuzzClass::Replacement => {
            for (i, &o) in d.iter().enumerate() {
                for c in neighbours(o) {
                    v.push(with(i, &c.to_string(), i + 1));
                }
            }
        }
        FuzzClass::Subdomain => {
            for i in 1..n.saturating_sub(1) {
                if !matches!(d[i], '-' | '.') && !matches!(d[i - 1], '-' | '.') {
                    v.push(with(i, ".", i));
                }
            }
        }
        FuzzClass::Transposition => {
            for i in 0..n.saturating_sub(1) {
                v.push(with(i, &format!("{}{}", d[i + 1], d[i]), i + 2));
            }
        }
        FuzzClass::VowelSwap => {
            for i in (0..n).filter(|&i| "aeiou".contains(d[i])) {
                v.extend("aeiou".chars().map(|c| with(i, &c.to_string(), i + 1)));
            }
        }
        FuzzClass::Dictionary => v = dictionary_variants(&s(d), dictionary),
        FuzzClass::TldSwap | FuzzClass::Various => {}
    }
    v
}

fn dictionary_variants(label: &str, dictionary: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for w in dictionary {
        if !(label.starts_with(w) && label.ends_with(w)) {
            v.extend([format!("{label}-{w}"), format!("{label}{w}"), format!("{w}-{label}"), format!("{w}{label}")]);
        }
    }
    if label.contains('-') {
        let parts: Vec<&str> = label.split('-').collect();
        for w in dictionary {
            v.push(format!("{}-{w}", parts[..parts.len() - 1].join("-")));
            v.push(format!("{w}-{}", parts[1..].join("-")));
        }
    }
    v
}

/// dnstwist's "various" fuzzer: the suffix folded into the label.
fn various(sub: &str, label: &str, tld: &str) -> Vec<String> {
    let join = |parts: &[&str]| -> String {
        let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
        parts.join(".")
    };
    let mut v = Vec::new();
    if let Some((_, last)) = tld.rsplit_once('.') {
        v.push(join(&[sub, label, last]));
        v.push(join(&[sub, &format!("{label}{tld}")]));
    } else {
        v.push(join(&[sub, &format!("{label}{tld}"), tld]));
        if tld != "com" {
            v.push(join(&[sub, &format!("{label}-{tld}"), "com"]));
            v.push(join(&[sub, &format!("{label}{tld}"), "com"]));
        }
    }
    if !sub.is_empty() {
        v.push(format!("{sub}{label}.{tld}"));
        v.push(format!("{}{label}.{tld}", sub.replace('.', "")));
        v.push(format!("{sub}-{label}.{tld}"));
        v.push(format!("{}-{label}.{tld}", sub.replace('.', "-")));
    }
    v
}

/// dnstwist's ASCII look-alikes merged with the IDN table for `tld`.
fn glyphs_for(tld: &str) -> HashMap<&'static str, Vec<&'static str>> {
    let idn =
        tables::IDN_BY_TLD.iter().find(|(tlds, _)| tlds.contains(&tld)).map_or(tables::UNICODE, |(_, table)| *table);
    let mut glyphs: HashMap<&str, Vec<&str>> = HashMap::new();
    for (k, gs) in tables::ASCII.iter().chain(idn) {
        let entry = glyphs.entry(*k).or_default();
        for g in *gs {
            if !entry.contains(g) {
                entry.push(g);
            }
        }
    }
    glyphs
}

/// One round of dnstwist's homoglyph substitution: each character, then each two-character
/// window (its first character, its second, or both together, replaced inside the window).
fn homoglyph_mix(domain: &str, glyphs: &HashMap<&str, Vec<&str>>) -> Vec<String> {
    let d: Vec<char> = domain.chars().collect();
    let s = |chars: &[char]| -> String { chars.iter().collect() };
    let mut out = Vec::new();
    for (i, c) in d.iter().enumerate() {
        for g in glyphs.get(c.to_string().as_str()).into_iter().flatten() {
            out.push(format!("{}{g}{}", s(&d[..i]), s(&d[i + 1..])));
        }
    }
    for i in 0..d.len().saturating_sub(1) {
        let win = s(&d[i..i + 2]);
        let mut keys = vec![d[i].to_string(), d[i + 1].to_string(), win.clone()];
        keys.dedup();
        for k in &keys {
            for g in glyphs.get(k.as_str()).into_iter().flatten() {
                out.push(format!("{}{}{}", s(&d[..i]), win.replace(k.as_str(), g), s(&d[i + 2..])));
            }
        }
    }
    out
}

/// The neighbours of `c` on dnstwist's three keyboard layouts, in its order (may repeat).
fn neighbours(c: char) -> impl Iterator<Item = char> {
    [tables::QWERTY, tables::QWERTZ, tables::AZERTY]
        .into_iter()
        .flat_map(move |layout| layout.iter().filter(move |(k, _)| *k == c))
        .flat_map(|(_, keys)| keys.chars())
}

/// dnstwist's host-name pattern: 4 to 253 characters, labels of `[a-z0-9-]` not starting or
/// ending with a hyphen, a last label of 2 to 63 characters.
pub fn valid_fqdn(ascii: &str) -> bool {
    if !(4..=253).contains(&ascii.len()) {
        return false;
    }
    let Some((head, last)) = ascii.rsplit_once('.') else {
        return false;
    };
    let ok = |l: &str| l.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
    (2..=63).contains(&last.len())
        && ok(last)
        && head.split('.').all(|l| (1..=63).contains(&l.len()) && ok(l) && !l.starts_with('-') && !l.ends_with('-'))
}

/// dnstwist's filter on dictionary words (`-d FILE`).
fn valid_word(w: &str) -> bool {
    let ok = |l: &str| l.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
    match w.strip_prefix("xn--") {
        Some(rest) => (3..=59).contains(&rest.len()) && ok(rest),
        None => (1..=63).contains(&w.len()) && ok(w),
    }
}

/// dnstwist's filter on TLDs (`--tld FILE`): one or two labels of 2 to 63 `[a-z0-9-]`.
fn valid_tld(t: &str) -> bool {
    let ok = |l: &str| (2..=63).contains(&l.len()) && l.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
    match t.split_once('.') {
        Some((a, b)) => ok(a) && ok(b),
        None => ok(t),
    }
}

#[cfg(test)]
mod tests;
