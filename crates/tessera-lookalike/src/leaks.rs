//! Leaked credentials, without ever keeping a leaked password in clear.
//!
//! A dump line `email:password` becomes the normalised email and the SHA-1 of the password
//! (20 bytes) at once; the password is hashed from the caller's buffer, never copied, and
//! [`parse_dump_line_wiping`] zeroes that buffer too. (The SHA-1 block buffer on the stack is not
//! wiped: the `sha1` crate's 0.10 line offers no zeroize-on-drop.) Have I Been Pwned's range
//! files (`SUFFIX:COUNT` lines, the 5-hex prefix in the file name) and full-hash lists
//! (`HASH:COUNT`) are read as well.
//!
//! [`LeakedSet`] holds the hashes sorted in one `Vec` of 24-byte entries (hash and a saturating
//! prevalence count) plus an index of 2^20 + 1 offsets, one per 5-hex-digit prefix: 10 million
//! hashes take 240 MB (229 MiB) and the index 4 MiB. A lookup jumps to its prefix's slice and
//! binary-searches it: the slice holds about n / 2^20 entries (10 for ten million, 860 for all
//! of HIBP's 900 million), so a check costs a handful of 20-byte comparisons whatever the number
//! of accounts checked, which is what "constant time per password" asks for at registration,
//! password change and a sweep of all accounts. It is not constant time in the side-channel
//! sense, and need not be: what it compares is a hash the caller computed itself.
//!
//! [`LeakedSet::range`] answers Have I Been Pwned's k-anonymity query (the first 5 hex digits of
//! a SHA-1) in HIBP's format, padded with fake suffixes of count 0 up to [`RANGE_MIN_LINES`]
//! lines, as HIBP's `Add-Padding` does, so that the answer's size does not tell an observer how
//! many leaked hashes share the prefix. The fakes come from HMAC-SHA-256 under a key the caller
//! keeps, over the prefix: the same prefix always gets the same answer, so repeating a query
//! reveals nothing either, and tests are reproducible. Nothing here sends anything anywhere:
//! the client computes the SHA-1, sends the prefix, and checks the answer locally with
//! [`find_in_range`].

use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use zeroize::Zeroize;

/// A SHA-1 digest.
pub type Sha1Hash = [u8; 20];

/// Lines a range answer is padded to.
pub const RANGE_MIN_LINES: usize = 1000;

/// The SHA-1 of a password, as HIBP hashes them (UTF-8 bytes, no salt).
pub fn sha1_of(password: &[u8]) -> Sha1Hash {
    Sha1::digest(password).into()
}

/// Why a line of a dump or of a hash list is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeakError {
    /// No `:` between the email and the password.
    #[error("no ':' separator")]
    NoSeparator,
    /// Not an address: empty part, no `@`, no dot in the domain, spaces, over 254 bytes.
    #[error("not an email address")]
    BadEmail,
    /// An empty password.
    #[error("empty password")]
    EmptyPassword,
    /// A hash or suffix of the wrong length or not hexadecimal.
    #[error("not a SHA-1 hash")]
    BadHash,
    /// A count that is not a decimal number.
    #[error("bad count")]
    BadCount,
}

/// Why a range query is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Not exactly 5 characters.
    #[error("a range prefix has 5 hex digits, not {0} characters")]
    WrongLength(usize),
    /// A character that is not a hex digit.
    #[error("a range prefix has hex digits only")]
    NotHex,
}

/// A normalised email address: trimmed and lowercased (the local part is case-sensitive in
/// theory, never in the shops' account tables).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    /// Normalise and check `s`.
    pub fn parse(s: &str) -> Result<Email, LeakError> {
        let s = s.trim().to_lowercase();
        let (local, domain) = s.rsplit_once('@').ok_or(LeakError::BadEmail)?;
        let ok = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Email(s))
        } else {
            Err(LeakError::BadEmail)
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One leaked credential: who, and the hash of the password (never the password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// The account's address.
    pub email: Email,
    /// SHA-1 of the leaked password.
    pub sha1: Sha1Hash,
}

/// Parse a dump line `email:password` (the password may itself hold `:`; a final `\r` is not
/// part of it). The password is hashed in place, not copied.
pub fn parse_dump_line(line: &str) -> Result<Leak, LeakError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (email, password) = line.split_once(':').ok_or(LeakError::NoSeparator)?;
    let email = Email::parse(email)?;
    if password.is_empty() {
        return Err(LeakError::EmptyPassword);
    }
    Ok(Leak { email, sha1: sha1_of(password.as_bytes()) })
}

