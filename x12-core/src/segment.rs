//! Borrowed views of a segment, its elements, components and repetitions.
//!
//! Nothing here allocates: every accessor returns a slice of the input.

use crate::Delimiters;
use memchr::memchr;

/// Finds `needle` in `hay`: a plain loop over the first bytes (elements and components
/// are short, and a library call costs more than the scan), memchr beyond.
#[inline]
pub(crate) fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    const SHORT: usize = 16;
    let head = hay.len().min(SHORT);
    if let Some(i) = hay[..head].iter().position(|b| *b == needle) {
        return Some(i);
    }
    if hay.len() > SHORT {
        memchr(needle, &hay[SHORT..]).map(|i| i + SHORT)
    } else {
        None
    }
}

/// Field `n` (0-based) of `hay` split on `sep`: the bytes between the `n`-th separator
/// and the next (or the end); `None` when `hay` has fewer than `n` separators.
///
/// Eight bytes at a time: a word's separator bytes are found with the exact
/// zero-byte bit trick, so skipping fields costs a few instructions per word and per
/// separator rather than per byte.
#[inline]
pub(crate) fn nth_field(hay: &[u8], sep: u8, n: usize) -> Option<&[u8]> {
    let start = if n == 0 {
        0
    } else {
        nth_separator(hay, sep, n)? + 1
    };
    let rest = &hay[start..];
    let end = find_byte(sep, rest).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Index of the `n`-th (1-based) `sep` in `hay`.
#[inline]
fn nth_separator(hay: &[u8], sep: u8, n: usize) -> Option<usize> {
    const LO: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let pattern = u64::from(sep) * 0x0101_0101_0101_0101;
    let mut left = n;
    let mut at = 0usize;
    while at + 8 <= hay.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hay[at..at + 8]);
        let x = u64::from_le_bytes(word) ^ pattern;
        // high bit of each byte that was equal to `sep`, exactly
        let mut hits = !(((x & LO).wrapping_add(LO)) | x | LO);
        // walk the set bits (no popcount: the baseline x86-64 target lacks it)
        while hits != 0 {
            left -= 1;
            if left == 0 {
                return Some(at + hits.trailing_zeros() as usize / 8);
            }
            hits &= hits - 1;
        }
        at += 8;
    }
    for (i, b) in hay[at..].iter().enumerate() {
        if *b == sep {
            left -= 1;
            if left == 0 {
                return Some(at + i);
            }
        }
    }
    None
}

/// Appends to `out` the offset of every `sep` in `content`, in order, and says whether
/// every byte of `content` is printable ASCII (0x20..=0x7E), the X12 character sets.
///
/// On x86-64, sixteen bytes at a time with SSE2 (part of the baseline target): one
/// compare gives the separators, two the unprintable bytes, and a move-mask turns each
/// into a bit per byte. A segment shorter than sixteen bytes is gathered into a block
/// of spaces with two fixed-size copies; a longer one ends with the last sixteen bytes,
/// the lanes already seen masked off. Elsewhere, eight bytes at a time in a word.
#[inline]
pub(crate) fn split_seps(content: &[u8], sep: u8, out: &mut Vec<u32>) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        split_seps_sse2(content, sep, out)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        split_seps_swar(content, sep, out)
    }
}

/// [`split_seps`] of the segment `buf[start..end]`, where the bytes of `buf` after
/// `end` may be read too (they are never reported): a segment shorter than sixteen
/// bytes is then loaded straight from `buf` instead of being gathered into a block
/// first (a load that spans several fresh stores waits for them).
#[inline]
pub(crate) fn split_seps_within(
    buf: &[u8],
    start: usize,
    end: usize,
    sep: u8,
    out: &mut Vec<u32>,
) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        let len = end.saturating_sub(start);
        if len < 16 {
            if let Some(block) = buf
                .get(start..start.saturating_add(16))
                .and_then(|b| <&[u8; 16]>::try_from(b).ok())
            {
                let (hits, bad) = sse2_masks(safe_arch::load_unaligned_m128i(block), sep);
                let valid = (1u32 << len) - 1;
                let mut hits = hits & valid;
                while hits != 0 {
                    out.push(hits.trailing_zeros());
                    hits &= hits - 1;
                }
                return bad & valid == 0;
            }
        }
    }
    split_seps(&buf[start..end], sep, out)
}

