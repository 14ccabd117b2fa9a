//! Serializing segments with any delimiters, byte for byte when they are unchanged.

use crate::envelope::SegmentRef;
use crate::isa::lossy;
use crate::segment::Segment;
use crate::Delimiters;
use std::io::{self, Write};

/// Why a segment could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The destination failed.
    #[error("write failed: {0}")]
    Io(#[from] io::Error),
    /// A value contains one of the output delimiters, so it cannot be written unescaped
    /// (X12 has no escape mechanism).
    #[error("{segment} element {element}: the value contains the delimiter {byte:?}, which X12 cannot escape")]
    DelimiterInData {
        /// The segment identifier.
        segment: String,
        /// 1-based element position.
        element: usize,
        /// The offending byte, as a character.
        byte: char,
    },
    /// Several repetitions cannot be written because the output has no repetition separator.
    #[error("{segment} element {element} repeats, but the output delimiters have no repetition separator")]
    NoRepetitionSeparator {
        /// The segment identifier.
        segment: String,
        /// 1-based element position.
        element: usize,
    },
}

/// How a writer ends each segment after the terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineEnding {
    /// Keep the white space each segment had in the input (and its lead).
    Preserve,
    /// Write these bytes after every terminator.
    Fixed(Vec<u8>),
}

/// Writes segments with the delimiters it was given. Writing what a reader read, with
/// the same delimiters and [`Writer::preserving`], reproduces the input byte for byte.
///
/// ```
/// use x12_core::{Delimiters, Segments, Writer};
/// let input = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*^*00501*000000001*0*P*:~\r\nIEA*0*000000001~\r\n";
/// let mut w = Writer::preserving(Vec::new(), Delimiters::default());
/// for s in Segments::new(input) {
///     w.write_ref(&s).unwrap();
/// }
/// assert_eq!(w.into_inner(), input);
///
/// let pipes = Delimiters { element: b'|', repetition: Some(b'{'), component: b'>', segment: b'\'' };
/// let mut w = Writer::new(Vec::new(), pipes).line_ending(b"\n");
/// for s in Segments::new(input) {
///     w.write_segment(&s.segment).unwrap();
/// }
/// let out = w.into_inner();
/// assert!(out.starts_with(b"ISA|00|"));
/// assert!(out.ends_with(b"|{|00501|000000001|0|P|>'\nIEA|0|000000001'\n"));
/// ```
pub struct Writer<W> {
    out: W,
    delimiters: Delimiters,
    ending: LineEnding,
}

impl<W: Write> Writer<W> {
    /// A writer that ends every segment with the terminator alone.
    pub fn new(out: W, delimiters: Delimiters) -> Self {
        Writer {
            out,
            delimiters,
            ending: LineEnding::Fixed(Vec::new()),
        }
    }

    /// A writer that keeps each segment's own lead and trailing white space
    /// ([`Writer::write_ref`]).
    pub fn preserving(out: W, delimiters: Delimiters) -> Self {
        Writer {
            out,
            delimiters,
            ending: LineEnding::Preserve,
        }
    }

    /// Writes `ending` (e.g. `b"\n"` or `b"\r\n"`) after every terminator.
    pub fn line_ending(mut self, ending: &[u8]) -> Self {
        self.ending = LineEnding::Fixed(ending.to_vec());
        self
    }

    /// The output delimiters.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// Gives the destination back.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes a segment read from input, with its lead and trailing white space when
    /// preserving.
    pub fn write_ref(&mut self, r: &SegmentRef<'_>) -> Result<(), WriteError> {
        let preserve = self.ending == LineEnding::Preserve;
        if preserve {
            self.out.write_all(r.lead)?;
        }
        self.write_content(&r.segment)?;
        if preserve {
            if r.suffix.is_empty() {
                return Ok(()); // the input's last segment had no terminator
            }
            self.out.write_all(&[self.delimiters.segment])?;
            self.out.write_all(&r.suffix[1..])?;
            Ok(())
        } else {
            self.end_segment()
        }
    }

    /// Writes a segment (re-serialized with this writer's delimiters) and its terminator.
    pub fn write_segment(&mut self, seg: &Segment<'_>) -> Result<(), WriteError> {
        self.write_content(seg)?;
        self.end_segment()
    }

    /// Writes a segment from an identifier and element values. A value may hold
    /// components and repetitions already joined with this writer's component and
    /// repetition separators; it may not hold the element separator or terminator.
    ///
    /// ```
    /// use x12_core::{Delimiters, Writer};
    /// let mut w = Writer::new(Vec::new(), Delimiters::default());
    /// w.write_fields(b"IK4", &[b"2:1", b"66", b"7", b"XX"]).unwrap();
    /// assert!(w.write_fields(b"NTE", &[b"A*B"]).is_err());
    /// assert_eq!(w.into_inner(), b"IK4*2:1*66*7*XX~");
    /// ```
    pub fn write_fields(&mut self, id: &[u8], elements: &[&[u8]]) -> Result<(), WriteError> {
        let d = self.delimiters;
        for (n, e) in elements.iter().enumerate() {
            if let Some(&b) = e.iter().find(|b| **b == d.element || **b == d.segment) {
                return Err(WriteError::DelimiterInData {
                    segment: lossy(id),
                    element: n + 1,
                    byte: b as char,
                });
            }
        }
        self.out.write_all(id)?;
        for e in elements {
            self.out.write_all(&[d.element])?;
            self.out.write_all(e)?;
        }
        self.end_segment()
    }

    fn end_segment(&mut self) -> Result<(), WriteError> {
        self.out.write_all(&[self.delimiters.segment])?;
        if let LineEnding::Fixed(e) = &self.ending {
            self.out.write_all(e)?;
        }
        Ok(())
    }

    fn write_content(&mut self, seg: &Segment<'_>) -> Result<(), WriteError> {
        let src = seg.delimiters();
        let d = self.delimiters;
        if src == d {
            // same delimiters: the bytes are already what we would write
            self.out.write_all(seg.as_bytes())?;
            return Ok(());
        }
        let id = seg.id();
        self.out.write_all(id)?;
        let is_isa = id == b"ISA";
        for (n, element) in seg.elements().enumerate() {
            let pos = n + 1;
            self.out.write_all(&[d.element])?;
            if is_isa && pos == 16 {
                self.out.write_all(&[d.component])?;
                continue;
            }
            if is_isa && pos == 11 && src.repetition.is_some() {
                self.out.write_all(&[d.repetition.unwrap_or(b'U')])?;
                continue;
            }
            if is_isa {
                self.check(id, pos, element.as_bytes())?;
                self.out.write_all(element.as_bytes())?;
                continue;
            }
            for (r, rep) in element.repetitions().enumerate() {
                if r > 0 {
                    let Some(rs) = d.repetition else {
                        return Err(WriteError::NoRepetitionSeparator {
                            segment: lossy(id),
                            element: pos,
                        });
                    };
                    self.out.write_all(&[rs])?;
                }
                for (c, comp) in rep.components().enumerate() {
                    if c > 0 {
                        self.out.write_all(&[d.component])?;
                    }
                    self.check(id, pos, comp)?;
                    self.out.write_all(comp)?;
                }
            }
        }
        Ok(())
    }

    fn check(&self, id: &[u8], element: usize, value: &[u8]) -> Result<(), WriteError> {
        match value.iter().find(|b| self.delimiters.is_delimiter(**b)) {
            Some(&b) => Err(WriteError::DelimiterInData {
                segment: lossy(id),
                element,
                byte: b as char,
            }),
            None => Ok(()),
        }
    }
}
