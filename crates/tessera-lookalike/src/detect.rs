//! The lookalike detector: one newly seen name in, a hit with its techniques and a score out.
//!
//! Built once from the official domains, it holds every dnstwist candidate of each (a hash set,
//! [`crate::fuzz`](mod@crate::fuzz)) and checks what no fixed list holds: a registrable label whose Unicode TR39
//! skeleton equals the official label's (`olyrnpics`, mixed scripts), a small Damerau
//! (optimal string alignment) distance on the registrable label, the official label under any
//! other public suffix, brand keywords combined with other words (`paris2024-tickets-resale.shop`,
//! with risk words such as `tickets` or `login` raising the score), and a brand inside the
//! subdomain of an unrelated domain (`paris2024.org.secure-login.example`).
//!
//! Zero false positives matter more than recall beyond dnstwist. The distance allowed grows
//! with the label: none under 5 characters, 1 up to 8, 2 from 9 (`olympus` is 2 edits from
//! `olympics`); two edits of digits only name another year (`paris2000`), not a lookalike. A
//! misspelt brand inside a longer label counts only next to a risk word, and the everyday word
//! a brand starts with is no misspelling (`olympic`, `olympic7`). A brand inside a word with
//! letters after it counts only next to a risk word (`olympicsteel` is Olympic Steel;
//! `olympicstickets` is a hit). A brand keyword shorter than 7 characters counts only at the
//! start or end of a word (`jo2024tickets`, not `majo2024x`). The official registrable domains,
//! their subdomains and an allow list are never hits.
//!
//! Cost per name: one canonicalisation, a hash lookup per dot-aligned tail, a skeleton compared
//! lazily (it stops at the first differing character) and a distance computed only when the
//! lengths are close: far below a microsecond for most names, so certificate-transparency volume
//! (hundreds of names a second) leaves the core idle.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::fuzz::{fuzz, FuzzClass, FuzzError, FuzzOptions};
use crate::name::{is_within, Name};

/// Risk words used when none are configured: what fake ticket shops and phishing pages add to
/// a brand, in English and French.
pub const DEFAULT_RISK_WORDS: &[&str] = &[
    "ticket",
    "billet",
    "resale",
    "revente",
    "resell",
    "login",
    "signin",
    "logon",
    "secure",
    "account",
    "compte",
    "verify",
    "verif",
    "update",
    "support",
    "official",
    "officiel",
    "shop",
    "store",
    "boutique",
    "offer",
    "offre",
    "promo",
    "free",
    "gratuit",
    "cheap",
    "pay",
    "wallet",
    "bank",
    "auth",
    "password",
    "reset",
    "refund",
    "rembourse",
    "prize",
    "gift",
    "cadeau",
    "vip",
    "pass",
    "live",
    "stream",
    "hotel",
    "lodging",
    "logement",
];

/// How the detector is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectorConfig {
    /// The official domains (`paris2024.org`, `olympics.com`): they and their subdomains are
    /// never hits, and every lookalike is measured against them.
    pub official: Vec<String>,
    /// Extra brand keywords (`jo2024`); the official registrable labels are brands already.
    pub brands: Vec<String>,
    /// Words that make a brand combination more suspicious ([`DEFAULT_RISK_WORDS`]).
    pub risk_words: Vec<String>,
    /// Domains known to be legitimate (a partner, a federation): never hits, nor their
    /// subdomains.
    pub allow: Vec<String>,
    /// The word and TLD lists behind the dictionary and TLD-swap fuzzers.
    pub fuzz: FuzzOptions,
}

impl DetectorConfig {
    /// The official domains, no extra brand, the default risk words and dnstwist's lists.
    pub fn new<S: Into<String>>(official: impl IntoIterator<Item = S>) -> Self {
        DetectorConfig {
            official: official.into_iter().map(Into::into).collect(),
            brands: Vec::new(),
            risk_words: DEFAULT_RISK_WORDS.iter().map(|s| s.to_string()).collect(),
            allow: Vec::new(),
            fuzz: FuzzOptions::default(),
        }
    }
}

/// Why a detector cannot be built.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    /// No official domain given.
    #[error("no official domain")]
    NoOfficial,
    /// An official domain that cannot be fuzzed (not a name, or a bare public suffix).
    #[error("official domain {domain:?}: {source}")]
    Official {
        /// The domain as given.
        domain: String,
        /// What is wrong with it.
        source: FuzzError,
    },
}