/// The separator lanes and the unprintable lanes (below 0x20, 0x7F and above) of a
/// sixteen-byte block, a bit per byte.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn sse2_masks(v: safe_arch::m128i, sep: u8) -> (u32, u32) {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, cmp_lt_mask_i8_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let hits = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(sep as i8))) as u32;
    // signed compare: 0x80..=0xFF are negative, so below 0x20 too
    let bad = move_mask_i8_m128i(bitor_m128i(
        cmp_lt_mask_i8_m128i(v, set_splat_i8_m128i(0x20)),
        cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(0x7F)),
    )) as u32;
    (hits, bad)
}

/// The first `needle` in `hay`: segments are short, so the first 32 bytes are looked
/// at inline (two SSE2 compares on x86-64) before memchr, whose call and set-up cost
/// more than the scan of a typical segment.
#[inline]
pub(crate) fn find_near(needle: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use safe_arch::{
            cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
        };
        if hay.len() >= 32 {
            let n = set_splat_i8_m128i(needle as i8);
            for at in [0usize, 16] {
                let mut w = [0u8; 16];
                w.copy_from_slice(&hay[at..at + 16]);
                let hits = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(load_unaligned_m128i(&w), n));
                if hits != 0 {
                    return Some(at + hits.trailing_zeros() as usize);
                }
            }
            return memchr(needle, &hay[32..]).map(|i| i + 32);
        }
    }
    memchr(needle, hay)
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn split_seps_sse2(content: &[u8], sep: u8, out: &mut Vec<u32>) -> bool {
    use safe_arch::{load_unaligned_m128i, m128i};
    let masks = |v: m128i| -> (u32, u32) { sse2_masks(v, sep) };
    let mut push = |mut hits: u32, at: usize| {
        while hits != 0 {
            out.push((at + hits.trailing_zeros() as usize) as u32);
            hits &= hits - 1;
        }
    };
    let len = content.len();
    if len < 16 {
        let mut w = [b' '; 16];
        if len >= 8 {
            w[..8].copy_from_slice(&content[..8]);
            w[len - 8..len].copy_from_slice(&content[len - 8..]);
        } else if len >= 4 {
            w[..4].copy_from_slice(&content[..4]);
            w[len - 4..len].copy_from_slice(&content[len - 4..]);
        } else {
            w[..len].copy_from_slice(content);
        }
        let (hits, bad) = masks(load_unaligned_m128i(&w));
        let valid = (1u32 << len) - 1;
        push(hits & valid, 0);
        return bad & valid == 0;
    }
    let mut bad = 0u32;
    let mut at = 0usize;
    while at + 16 <= len {
        let mut w = [0u8; 16];
        w.copy_from_slice(&content[at..at + 16]);
        let (hits, b) = masks(load_unaligned_m128i(&w));
        bad |= b;
        push(hits, at);
        at += 16;
    }
    if at < len {
        // the last sixteen bytes; the lanes before `at` were seen already
        let start = len - 16;
        let mut w = [0u8; 16];
        w.copy_from_slice(&content[start..]);
        let (hits, b) = masks(load_unaligned_m128i(&w));
        let fresh = !0u32 << (at - start);
        bad |= b;
        push(hits & fresh, start);
    }
    bad & 0xFFFF == 0
}