/// [`parse_dump_line`], then zero the line's bytes and empty it, whatever the outcome: the
/// buffer a reader reuses for the next line holds no password afterwards.
pub fn parse_dump_line_wiping(line: &mut String) -> Result<Leak, LeakError> {
    let leak = parse_dump_line(line);
    line.zeroize();
    leak
}

/// The first 5 hex digits (20 bits) of a SHA-1: what a k-anonymous query reveals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix(u32);

impl Prefix {
    /// Parse 5 hex digits, either case.
    pub fn parse(s: &str) -> Result<Prefix, RangeError> {
        if s.len() != 5 {
            return Err(RangeError::WrongLength(s.chars().count()));
        }
        u32::from_str_radix(s, 16)
            .ok()
            .filter(|_| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(Prefix)
            .ok_or(RangeError::NotHex)
    }

    /// The prefix of a range file from its name (`21BD1`, `21BD1.txt`, `ranges/21BD1.txt`).
    pub fn from_file_name(name: &str) -> Result<Prefix, RangeError> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        Prefix::parse(base.split('.').next().unwrap_or(base))
    }

    /// The prefix of a hash.
    pub fn of(hash: &Sha1Hash) -> Prefix {
        Prefix(u32::from(hash[0]) << 12 | u32::from(hash[1]) << 4 | u32::from(hash[2]) >> 4)
    }

    fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:05X}", self.0)
    }
}

fn hash_from_hex(hex40: &str) -> Result<Sha1Hash, LeakError> {
    let mut out = [0u8; 20];
    hex::decode_to_slice(hex40, &mut out).map_err(|_| LeakError::BadHash)?;
    Ok(out)
}

fn parse_count(s: Option<&str>) -> Result<u64, LeakError> {
    match s.map(str::trim) {
        None => Ok(1),
        Some(c) => c.parse().map_err(|_| LeakError::BadCount),
    }
}

/// Parse a line of a HIBP range file (`SUFFIX35HEX:COUNT`) whose prefix is known.
pub fn parse_range_line(prefix: Prefix, line: &str) -> Result<(Sha1Hash, u64), LeakError> {
    let (suffix, count) = match line.trim().split_once(':') {
        Some((s, c)) => (s, Some(c)),
        None => (line.trim(), None),
    };
    if suffix.len() != 35 {
        return Err(LeakError::BadHash);
    }
    let hash = hash_from_hex(&format!("{prefix}{suffix}"))?;
    Ok((hash, parse_count(count)?))
}

/// Parse a full-hash line: 40 hex digits, optionally `:COUNT` (1 when absent).
pub fn parse_hash_line(line: &str) -> Result<(Sha1Hash, u64), LeakError> {
    let (hash, count) = match line.trim().split_once(':') {
        Some((h, c)) => (h, Some(c)),
        None => (line.trim(), None),
    };
    if hash.len() != 40 {
        return Err(LeakError::BadHash);
    }
    Ok((hash_from_hex(hash)?, parse_count(count)?))
}

/// Gathers hashes, in any order, for a [`LeakedSet`].
#[derive(Debug, Default)]
pub struct LeakedSetBuilder {
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    hash: Sha1Hash,
    count: u32,
}

impl LeakedSetBuilder {
    /// An empty builder with room for `n` hashes.
    pub fn with_capacity(n: usize) -> Self {
        LeakedSetBuilder { entries: Vec::with_capacity(n) }
    }

    /// Add a hash seen `count` times. Count 0 (a padding line of a range answer) is skipped.
    pub fn push(&mut self, hash: Sha1Hash, count: u64) {
        if count > 0 {
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            self.entries.push(Entry { hash, count });
        }
    }

    /// Hashes pushed so far (duplicates included): for a progress bar.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sort, merge duplicates (adding their counts) and index by prefix.
    pub fn build(mut self) -> LeakedSet {
        self.entries.sort_unstable_by_key(|e| e.hash);
        self.entries.dedup_by(|next, kept| {
            let same = next.hash == kept.hash;
            if same {
                kept.count = kept.count.saturating_add(next.count);
            }
            same
        });
        self.entries.shrink_to_fit();
        // index[p] = how many entries have a prefix below p: a count per prefix, then sums.
        let mut index = vec![0u32; (1 << 20) + 1];
        for e in &self.entries {
            index[Prefix::of(&e.hash).index() + 1] += 1;
        }
        for p in 1..index.len() {
            index[p] = index[p].saturating_add(index[p - 1]);
        }
        LeakedSet { entries: self.entries, index }
    }
}

