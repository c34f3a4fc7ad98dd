//! Duplicate detection: the same person applied twice (by two organisations, or twice by one).
//!
//! Names are compared after normalisation ([`normalise_name`]): Unicode compatibility
//! decomposition with the accents dropped, a few letters that do not decompose folded (`ß` to
//! `ss`, `ø` to `o`, ...), lowercase, apostrophes and periods removed, split into words at spaces
//! and hyphens, and the words sorted, so that `Marie-José PÉREC`, `perec marie jose` and
//! `Pérec, Marie José` meet. The [`DuplicateDetector`] then flags an application whose
//! normalised name, date of birth and document all match an earlier one ([`Finding::Duplicate`]),
//! and two weaker signals worth a human look: the same document under another name
//! ([`Finding::SameDocument`]), and the same name and date of birth with another document
//! ([`Finding::SameNameAndBirth`], e.g. a renewed passport).

use std::collections::HashMap;

use time::Date;
use unicode_normalization::UnicodeNormalization as _;

/// What duplicate detection compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DuplicateKey {
    /// The normalised name ([`normalise_name`]).
    pub name: String,
    /// Date of birth.
    pub date_of_birth: Date,
    /// Normalised document number.
    pub document: String,
}

fn fold(c: char, out: &mut String) {
    match c {
        'ß' => out.push_str("ss"),
        'æ' => out.push_str("ae"),
        'œ' => out.push_str("oe"),
        'þ' => out.push_str("th"),
        'ø' => out.push('o'),
        'đ' | 'ð' => out.push('d'),
        'ł' => out.push('l'),
        'ı' => out.push('i'),
        c => out.push(c),
    }
}

/// The normalised form of a person's name (given and family parts together, order-free).
pub fn normalise_name(given: &str, family: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in given.chars().chain(std::iter::once(' ')).chain(family.chars()).nfkd() {
        if unicode_normalization::char::is_combining_mark(c) || matches!(c, '\'' | '\u{2019}' | '.') {
            continue;
        }
        if c.is_alphanumeric() {
            // Lowercasing can add a combining mark (`İ` gives `i` and a dot above): drop it too.
            for l in c.to_lowercase().filter(|l| !unicode_normalization::char::is_combining_mark(*l)) {
                fold(l, &mut word);
            }
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words.sort_unstable();
    words.join(" ")
}

/// What the detector found for one application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding<T> {
    /// Nothing matches an earlier application.
    Unique,
    /// Same normalised name, date of birth and document as `of`: the same person applied twice.
    Duplicate {
        /// The earlier application.
        of: T,
    },
    /// Same document number as `of`, but another name or date of birth.
    SameDocument {
        /// The earlier application.
        of: T,
    },
    /// Same normalised name and date of birth as `of`, another document.
    SameNameAndBirth {
        /// The earlier application.
        of: T,
    },
}

/// Finds duplicates among applications as they are added, in memory proportional to their
/// number (three hash maps of the keys). `T` identifies an application (an id, a CSV line).
#[derive(Debug, Clone)]
pub struct DuplicateDetector<T> {
    full: HashMap<DuplicateKey, T>,
    document: HashMap<String, T>,
    name_birth: HashMap<(String, Date), T>,
}

impl<T: Copy> Default for DuplicateDetector<T> {
    fn default() -> Self {
        Self { full: HashMap::new(), document: HashMap::new(), name_birth: HashMap::new() }
    }
}

impl<T: Copy> DuplicateDetector<T> {
    /// An empty detector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `key` against everything added so far, then adds it under `id` (the first
    /// application of a person stays the one later ones point to).
    pub fn check_and_add(&mut self, id: T, key: DuplicateKey) -> Finding<T> {
        let finding = if let Some(of) = self.full.get(&key) {
            Finding::Duplicate { of: *of }
        } else if let Some(of) = self.document.get(&key.document) {
            Finding::SameDocument { of: *of }
        } else if let Some(of) = self.name_birth.get(&(key.name.clone(), key.date_of_birth)) {
            Finding::SameNameAndBirth { of: *of }
        } else {
            Finding::Unique
        };
        self.document.entry(key.document.clone()).or_insert(id);
        self.name_birth.entry((key.name.clone(), key.date_of_birth)).or_insert(id);
        self.full.entry(key).or_insert(id);
        finding
    }
}

/// Every non-unique finding among `keys`, as `(id, finding)` in input order.
pub fn find_duplicates<T: Copy>(keys: impl IntoIterator<Item = (T, DuplicateKey)>) -> Vec<(T, Finding<T>)> {
    let mut d = DuplicateDetector::new();
    keys.into_iter()
        .filter_map(|(id, key)| match d.check_and_add(id, key) {
            Finding::Unique => None,
            f => Some((id, f)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn case_accents_punctuation_whitespace_and_order_do_not_matter() {
        let n = normalise_name("Marie-José", "PÉREC");
        assert_eq!(n, "jose marie perec");
        assert_eq!(normalise_name("marie jose", "perec"), n);
        assert_eq!(normalise_name("", "Pérec,  Marie\tJosé"), n);
        assert_eq!(normalise_name("Pe\u{301}rec", "Marie José"), n);
        assert_eq!(normalise_name("Dieter", "Straße"), normalise_name("DIETER", "STRASSE"));
        assert_eq!(normalise_name("Søren", "Kierkegaard"), "kierkegaard soren");
        assert_eq!(normalise_name("Conor", "O'Brien"), normalise_name("conor", "obrien"));
        assert_ne!(normalise_name("Marie", "Perec"), n);
    }

    fn key(name: &str, dob: Date, doc: &str) -> DuplicateKey {
        DuplicateKey { name: name.into(), date_of_birth: dob, document: doc.into() }
    }

    #[test]
    fn the_detector_tells_the_kinds_apart() {
        let d1 = date!(1990 - 01 - 01);
        let d2 = date!(1991 - 01 - 01);
        let found = find_duplicates([
            (1, key("a b", d1, "X1")),
            (2, key("c d", d1, "X2")),
            (3, key("a b", d1, "X1")),
            (4, key("e f", d2, "X1")),
            (5, key("c d", d1, "X9")),
            (6, key("c d", d2, "X9")),
        ]);
        assert_eq!(
            found,
            [
                (3, Finding::Duplicate { of: 1 }),
                (4, Finding::SameDocument { of: 1 }),
                (5, Finding::SameNameAndBirth { of: 2 }),
                (6, Finding::SameDocument { of: 5 }),
            ]
        );
    }

    proptest! {
        /// Adding the same key twice always reports the duplicate against the first id.
        #[test]
        fn a_repeat_is_always_found(keys in proptest::collection::vec(("[a-c]{1,3}", 0i32..3, "[A-C][0-2]"), 1..40)) {
            let keys: Vec<_> = keys.into_iter().map(|(n, d, doc)| key(&n, date!(1990 - 01 - 01) + time::Duration::days(d.into()), &doc)).collect();
            let mut det = DuplicateDetector::new();
            for (i, k) in keys.iter().enumerate() {
                det.check_and_add(i, k.clone());
            }
            for k in &keys {
                let first = keys.iter().position(|x| x == k).unwrap();
                prop_assert_eq!(det.check_and_add(usize::MAX, k.clone()), Finding::Duplicate { of: first });
            }
        }

        /// Normalisation never panics and is idempotent on its own output.
        #[test]
        fn normalisation_is_idempotent(g in "\\PC{0,20}", f in "\\PC{0,20}") {
            let once = normalise_name(&g, &f);
            prop_assert_eq!(normalise_name("", &once), once.clone());
        }
    }
}