/// [`split_seps`] eight bytes at a time: separators by the exact zero-byte bit trick,
/// unprintable bytes by the "has less than" / "has more than" word tests (exact as a
/// yes/no for the word).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline]
fn split_seps_swar(content: &[u8], sep: u8, out: &mut Vec<u32>) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LO: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let pattern = u64::from(sep) * ONES;
    let mut bad = 0u64;
    let mut at = 0usize;
    let mut push = |word: u64, at: usize, valid: u64| {
        let x = word ^ pattern;
        let mut hits = !(((x & LO).wrapping_add(LO)) | x | LO) & valid;
        while hits != 0 {
            out.push((at + hits.trailing_zeros() as usize / 8) as u32);
            hits &= hits - 1;
        }
    };
    while at + 8 <= content.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&content[at..at + 8]);
        let word = u64::from_le_bytes(w);
        // a byte below 0x20, or above 0x7E (0x7F..=0xFF)
        bad |= (word.wrapping_sub(0x20 * ONES) & !word) | (word.wrapping_add(ONES) | word);
        push(word, at, u64::MAX);
        at += 8;
    }
    let rest = content.len() - at;
    if rest > 0 {
        // pad with spaces: printable, and masked out of the separator hits
        let mut w = [b' '; 8];
        w[..rest].copy_from_slice(&content[at..]);
        let word = u64::from_le_bytes(w);
        bad |= (word.wrapping_sub(0x20 * ONES) & !word) | (word.wrapping_add(ONES) | word);
        push(word, at, (1u64 << (rest * 8)) - 1);
    }
    bad & HIGH == 0
}

/// One segment, borrowed from the input: the identifier and the elements, without the
/// terminator.
///
/// ```
/// use x12_core::{Delimiters, Segment};
/// let seg = Segment::new(b"NM1*85*2*CLINIC*****XX*1234567893", Delimiters::default());
/// assert_eq!(seg.id(), b"NM1");
/// assert_eq!(seg.element(9).map(|e| e.as_bytes()), Some(&b"1234567893"[..]));
/// assert_eq!(seg.element_count(), 9);
/// ```
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    content: &'a [u8],
    /// Offsets in `content` of its element separators, when a walk has found them
    /// (empty: not known, found by scanning).
    seps: &'a [u32],
    id_len: u8,
    delimiters: Delimiters,
}

impl PartialEq for Segment<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.content == other.content && self.delimiters == other.delimiters
    }
}

impl Eq for Segment<'_> {}

impl std::fmt::Debug for Segment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Segment({:?})", String::from_utf8_lossy(self.content))
    }
}

impl<'a> Segment<'a> {
    /// A view of `content` (a segment without its terminator).
    pub fn new(content: &'a [u8], delimiters: Delimiters) -> Self {
        // identifiers are 2-3 bytes: look at the first few before asking memchr
        let id_len = match content
            .iter()
            .take(4)
            .position(|b| *b == delimiters.element)
        {
            Some(i) => i,
            None => memchr(delimiters.element, content).unwrap_or(content.len()),
        };
        Segment {
            content,
            seps: &[],
            id_len: id_len.min(u8::MAX as usize) as u8,
            delimiters,
        }
    }

    /// A view whose element separators are already known: `seps` holds the offset in
    /// `content` of every element separator, in order (as [`split_seps`] finds them).
    #[inline]
    pub(crate) fn with_seps(content: &'a [u8], seps: &'a [u32], delimiters: Delimiters) -> Self {
        let id_len = match seps.first() {
            Some(&p) => (p as usize).min(usize::from(u8::MAX)),
            None => content.len().min(usize::from(u8::MAX)),
        };
        Segment {
            content,
            seps,
            id_len: id_len as u8,
            delimiters,
        }
    }

