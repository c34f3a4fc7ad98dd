//! A bounded reader of binary fields, for every format a gate or a desk parses: the passes
//! here, the badges and the desks' lists in `tessera-accreditation`. Each read checks that the
//! input holds the field, so that no input makes a parser panic or read past its end, and a
//! failure names the field that was short.

/// The field the input does not hold, or holds out of its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// Reads fields one after the other from a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// How many bytes have been read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every byte has been read.
    pub fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Malformed> {
        let end = self.pos.checked_add(n).ok_or(Malformed(what))?;
        let s = self.buf.get(self.pos..end).ok_or(Malformed(what))?;
        self.pos = end;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Malformed> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Malformed> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian `i64`.
    pub fn i64(&mut self, what: &'static str) -> Result<i64, Malformed> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// A field of at most `max` bytes after its one-byte length.
    pub fn prefixed(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], Malformed> {
        let len = usize::from(self.u8(what)?);
        if len > max {
            return Err(Malformed(what));
        }
        self.take(len, what)
    }

    /// [`Reader::prefixed`], as UTF-8 text.
    pub fn text(&mut self, max: usize, what: &'static str) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.prefixed(max, what)?).map_err(|_| Malformed(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_order_and_names_the_short_field() {
        let bytes = [1, 0, 0, 0, 0, 0, 0, 0, 7, 2, b'o', b'k', 3, b'a'];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("version"), Ok(1));
        assert_eq!(r.i64("time"), Ok(7));
        assert_eq!(r.text(8, "name"), Ok("ok"));
        assert_eq!(r.position(), 12);
        assert_eq!(r.text(8, "truncated"), Err(Malformed("truncated")), "says 3 bytes, holds 1");
        let mut r = Reader::new(&[9, 0xff]);
        assert_eq!(r.prefixed(8, "too long"), Err(Malformed("too long")));
        let mut r = Reader::new(&[1, 0xff]);
        assert_eq!(r.text(8, "not UTF-8"), Err(Malformed("not UTF-8")));
        let mut r = Reader::new(&[]);
        assert!(r.is_done());
        assert_eq!(r.take(usize::MAX, "huge"), Err(Malformed("huge")), "no overflow");
    }
}