/// What made a name a lookalike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "technique", rename_all = "kebab-case")]
pub enum Technique {
    /// The name, or the domain it is under, is a dnstwist candidate of an official domain.
    Fuzz {
        /// The fuzzer that makes it.
        class: FuzzClass,
    },
    /// Its registrable label has the same TR39 confusable skeleton as an official label.
    Confusable,
    /// Its registrable label is this many edits from an official label.
    EditDistance {
        /// Damerau (optimal string alignment) distance, 1 or 2.
        distance: u8,
    },
    /// The official label itself under another public suffix (`paris2024.shop`).
    OtherSuffix,
    /// A brand keyword inside the registrable label with other words.
    Keywords {
        /// The brand is misspelt or confusable (counted only next to a risk word).
        typo: bool,
    },
    /// A brand in the subdomain of an unrelated domain.
    BrandInSubdomain {
        /// The whole official domain is there (`paris2024.org.secure-login.example`).
        full_domain: bool,
    },
}

impl Technique {
    fn score(self, risky: bool) -> u8 {
        match self {
            Technique::Fuzz { class } => match class {
                FuzzClass::Homoglyph | FuzzClass::Cyrillic => 95,
                FuzzClass::Dictionary => 90,
                FuzzClass::Addition | FuzzClass::Plural | FuzzClass::Subdomain | FuzzClass::Various => 80,
                FuzzClass::Bitsquatting | FuzzClass::TldSwap => 75,
                _ => 85,
            },
            Technique::Confusable => 95,
            Technique::EditDistance { distance } => 90 - 10 * distance.min(3),
            Technique::OtherSuffix => 70,
            Technique::Keywords { typo: false } => 60 + if risky { 30 } else { 0 },
            Technique::Keywords { typo: true } => 80,
            Technique::BrandInSubdomain { full_domain } => {
                65 + if full_domain { 20 } else { 0 } + if risky { 10 } else { 0 }
            }
        }
    }
}

/// A lookalike found by [`Detector::check`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// The name in canonical form (lowercase, Unicode).
    pub name: String,
    /// The official domain it imitates, when one is identified (a configured brand keyword
    /// alone names none).
    pub official: Option<String>,
    /// Every technique that matched, strongest first.
    pub techniques: Vec<Technique>,
    /// 0 to 100: the strongest technique, plus 5 for each further one.
    pub score: u8,
    /// The brand and risk words found in the name.
    pub keywords: Vec<String>,
}

struct Official {
    domain: String,
    registrable: String,
    label: String,
    suffix: String,
    skeleton: Vec<char>,
    max_distance: usize,
}

struct Brand {
    text: String,
    skeleton: Vec<char>,
    official: Option<usize>,
}

/// The detector: immutable once built, cheap to share between threads.
pub struct Detector {
    officials: Vec<Official>,
    never: Vec<String>,
    fuzzed: HashMap<String, (FuzzClass, usize)>,
    brands: Vec<Brand>,
    risk_words: Vec<String>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("officials", &self.officials.iter().map(|o| &o.domain).collect::<Vec<_>>())
            .field("candidates", &self.fuzzed.len())
            .field("brands", &self.brands.iter().map(|b| &b.text).collect::<Vec<_>>())
            .finish()
    }
}

fn skeleton(s: &str) -> Vec<char> {
    unicode_security::skeleton(s).collect()
}

/// Whether `s`'s skeleton is `target`, stopping at the first difference.
fn skeleton_is(s: &str, target: &[char]) -> bool {
    let mut it = unicode_security::skeleton(s);
    for want in target {
        if it.next() != Some(*want) {
            return false;
        }
    }
    it.next().is_none()
}

/// Damerau (optimal string alignment) distance if it is at most `max`.
fn distance_within(a: &str, b: &str, max: usize) -> Option<usize> {
    let (la, lb) = (a.chars().count(), b.chars().count());
    if max == 0 || la.abs_diff(lb) > max {
        return None;
    }
    let d = strsim::osa_distance(a, b);
    (d <= max).then_some(d)
}

/// Whether two labels differ in digits only (`paris2000` and `paris2024`): two such edits
/// name another year, not a lookalike.
fn same_letters(a: &str, b: &str) -> bool {
    a.chars().filter(|c| !c.is_ascii_digit()).eq(b.chars().filter(|c| !c.is_ascii_digit()))
}

