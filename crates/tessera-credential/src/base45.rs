//! Base45 (RFC 9285): the text form of a code in a QR code.
//!
//! Its 45 characters are exactly the QR alphanumeric mode's, which packs two characters in 11 bits,
//! so a Base45 QR code holds about as many bytes as binary byte mode while staying printable text
//! that keyboard-wedge scanners type unchanged.

/// The alphabet, in value order (RFC 9285, table 1).
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why text is not Base45.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base45Error {
    /// The length leaves one character over (a length of 1 modulo 3 encodes nothing).
    #[error("base45: invalid length")]
    InvalidLength,
    /// A character outside the alphabet (lowercase letters included).
    #[error("base45: invalid character at {0}")]
    InvalidCharacter(usize),
    /// A group encodes a value above what its bytes can hold (`"GGW"` = 65536).
    #[error("base45: value out of range at {0}")]
    OutOfRange(usize),
}

fn value(c: u8) -> Option<u32> {
    // A table would be faster; codes are a few hundred characters, so a match is plenty.
    Some(u32::from(match c {
        b'0'..=b'9' => c - b'0',
        b'A'..=b'Z' => c - b'A' + 10,
        b' ' => 36,
        b'$' => 37,
        b'%' => 38,
        b'*' => 39,
        b'+' => 40,
        b'-' => 41,
        b'.' => 42,
        b'/' => 43,
        b':' => 44,
        _ => return None,
    }))
}

/// Encodes bytes: each pair as three characters, a last single byte as two.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    let mut push = |v: u32| out.push(char::from(ALPHABET[(v % 45) as usize]));
    for chunk in bytes.chunks(2) {
        match *chunk {
            [a, b] => {
                let n = u32::from(a) * 256 + u32::from(b);
                push(n);
                push(n / 45);
                push(n / 2025);
            }
            [a] => {
                let n = u32::from(a);
                push(n);
                push(n / 45);
            }
            _ => {}
        }
    }
    out
}

/// Decodes Base45 text. Strict: no whitespace, no lowercase, every group in range. Never panics,
/// allocates at most two bytes per three characters of input; callers bound the input's length.
pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let input = text.as_bytes();
    if input.len() % 3 == 1 {
        return Err(Base45Error::InvalidLength);
    }
    let mut out = Vec::with_capacity(input.len() / 3 * 2 + 1);
    for (i, chunk) in input.chunks(3).enumerate() {
        let at = i * 3;
        let mut n = 0u32;
        let mut weight = 1u32;
        for (j, &c) in chunk.iter().enumerate() {
            n += value(c).ok_or(Base45Error::InvalidCharacter(at + j))? * weight;
            weight *= 45;
        }
        if chunk.len() == 3 {
            let pair = u16::try_from(n).map_err(|_| Base45Error::OutOfRange(at))?;
            out.extend_from_slice(&pair.to_be_bytes());
        } else {
            out.push(u8::try_from(n).map_err(|_| Base45Error::OutOfRange(at))?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_EXAMPLES: [(&[u8], &str); 4] =
        [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0")];

    #[test]
    fn rfc_examples_encode() {
        for (bytes, text) in RFC_EXAMPLES {
            assert_eq!(encode(bytes), text);
        }
    }

    #[test]
    fn rfc_examples_decode() {
        for (bytes, text) in RFC_EXAMPLES {
            assert_eq!(decode(text).as_deref(), Ok(bytes));
        }
    }

    #[test]
    fn empty_round_trips() {
        assert_eq!(encode(b""), "");
        assert_eq!(decode(""), Ok(vec![]));
    }

    #[test]
    fn out_of_range_groups_are_refused() {
        // 65536, one above a two-byte group.
        assert_eq!(decode("GGW"), Err(Base45Error::OutOfRange(0)));
        assert_eq!(decode("BB8GGW"), Err(Base45Error::OutOfRange(3)));
        // ":::" is 91124; "::" is 2024, above a one-byte group.
        assert_eq!(decode(":::"), Err(Base45Error::OutOfRange(0)));
        assert_eq!(decode("::"), Err(Base45Error::OutOfRange(0)));
        // The largest legal values.
        assert_eq!(decode("FGW"), Ok(vec![0xFF, 0xFF]));
        assert_eq!(decode("U5"), Ok(vec![0xFF]));
    }

    #[test]
    fn invalid_characters_and_lengths_are_refused() {
        assert_eq!(decode("bb8"), Err(Base45Error::InvalidCharacter(0)));
        assert_eq!(decode("BB8\n"), Err(Base45Error::InvalidLength));
        assert_eq!(decode("BB8\n0"), Err(Base45Error::InvalidCharacter(3)));
        assert_eq!(decode("BBé"), Err(Base45Error::InvalidLength));
        assert_eq!(decode("Bé"), Err(Base45Error::InvalidCharacter(1)));
        assert_eq!(decode("B"), Err(Base45Error::InvalidLength));
        assert_eq!(decode("BB8B"), Err(Base45Error::InvalidLength));
    }

    #[test]
    fn encoding_never_ends_in_a_space() {
        // `code_from_qr_text` trims trailing spaces, which is only safe because a last group's
        // last character is at most 'W' (pair) or '5' (single byte).
        for a in 0..=255u8 {
            assert!(!encode(&[a]).ends_with(' '));
            for b in 0..=255u8 {
                assert!(!encode(&[a, b]).ends_with(' '));
            }
        }
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), bytes.len() / 2 * 3 + bytes.len() % 2 * 2);
            prop_assert!(text.bytes().all(|c| ALPHABET.contains(&c)));
            prop_assert_eq!(decode(&text), Ok(bytes));
        }

        #[test]
        fn decode_never_panics(text in "\\PC{0,64}") {
            if let Ok(bytes) = decode(&text) {
                // Strict decoding: only canonical text decodes.
                prop_assert_eq!(encode(&bytes), text);
            }
        }

        #[test]
        fn decode_of_alphabet_text_is_canonical(text in "[0-9A-Z $%*+./:-]{0,64}") {
            if let Ok(bytes) = decode(&text) {
                prop_assert_eq!(encode(&bytes), text);
            }
        }
    }
}