    /// The separator offsets known for this view (empty when none were given).
    #[inline]
    pub(crate) fn seps(&self) -> &'a [u32] {
        self.seps
    }

    /// A view whose identifier length is already known (the loop tree keeps it).
    #[inline]
    pub(crate) fn with_id_len(content: &'a [u8], id_len: u8, delimiters: Delimiters) -> Self {
        Segment {
            content,
            seps: &[],
            id_len: id_len.min(content.len().min(usize::from(u8::MAX)) as u8),
            delimiters,
        }
    }

    /// The segment identifier (`NM1`), everything before the first element separator.
    #[inline]
    pub fn id(&self) -> &'a [u8] {
        &self.content[..self.id_len as usize]
    }

    /// The identifier as text, lossy for non-UTF-8 bytes.
    pub fn id_str(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.id())
    }

    /// The whole segment without its terminator.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.content
    }

    /// The delimiters this segment was read with.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// The elements after the identifier, in order (element 1 first).
    pub fn elements(&self) -> Elements<'a> {
        let rest = if self.id_len as usize >= self.content.len() {
            None
        } else {
            Some(&self.content[self.id_len as usize + 1..])
        };
        Elements {
            rest,
            delimiters: self.delimiters,
        }
    }

    /// Element `n`, 1-based as X12 numbers them (`NM109` is `element(9)`); `None` past
    /// the last element present. An empty element is `Some` with empty bytes.
    #[inline(always)]
    pub fn element(&self, n: usize) -> Option<Element<'a>> {
        if n == 0 || self.id_len as usize >= self.content.len() {
            return None;
        }
        if !self.seps.is_empty() {
            // with the separators known (a segment of the loop tree), a small lookup
            // worth inlining into every caller
            let start = *self.seps.get(n - 1)? as usize + 1;
            let end = self.seps.get(n).map_or(self.content.len(), |&e| e as usize);
            // (a tree filled by hand may hold offsets that do not fit: nothing, not a panic)
            return self
                .content
                .get(start..end)
                .map(|b| Element::new(b, self.delimiters));
        }
        self.element_by_scan(n)
    }

    /// [`Segment::element`] when the separators are not known: a scan.
    #[inline(never)]
    fn element_by_scan(&self, n: usize) -> Option<Element<'a>> {
        let rest = &self.content[self.id_len as usize + 1..];
        nth_field(rest, self.delimiters.element, n - 1).map(|b| Element::new(b, self.delimiters))
    }

    /// The bytes of element `n`, or empty when absent.
    #[inline]
    pub fn get(&self, n: usize) -> &'a [u8] {
        self.element(n).map(|e| e.as_bytes()).unwrap_or(b"")
    }

    /// The byte range within [`Segment::as_bytes`] of element `n` (1-based), or of
    /// component `c` of it; past the end, the empty range at the end.
    ///
    /// ```
    /// use x12_core::{Delimiters, Segment};
    /// let seg = Segment::new(b"CLM*A1*150***11:B:1", Delimiters::default());
    /// assert_eq!(seg.span_of(2, None), (7, 10));
    /// assert_eq!(seg.span_of(5, Some(2)), (16, 17));
    /// assert_eq!(seg.span_of(9, None), (19, 19));
    /// ```
    pub fn span_of(&self, n: usize, component: Option<usize>) -> (usize, usize) {
        let base = self.content.as_ptr() as usize;
        let end = self.content.len();
        let Some(el) = self.element(n) else {
            return (end, end);
        };
        let bytes = match component {
            Some(c) => match el.component(c) {
                Some(b) => b,
                None => return (end, end),
            },
            None => el.as_bytes(),
        };
        let start = bytes.as_ptr() as usize - base;
        (start, start + bytes.len())
    }

    /// How many elements follow the identifier (trailing empty ones included).
    pub fn element_count(&self) -> usize {
        if !self.seps.is_empty() {
            return self.seps.len();
        }
        self.elements().count()
    }
}

/// Iterator over a segment's elements.
#[derive(Clone)]
pub struct Elements<'a> {
    rest: Option<&'a [u8]>,
    delimiters: Delimiters,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    #[inline]
    fn next(&mut self) -> Option<Element<'a>> {
        let rest = self.rest?;
        match find_byte(self.delimiters.element, rest) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(Element::new(&rest[..i], self.delimiters))
            }
            None => {
                self.rest = None;
                Some(Element::new(rest, self.delimiters))
            }
        }
    }
}

/// One element: simple, composite (components) or repeating (repetitions).
///
/// ```
/// use x12_core::{Delimiters, Segment};
/// let seg = Segment::new(b"HI*ABK:E119^ABF:I10", Delimiters::default());
/// let hi01 = seg.element(1).unwrap();
/// let reps: Vec<_> = hi01.repetitions().map(|r| r.component(2).unwrap_or_default()).collect();
/// assert_eq!(reps, [&b"E119"[..], &b"I10"[..]]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    bytes: &'a [u8],
    delimiters: Delimiters,
}

impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Element({:?})", String::from_utf8_lossy(self.bytes))
    }
}