/// How many edits a label of this many characters may be from an official one.
fn max_distance(len: usize) -> usize {
    match len {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

impl Detector {
    /// Build the detector: fuzz each official domain once (a few thousand names each).
    pub fn new(config: &DetectorConfig) -> Result<Detector, DetectError> {
        if config.official.is_empty() {
            return Err(DetectError::NoOfficial);
        }
        let mut officials = Vec::new();
        let mut never = Vec::new();
        let mut fuzzed = HashMap::new();
        let mut brands: Vec<Brand> = Vec::new();
        for domain in &config.official {
            let err = |source| DetectError::Official { domain: domain.clone(), source };
            let name = Name::parse(domain).map_err(|e| err(e.into()))?;
            let (Some(label), Some(registrable)) = (name.registrable_label(), name.registrable_domain()) else {
                return Err(err(FuzzError::NoRegistrableLabel));
            };
            let index = officials.len();
            officials.push(Official {
                domain: name.as_str().to_string(),
                registrable: registrable.to_string(),
                label: label.to_string(),
                suffix: name.suffix().to_string(),
                skeleton: skeleton(label),
                max_distance: max_distance(label.chars().count()),
            });
            never.push(registrable.to_string());
            if !brands.iter().any(|b| b.text == label) {
                brands.push(Brand { text: label.to_string(), skeleton: skeleton(label), official: Some(index) });
            }
            for c in fuzz(domain, &config.fuzz).map_err(err)? {
                fuzzed.entry(c.unicode).or_insert((c.class, index));
            }
        }
        for b in &config.brands {
            let text = b.trim().to_lowercase();
            if !text.is_empty() && !brands.iter().any(|x| x.text == text) {
                let official = officials.iter().position(|o| o.label == text);
                let skeleton = skeleton(&text);
                brands.push(Brand { text, skeleton, official });
            }
        }
        for a in &config.allow {
            if let Ok(n) = Name::parse(a) {
                never.push(n.as_str().to_string());
            }
        }
        // A candidate under an owned or allowed domain is no lookalike (dnstwist can make
        // one, for example a subdomain of the official domain).
        fuzzed.retain(|k, _| !never.iter().any(|d| is_within(k, d)));
        let risk_words = config.risk_words.iter().map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect();
        Ok(Detector { officials, never, fuzzed, brands, risk_words })
    }

    /// How many dnstwist candidates the detector holds.
    pub fn candidates(&self) -> usize {
        self.fuzzed.len()
    }

    /// Check one newly seen name (as certificate transparency or a zone file gives it).
    pub fn check(&self, raw: &str) -> Option<Hit> {
        let name = Name::parse(raw).ok()?;
        let key = name.as_str();
        if self.never.iter().any(|d| is_within(key, d)) {
            return None;
        }
        let mut found: Vec<(Technique, Option<usize>)> = Vec::new();
        if let Some(&(class, i)) = name.tails().find_map(|t| self.fuzzed.get(t)) {
            found.push((Technique::Fuzz { class }, Some(i)));
        }
        let mut keywords = Vec::new();
        if let Some(label) = name.registrable_label() {
            self.check_label(&name, label, &mut found, &mut keywords);
        }
        self.check_subdomain(&name, &mut found, &mut keywords);
        if found.is_empty() {
            return None;
        }
        let mut risk = Vec::new();
        let risky = self.risk_words_in(key, &keywords, &mut risk) > 0;
        let mut scored: Vec<(u8, Technique, Option<usize>)> =
            found.into_iter().map(|(t, o)| (t.score(risky), t, o)).collect();
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        let mut kept = std::collections::HashSet::new();
        scored.retain(|s| kept.insert(s.1));
        let extra = 5 * (scored.len() as u32 - 1);
        let score = (u32::from(scored[0].0) + extra).min(100) as u8;
        let official = scored.iter().find_map(|s| s.2).map(|i| self.officials[i].domain.clone());
        keywords.extend(risk);
        let mut seen = std::collections::HashSet::new();
        keywords.retain(|k| seen.insert(k.clone()));
        Some(Hit {
            name: key.to_string(),
            official,
            techniques: scored.into_iter().map(|s| s.1).collect(),
            score,
            keywords,
        })
    }

    /// How many of `names` are hits: the loop a benchmark times.
    pub fn count_hits<I, S>(&self, names: I) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        names.into_iter().filter(|n| self.check(n.as_ref()).is_some()).count()
    }

    fn check_label(
        &self,
        name: &Name,
        label: &str,
        found: &mut Vec<(Technique, Option<usize>)>,
        keywords: &mut Vec<String>,
    ) {
        for (i, o) in self.officials.iter().enumerate() {
            if label == o.label {
                let swapped = Technique::Fuzz { class: FuzzClass::TldSwap };
                if name.suffix() != o.suffix && !found.iter().any(|f| f.0 == swapped) {
                    found.push((Technique::OtherSuffix, Some(i)));
                }
                continue;
            }
            if skeleton_is(label, &o.skeleton) {
                found.push((Technique::Confusable, Some(i)));
            }
            if let Some(d) = distance_within(label, &o.label, o.max_distance)
                .filter(|&d| d == 1 || !same_letters(label, &o.label))
                .filter(|_| !word_stem(label, &o.label))
            {
                found.push((Technique::EditDistance { distance: d as u8 }, Some(i)));
            }
        }
        for b in &self.brands {
            let is_official_label = b.official.is_some_and(|i| self.officials[i].label == label);
            if !is_official_label && self.brand_counts(label, &b.text) {
                found.push((Technique::Keywords { typo: false }, b.official));
                keywords.push(b.text.clone());
            }
        }
        if keywords.is_empty() && label.contains('-') && self.risk_words_in(label, &[], &mut Vec::new()) > 0 {
            // A misspelt brand as one word of a longer label: only next to a risk word.
            for token in label.split('-').filter(|t| t.chars().count() >= 5) {
                for b in &self.brands {
                    let n = b.text.chars().count();
                    let near = skeleton_is(token, &b.skeleton)
                        || (distance_within(token, &b.text, usize::from(n >= 7)).is_some()
                            && !word_stem(token, &b.text));
                    if near && token != b.text {
                        found.push((Technique::Keywords { typo: true }, b.official));
                        keywords.push(token.to_string());
                    }
                }
            }
        }
    }

    /// Whether `brand` in `label` makes a keyword combination: as whole words, at a word's
    /// edge, or inside a word next to a risk word.
    fn brand_counts(&self, label: &str, brand: &str) -> bool {
        match presence(label, brand) {
            Presence::Absent => false,
            Presence::Words | Presence::Edge => true,
            Presence::Inside => self.risk_words_in(label, &[brand.to_string()], &mut Vec::new()) > 0,
        }
    }

    fn check_subdomain(&self, name: &Name, found: &mut Vec<(Technique, Option<usize>)>, keywords: &mut Vec<String>) {
        let sub = name.subdomain();
        if sub.is_empty() {
            return;
        }
        for b in &self.brands {
            let inside = sub.split('.').any(|l| self.brand_counts(l, &b.text));
            let confusable = sub.split('.').any(|l| l != b.text && skeleton_is(l, &b.skeleton));
            if inside || confusable {
                let full_domain = b.official.is_some_and(|i| sub.contains(self.officials[i].registrable.as_str()));
                found.push((Technique::BrandInSubdomain { full_domain }, b.official));
                keywords.push(b.text.clone());
            }
        }
    }

    /// Count the risk words in `text` outside the brand keywords already found, adding them to
    /// `out`.
    fn risk_words_in(&self, text: &str, brands: &[String], out: &mut Vec<String>) -> usize {
        let mut rest = without_hyphens(text).into_owned();
        for b in brands {
            rest = rest.replace(b.as_str(), " ");
        }
        let mut n = 0;
        for w in &self.risk_words {
            if rest.contains(w.as_str()) {
                n += 1;
                out.push(w.clone());
            }
        }
        n
    }
}

/// How a brand keyword appears in a label.
#[derive(Debug, PartialEq, Eq)]
enum Presence {
    Absent,
    /// As one or more whole hyphen-separated words (`olympics-news`, `paris-2024-billets`).
    Words,
    /// Inside a word, at its edge or next to a digit (`myolympics`, `paris2024fr`).
    Edge,
    /// Inside a word with letters after it (`olympicsteel`): an accident of concatenation as
    /// often as not.
    Inside,
}

/// Where `brand` is in `label`. A brand shorter than 7 characters counts only as whole words or
/// at the start or end of one (`jo2024tickets`, not `majo2024x`).
fn presence(label: &str, brand: &str) -> Presence {
    let tokens: Vec<&str> = label.split('-').collect();
    for i in 0..tokens.len() {
        let mut joined = String::new();
        for t in &tokens[i..] {
            joined.push_str(t);
            if joined == brand {
                return Presence::Words;
            }
            if joined.len() >= brand.len() {
                break;
            }
        }
    }
    let short = brand.chars().count() < 7;
    let ends_in_digit = brand.ends_with(|c: char| c.is_ascii_digit());
    let mut found = Presence::Absent;
    for t in tokens {
        for (at, _) in t.match_indices(brand) {
            let after = &t[at + brand.len()..];
            let edge = if short {
                at == 0 || after.is_empty()
            } else {
                after.is_empty() || ends_in_digit || after.starts_with(|c: char| c.is_ascii_digit())
            };
            if edge {
                return Presence::Edge;
            }
            if !short {
                found = Presence::Inside;
            }
        }
    }
    found
}

/// Whether `label` is a shorter word that a word-like `brand` starts with, digits aside
/// (`olympic`, `olympic7` for `olympics`): the everyday word, not a misspelt brand. A coined
/// brand with digits has no such word (`paris2028` is one edit from `paris2024`).
fn word_stem(label: &str, brand: &str) -> bool {
    if !brand.chars().all(char::is_alphabetic) {
        return false;
    }
    let stem = label.trim_end_matches(|c: char| c.is_ascii_digit());
    !stem.is_empty() && stem.len() < brand.len() && stem.chars().all(char::is_alphabetic) && brand.starts_with(stem)
}

fn without_hyphens(s: &str) -> Cow<'_, str> {
    if s.contains('-') {
        Cow::Owned(s.replace('-', ""))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests;