/// Leaked password hashes, sorted and indexed by prefix (see the module doc for memory and
/// cost). Holds at most `u32::MAX` distinct hashes.
#[derive(Debug)]
pub struct LeakedSet {
    entries: Vec<Entry>,
    index: Vec<u32>,
}

/// The key that makes a range answer's padding: keep it secret and stable.
#[derive(Clone)]
pub struct PaddingKey([u8; 32]);

impl PaddingKey {
    /// A key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        PaddingKey(bytes)
    }
}

impl std::fmt::Debug for PaddingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaddingKey(..)")
    }
}

impl Drop for PaddingKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl LeakedSet {
    /// A set from `(hash, count)` pairs.
    pub fn from_hashes(hashes: impl IntoIterator<Item = (Sha1Hash, u64)>) -> LeakedSet {
        let mut b = LeakedSetBuilder::default();
        for (h, c) in hashes {
            b.push(h, c);
        }
        b.build()
    }

    /// Distinct hashes held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every hash with its count, in order (to write the set out, or merge it into another).
    pub fn iter(&self) -> impl Iterator<Item = (Sha1Hash, u32)> + '_ {
        self.entries.iter().map(|e| (e.hash, e.count))
    }

    /// Whether no hash is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn slice(&self, prefix: Prefix) -> &[Entry] {
        let (a, b) = (self.index[prefix.index()], self.index[prefix.index() + 1]);
        &self.entries[a as usize..b as usize]
    }

    /// How often `hash` was seen in the dumps, if at all.
    pub fn count(&self, hash: &Sha1Hash) -> Option<u32> {
        let slice = self.slice(Prefix::of(hash));
        slice.binary_search_by(|e| e.hash.cmp(hash)).ok().map(|i| slice[i].count)
    }

    /// Whether `hash` is a leaked password's.
    pub fn contains(&self, hash: &Sha1Hash) -> bool {
        self.count(hash).is_some()
    }

    /// Whether `password` is leaked (hashed here, checked locally).
    pub fn contains_password(&self, password: &[u8]) -> bool {
        self.contains(&sha1_of(password))
    }

    /// The k-anonymity answer for a prefix given as text: refused unless 5 hex digits.
    pub fn range(&self, prefix: &str, key: &PaddingKey) -> Result<Vec<String>, RangeError> {
        Ok(self.range_of(Prefix::parse(prefix)?, key))
    }

    /// HIBP-format lines `SUFFIX:COUNT` (35 upper-case hex digits), sorted, the real ones among
    /// fakes of count 0, at least [`RANGE_MIN_LINES`] in all.
    pub fn range_of(&self, prefix: Prefix, key: &PaddingKey) -> Vec<String> {
        let suffix = |h: &Sha1Hash| hex::encode_upper(h)[5..].to_string();
        let mut lines: std::collections::BTreeMap<String, u32> =
            self.slice(prefix).iter().map(|e| (suffix(&e.hash), e.count)).collect();
        let mut keyed = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("any key length");
        keyed.update(b"tessera-lookalike range padding v1");
        keyed.update(&prefix.0.to_be_bytes());
        let mut n: u32 = 0;
        while lines.len() < RANGE_MIN_LINES {
            let mut mac = keyed.clone();
            mac.update(&n.to_be_bytes());
            let fake = hex::encode_upper(&mac.finalize().into_bytes()[..18])[..35].to_string();
            lines.entry(fake).or_insert(0);
            n += 1;
        }
        lines.into_iter().map(|(s, c)| format!("{s}:{c}")).collect()
    }
}

/// The client's side of a range check: find `hash` in a range answer. Padding lines (count 0)
/// never match; `None` means not leaked.
pub fn find_in_range<S: AsRef<str>>(lines: &[S], hash: &Sha1Hash) -> Option<u64> {
    let prefix = Prefix::of(hash);
    lines
        .iter()
        .filter_map(|l| parse_range_line(prefix, l.as_ref()).ok())
        .find(|(h, c)| h == hash && *c > 0)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests;