impl<'a> Element<'a> {
    pub(crate) fn new(bytes: &'a [u8], delimiters: Delimiters) -> Self {
        Element { bytes, delimiters }
    }

    /// The raw bytes, separators included.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The delimiters the element was read with.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// Whether the element is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The repetitions (one when the element does not repeat or the version has no
    /// repetition separator).
    pub fn repetitions(&self) -> Split<'a, Element<'a>> {
        Split::new(self.bytes, self.delimiters.repetition, self.delimiters)
    }

    /// The repetitions when `repeats`, else the element whole as its one repetition
    /// (without looking for the separator).
    #[inline]
    pub(crate) fn split_repetitions(&self, repeats: bool) -> Split<'a, Element<'a>> {
        let sep = if repeats {
            self.delimiters.repetition
        } else {
            None
        };
        Split::new(self.bytes, sep, self.delimiters)
    }

    /// The components of this element (of its whole bytes; for a repeating
    /// composite, take [`Element::repetitions`] first).
    pub fn components(&self) -> Split<'a, &'a [u8]> {
        Split::new(self.bytes, Some(self.delimiters.component), self.delimiters)
    }

    /// Component `n`, 1-based.
    pub fn component(&self, n: usize) -> Option<&'a [u8]> {
        if n == 0 {
            return None;
        }
        nth_field(self.bytes, self.delimiters.component, n - 1)
    }
}

/// Splits bytes on one separator; yields [`Element`]s (for repetitions) or byte slices
/// (for components).
#[derive(Clone)]
pub struct Split<'a, T> {
    rest: Option<&'a [u8]>,
    sep: Option<u8>,
    delimiters: Delimiters,
    _kind: std::marker::PhantomData<T>,
}

impl<'a, T> Split<'a, T> {
    fn new(bytes: &'a [u8], sep: Option<u8>, delimiters: Delimiters) -> Self {
        Split {
            rest: Some(bytes),
            sep,
            delimiters,
            _kind: std::marker::PhantomData,
        }
    }

    fn next_slice(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match self.sep.and_then(|s| find_byte(s, rest)) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

impl<'a> Iterator for Split<'a, &'a [u8]> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_slice()
    }
}

