//! The hot loop: find the next segment in a buffer (memchr on the terminator) and the
//! white space after it; check segment identifiers (nom).

use nom::bytes::complete::take_while_m_n;
use nom::{IResult, Parser};

/// Where one segment lies in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// Index of the terminator (the end of the content), or of the end of input for
    /// an unterminated last segment.
    pub content_end: usize,
    /// Index just past the terminator and the white space after it.
    pub next: usize,
    /// Whether the segment was ended by its terminator (false only at end of input).
    pub terminated: bool,
    /// Whether the white space after the terminator held spaces or tabs (indentation).
    pub indented: bool,
}

/// Bytes that may follow a terminator (or precede the first ISA) as line formatting.
#[inline]
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | b'\t')
}

/// Finds the segment starting at `start`. Returns `None` when more input is needed
/// (never when `eof`).
#[inline]
pub(crate) fn next_span(buf: &[u8], start: usize, terminator: u8, eof: bool) -> Option<Span> {
    let rest = &buf[start..];
    let Some(t) = crate::segment::find_near(terminator, rest) else {
        return eof.then_some(Span {
            content_end: buf.len(),
            next: buf.len(),
            terminated: false,
            indented: false,
        });
    };
    let content_end = start + t;
    let mut next = content_end + 1;
    let mut indented = false;
    while next < buf.len() {
        let b = buf[next];
        if !is_space(b) || b == terminator {
            if b == terminator && is_space(b) {
                // blank lines with a newline terminator: empty segments, skipped as space
                next += 1;
                continue;
            }
            break;
        }
        indented |= b == b' ' || b == b'\t';
        next += 1;
    }
    if next == buf.len() && !eof {
        // White space may follow in the next chunk; decide once it is here.
        return None;
    }
    Some(Span {
        content_end,
        next,
        terminated: true,
        indented,
    })
}

fn id_parser(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while_m_n(2, 3, |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit()).parse(i)
}

/// The segment identifier at the start of `content` (everything before the first
/// element separator, as [`crate::Segment::id`] has it) and whether it is well-formed
/// (what [`valid_id`] says), in one look at the first bytes.
#[inline]
pub(crate) fn leading_id(content: &[u8], element: u8) -> (&[u8], bool) {
    let head = content.len().min(4);
    let Some(n) = content[..head].iter().position(|b| *b == element) else {
        let end = if head < content.len() {
            memchr::memchr(element, content).unwrap_or(content.len())
        } else {
            content.len()
        };
        let id = &content[..end];
        // an id with no separator after it is whole only when it is the whole segment
        let ok = end == content.len()
            && (2..=3).contains(&end)
            && id[0].is_ascii_uppercase()
            && id[1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        return (id, ok);
    };
    let id = &content[..n];
    let ok = (2..=3).contains(&n)
        && id[0].is_ascii_uppercase()
        && id[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    (id, ok)
}

/// Whether `content` starts with a well-formed segment identifier (2–3 upper-case
/// letters or digits, the first a letter) followed by the element separator or the end.
#[inline]
pub(crate) fn valid_id(content: &[u8], element: u8) -> bool {
    match id_parser(content) {
        Ok((rest, id)) => id[0].is_ascii_uppercase() && (rest.is_empty() || rest[0] == element),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_id_agrees_with_the_parser_and_the_segment_view() {
        // every string of up to 6 bytes over a small alphabet
        let alphabet = [b'A', b'Z', b'1', b'a', b'*', b' ', 0xC3];
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..6 {
            let last: Vec<Vec<u8>> = inputs
                .iter()
                .filter(|v| v.len() == inputs.last().map_or(0, Vec::len))
                .cloned()
                .collect();
            for v in last {
                for b in alphabet {
                    let mut w = v.clone();
                    w.push(b);
                    inputs.push(w);
                }
            }
        }
        for content in &inputs {
            let (id, ok) = leading_id(content, b'*');
            let seg = crate::Segment::new(content, crate::Delimiters::default());
            assert_eq!(id, seg.id(), "{content:?}");
            assert_eq!(
                ok,
                !content.is_empty() && valid_id(content, b'*'),
                "{content:?}"
            );
        }
    }

    #[test]
    fn spans() {
        let b = b"ST*837*1~\r\nBHT*1~  SE*2*1~";
        let s = next_span(b, 0, b'~', false).unwrap();
        assert_eq!((s.content_end, s.next, s.indented), (8, 11, false));
        let s = next_span(b, 11, b'~', false).unwrap();
        assert_eq!((s.content_end, s.next, s.indented), (16, 19, true));
        assert_eq!(next_span(b, 19, b'~', false), None);
        assert_eq!(next_span(b, 19, b'~', true).unwrap().next, b.len());
        assert_eq!(next_span(b"SE*2", 0, b'~', false), None);
        assert!(!next_span(b"SE*2", 0, b'~', true).unwrap().terminated);
        assert_eq!(next_span(b"SE*2~\r", 0, b'~', false), None);
        assert_eq!(next_span(b"SE*2~\r", 0, b'~', true).unwrap().next, 6);
    }

    #[test]
    fn newline_terminator_with_indent() {
        let b = b"GS*HC\n    ST*837\n\nSE";
        let s = next_span(b, 0, b'\n', false).unwrap();
        assert_eq!((s.content_end, s.next, s.indented), (5, 10, true));
        let s = next_span(b, 10, b'\n', false).unwrap();
        assert_eq!(s.next, 18);
        assert_eq!(&b[18..], b"SE");
    }

    #[test]
    fn ids() {
        assert!(valid_id(b"NM1*85", b'*'));
        assert!(valid_id(b"LE", b'*'));
        assert!(!valid_id(b"N", b'*'));
        assert!(!valid_id(b"NM12*", b'*'));
        assert!(!valid_id(b"nm1*", b'*'));
        assert!(!valid_id(b"1NM*", b'*'));
        assert!(!valid_id(b"", b'*'));
    }
}