impl<'a> Iterator for Split<'a, Element<'a>> {
    type Item = Element<'a>;
    fn next(&mut self) -> Option<Element<'a>> {
        let d = self.delimiters;
        self.next_slice().map(|b| Element::new(b, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_near_agrees_with_memchr() {
        for len in 0..90usize {
            for at in 0..=len {
                let mut hay = vec![b'A'; len];
                if at < len {
                    hay[at] = b'~';
                }
                // a second one further on never wins over the first
                if at + 5 < len {
                    hay[at + 5] = b'~';
                }
                assert_eq!(find_near(b'~', &hay), memchr(b'~', &hay), "{len} {at}");
            }
        }
    }

    #[test]
    fn split_seps_finds_every_separator_and_unprintable_byte() {
        // every length up to 70, separators and odd bytes at every place, against the
        // plain definition (and the word-at-a-time version against both)
        let alphabet = [b'A', b'*', b'1', b' ', b'~', 0x1F, 0x7F, 0x80, 0xFF, b':'];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for len in 0..70usize {
            for _ in 0..60 {
                let content: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let want: Vec<u32> = content
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'*')
                    .map(|(i, _)| i as u32)
                    .collect();
                let printable = content.iter().all(|b| (0x20..=0x7E).contains(b));
                let mut got = vec![7];
                assert_eq!(
                    split_seps(&content, b'*', &mut got),
                    printable,
                    "{content:?}"
                );
                assert_eq!(got[1..], want[..], "{content:?}");
                let mut words = Vec::new();
                assert_eq!(split_seps_swar(&content, b'*', &mut words), printable);
                assert_eq!(words, want);
                // inside a longer buffer, with separators and odd bytes after the end
                // (read, never reported), and with the segment at the buffer's end
                for tail in [&b""[..], b"*", b"**\x01*AAAA*\xFF****AAAA", b"~ISA*00*"] {
                    let mut buf = b"ST*".to_vec();
                    buf.extend_from_slice(&content);
                    buf.extend_from_slice(tail);
                    let mut within = Vec::new();
                    assert_eq!(
                        split_seps_within(&buf, 3, 3 + len, b'*', &mut within),
                        printable,
                        "{content:?} then {tail:?}"
                    );
                    assert_eq!(within, want, "{content:?} then {tail:?}");
                }
            }
        }
    }

    #[test]
    fn elements_and_empties() {
        let s = Segment::new(b"CLM*A1**11:B:1*", Delimiters::default());
        let e: Vec<_> = s.elements().map(|e| e.as_bytes()).collect();
        assert_eq!(e, [&b"A1"[..], b"", b"11:B:1", b""]);
        assert_eq!(s.element(3).unwrap().component(2), Some(&b"B"[..]));
        assert_eq!(s.element(4).map(|e| e.is_empty()), Some(true));
        assert!(s.element(5).is_none());
        assert!(s.element(0).is_none());
    }

    #[test]
    fn nth_field_agrees_with_splitting() {
        let samples: [&[u8]; 6] = [
            b"",
            b"A",
            b"**",
            b"NM1*85*2*CLINIC*****XX*1234567893",
            b"A*BB*CCC*DDDD*EEEEE*FFFFFF*GGGGGGG*HHHHHHHH*IIIIIIIII*",
            b"********************",
        ];
        for hay in samples {
            let fields: Vec<&[u8]> = hay.split(|b| *b == b'*').collect();
            for n in 0..fields.len() + 3 {
                assert_eq!(
                    nth_field(hay, b'*', n),
                    fields.get(n).copied(),
                    "{hay:?} {n}"
                );
            }
        }
    }

    #[test]
    fn split_seps_agrees_with_scanning() {
        let samples: [&[u8]; 9] = [
            b"",
            b"LE",
            b"NM1*85*2*CLINIC*****XX*1234567893",
            b"A*BB*CCC*DDDD*EEEEE*FFFFFF*GGGGGGG*HHHHHHHH*IIIIIIIII*",
            b"********************",
            b"N3*12 MAIN ST\x7f",
            b"N3*\x1fMAIN",
            b"N3*caf\xc3\xa9",
            b"REF*EI*~^:! ZZ",
        ];
        for hay in samples {
            let mut seps = Vec::new();
            let printable = split_seps(hay, b'*', &mut seps);
            let want: Vec<u32> = hay
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'*')
                .map(|(i, _)| i as u32)
                .collect();
            assert_eq!(seps, want, "{hay:?}");
            assert_eq!(
                printable,
                hay.iter().all(|b| (0x20..=0x7E).contains(b)),
                "{hay:?}"
            );
            let d = Delimiters::default();
            let (fast, slow) = (Segment::with_seps(hay, &seps, d), Segment::new(hay, d));
            assert_eq!(fast.id(), slow.id(), "{hay:?}");
            assert_eq!(fast.element_count(), slow.element_count(), "{hay:?}");
            for n in 0..12 {
                assert_eq!(fast.element(n), slow.element(n), "{hay:?} {n}");
            }
        }
        // every byte value, at every position of a word and of the tail
        for len in 1..=17 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut hay = vec![b'A'; len];
                    hay[at] = b;
                    let mut seps = Vec::new();
                    let printable = split_seps(&hay, b'*', &mut seps);
                    assert_eq!(printable, (0x20..=0x7E).contains(&b), "{len} {at} {b}");
                    assert_eq!(seps, if b == b'*' { vec![at as u32] } else { vec![] });
                }
            }
        }
    }

    #[test]
    fn bare_id() {
        let s = Segment::new(b"LE", Delimiters::default());
        assert_eq!(s.id(), b"LE");
        assert_eq!(s.element_count(), 0);
        assert_eq!(s.get(1), b"");
    }

    #[test]
    fn no_repetition_separator() {
        let d = Delimiters {
            repetition: None,
            ..Delimiters::default()
        };
        let s = Segment::new(b"HI*A^B", d);
        assert_eq!(s.element(1).unwrap().repetitions().count(), 1);
    }
}
