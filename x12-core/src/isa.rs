//! The ISA interchange header: fixed-width grammar (nom), delimiters and field checks.

use crate::datetime::{is_valid_date, is_valid_time};
use crate::delimiters::usable_as_delimiter;
use crate::issue::{Code, Issue, Scope, Ta1Note};
use crate::Delimiters;
use bytes::Bytes;
use memchr::memchr;
use nom::bytes::complete::{tag, take};
use nom::{IResult, Parser};

/// Interchange id qualifiers (ISA05, ISA07) the 5010 control segments allow.
pub(crate) const QUALIFIERS: &[&[u8]] = &[
    b"01", b"14", b"20", b"27", b"28", b"29", b"30", b"33", b"ZZ",
];

/// Width of each ISA field, ISA01..ISA16.
pub const ISA_WIDTHS: [usize; 16] = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1];

/// Length of a well-formed ISA segment including its terminator.
pub const ISA_LEN: usize = 106;

/// Longest stretch the lenient ISA reader searches for sixteen separators.
const ISA_SEARCH: usize = 512;

/// The parsed ISA header of an interchange, owned (it outlives the input buffer).
///
/// ```
/// use x12_core::InterchangeHeader;
/// let isa = b"ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *240101*1200*^*00501*000000001*1*P*:~";
/// let (h, issues) = InterchangeHeader::parse(isa).unwrap();
/// assert!(issues.is_empty());
/// assert_eq!(h.control_number(), b"000000001");
/// assert_eq!(h.sender_id(), b"SUBMITTER");
/// assert!(h.ack_requested());
/// assert_eq!(h.delimiters().segment, b'~');
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeHeader {
    raw: Bytes,
    fields: [(u16, u16); 16],
    delimiters: Delimiters,
}

/// Why the bytes at hand are not (yet) an ISA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsaError {
    /// More bytes are needed to read the header.
    Incomplete,
    /// The bytes are not an ISA header; the issue says why and where (offsets are
    /// relative to the start of the bytes given).
    Invalid(Box<Issue>),
}

fn field<'a>(width: usize, sep: u8) -> impl Fn(&'a [u8]) -> IResult<&'a [u8], &'a [u8]> {
    move |i: &'a [u8]| {
        let s = [sep];
        let (i, v) = take(width).parse(i)?;
        let (i, _) = tag(&s[..]).parse(i)?;
        Ok((i, v))
    }
}

/// The strict grammar: `ISA`, the separator, fifteen fixed-width fields each followed by
/// the separator, ISA16, the terminator.
fn isa_fixed(i: &[u8]) -> IResult<&[u8], ()> {
    let (i, _) = tag(&b"ISA"[..]).parse(i)?;
    let (mut i, sep) = take(1usize).parse(i)?;
    for w in &ISA_WIDTHS[..15] {
        (i, _) = field(*w, sep[0])(i)?;
    }
    let (i, _) = take(2usize).parse(i)?;
    Ok((i, ()))
}

impl InterchangeHeader {
    /// Reads an ISA header from the start of `input` (which must begin with `ISA`),
    /// returning it with every field-level issue found. Field widths that break the
    /// fixed layout are reported (TA1-coded) but tolerated when the sixteen elements
    /// can still be told apart; offsets in issues are relative to `input`.
    pub fn parse(input: &[u8]) -> Result<(InterchangeHeader, Vec<Issue>), IsaError> {
        if input.len() < 4 {
            return if b"ISA".starts_with(&input[..input.len().min(3)]) {
                Err(IsaError::Incomplete)
            } else {
                Err(not_isa())
            };
        }
        if &input[..3] != b"ISA" {
            return Err(not_isa());
        }
        let sep = input[3];
        let mut issues = Vec::new();
        let mut fields = [(0u16, 0u16); 16];
        let len;
        match isa_fixed(input) {
            Ok(_) => {
                let mut at = 4usize;
                for (n, w) in ISA_WIDTHS.iter().enumerate() {
                    fields[n] = (at as u16, (at + w) as u16);
                    at += w + 1;
                }
                len = ISA_LEN;
            }
            Err(nom::Err::Incomplete(_)) => return Err(IsaError::Incomplete),
            Err(_) if input.len() < ISA_LEN && !has_16_separators(input, sep) => {
                return Err(IsaError::Incomplete)
            }
            Err(_) => {
                // Lenient: find the sixteen elements by their separators.
                let window = &input[..input.len().min(ISA_SEARCH)];
                let mut at = 4usize;
                for (n, slot) in fields.iter_mut().enumerate().take(15) {
                    let Some(i) = memchr(sep, &window[at..]) else {
                        if input.len() < ISA_SEARCH {
                            return Err(IsaError::Incomplete);
                        }
                        return Err(IsaError::Invalid(Box::new(
                            Issue::error(
                                Code::IsaWidth,
                                Scope::Interchange,
                                format!("ISA has only {} of its 16 elements", n + 1),
                            )
                            .with_ta1(Ta1Note::InvalidControlStructure),
                        )));
                    };
                    *slot = (at as u16, (at + i) as u16);
                    at += i + 1;
                }
                if window.len() < at + 2 {
                    return Err(IsaError::Incomplete);
                }
                fields[15] = (at as u16, (at + 1) as u16);
                len = at + 2;
                for (n, (s, e)) in fields.iter().enumerate() {
                    let w = (e - s) as usize;
                    if w != ISA_WIDTHS[n] {
                        issues.push(
                            Issue::error(
                                Code::IsaWidth,
                                Scope::Interchange,
                                format!(
                                    "ISA{:02} is {} characters wide; the fixed-width ISA needs {} (the ISA must be {} bytes, this one is {})",
                                    n + 1,
                                    w,
                                    ISA_WIDTHS[n],
                                    ISA_LEN,
                                    len
                                ),
                            )
                            .element(n as u16 + 1)
                            .with_ta1(width_note(n + 1)),
                        );
                    }
                }
            }
        }
        let raw = Bytes::copy_from_slice(&input[..len]);
        let get = |n: usize| &raw[fields[n - 1].0 as usize..fields[n - 1].1 as usize];
        let version = get(12);
        let has_repetition = version >= &b"00402"[..] && version.len() == 5;
        let delimiters = Delimiters {
            element: sep,
            // an unusable ISA11 (a letter, as 4010 habits leave) is reported below and
            // read as "no repetition separator" rather than splitting every value on it
            repetition: if has_repetition {
                get(11).first().copied().filter(|b| usable_as_delimiter(*b))
            } else {
                None
            },
            component: get(16).first().copied().unwrap_or(b':'),
            segment: raw[len - 1],
        };
        let header = InterchangeHeader {
            raw: raw.clone(),
            fields,
            delimiters,
        };
        header.check_fields(&mut issues);
        Ok((header, issues))
    }

    fn check_fields(&self, issues: &mut Vec<Issue>) {
        let d = self.delimiters;
        let mut push = |n: u16, note: Ta1Note, code: Code, msg: String| {
            issues.push(
                Issue::error(code, Scope::Interchange, msg)
                    .element(n)
                    .with_ta1(note),
            );
        };
        if !usable_as_delimiter(d.element) {
            push(
                0,
                Ta1Note::InvalidElementSeparator,
                Code::InvalidDelimiter,
                format!(
                    "element separator {} cannot be a letter, digit or space",
                    show(d.element)
                ),
            );
        }
        if !usable_as_delimiter(d.component) || d.component == d.element {
            push(
                16,
                Ta1Note::InvalidComponentSeparator,
                Code::InvalidDelimiter,
                format!(
                    "component separator (ISA16) {} must be a special character distinct from the other delimiters",
                    show(d.component)
                ),
            );
        }
        if !usable_as_delimiter(d.segment) || [d.element, d.component].contains(&d.segment) {
            push(
                16,
                Ta1Note::InvalidSegmentTerminator,
                Code::InvalidDelimiter,
                format!(
                    "segment terminator {} (the byte after ISA16) must be a special character distinct from the other delimiters",
                    show(d.segment)
                ),
            );
        }
        let version = self.field(12);
        if let Some(r) = d.repetition {
            if !usable_as_delimiter(r) || [d.element, d.component, d.segment].contains(&r) {
                push(
                    11,
                    Ta1Note::InvalidStandardsIdentifier,
                    Code::InvalidDelimiter,
                    format!(
                        "repetition separator (ISA11) {} must be a special character distinct from the other delimiters",
                        show(r)
                    ),
                );
            }
        } else if has_repetition_version(version) {
            push(
                11,
                Ta1Note::InvalidStandardsIdentifier,
                Code::InvalidDelimiter,
                format!(
                    "ISA11 {:?} must be the repetition separator (a special character) in version {}; read as none",
                    lossy(self.field(11)),
                    lossy(version)
                ),
            );
        } else if self.field(11) != b"U" {
            push(
                11,
                Ta1Note::InvalidStandardsIdentifier,
                Code::IsaValue,
                format!(
                    "ISA11 is {:?}; version {} needs U",
                    lossy(self.field(11)),
                    lossy(version)
                ),
            );
        }
        let checks: [(u16, Ta1Note, &[&[u8]]); 4] = [
            (1, Ta1Note::InvalidAuthorizationQualifier, &[b"00", b"03"]),
            (3, Ta1Note::InvalidSecurityQualifier, &[b"00", b"01"]),
            (14, Ta1Note::InvalidAckRequested, &[b"0", b"1"]),
            (15, Ta1Note::InvalidTestIndicator, &[b"P", b"T"]),
        ];
        for (n, note, allowed) in checks {
            let v = self.field(n as usize);
            if !allowed.contains(&v) {
                push(
                    n,
                    note,
                    Code::IsaValue,
                    format!("ISA{n:02} is {:?}; allowed: {}", lossy(v), join(allowed)),
                );
            }
        }
        const QUALIFIERS: &[&[u8]] = &[
            b"01", b"14", b"20", b"27", b"28", b"29", b"30", b"33", b"ZZ",
        ];
        for (n, note) in [
            (5, Ta1Note::InvalidSenderQualifier),
            (7, Ta1Note::InvalidReceiverQualifier),
        ] {
            let v = self.field(n);
            if !QUALIFIERS.contains(&v) {
                push(
                    n as u16,
                    note,
                    Code::IsaValue,
                    format!(
                        "ISA{n:02} interchange id qualifier {:?} is not one of {}",
                        lossy(v),
                        join(QUALIFIERS)
                    ),
                );
            }
        }
        for (n, note, what) in [
            (6, Ta1Note::InvalidSenderId, "sender"),
            (8, Ta1Note::InvalidReceiverId, "receiver"),
        ] {
            if self.field(n).iter().all(|b| *b == b' ') {
                push(
                    n as u16,
                    note,
                    Code::IsaValue,
                    format!("ISA{n:02} interchange {what} id is blank"),
                );
            }
        }
        if !is_valid_date(self.field(9)) {
            push(
                9,
                Ta1Note::InvalidDate,
                Code::IsaValue,
                format!(
                    "ISA09 interchange date {:?} is not a valid YYMMDD date",
                    lossy(self.field(9))
                ),
            );
        }
        if self.field(10).len() != 4 || !is_valid_time(self.field(10)) {
            push(
                10,
                Ta1Note::InvalidTime,
                Code::IsaValue,
                format!(
                    "ISA10 interchange time {:?} is not a valid HHMM time",
                    lossy(self.field(10))
                ),
            );
        }
        if version.len() != 5 || !version.iter().all(u8::is_ascii_digit) {
            push(
                12,
                Ta1Note::InvalidVersion,
                Code::IsaValue,
                format!(
                    "ISA12 version {:?} is not a 5-digit version number",
                    lossy(version)
                ),
            );
        } else if version != b"00501" {
            push(
                12,
                Ta1Note::VersionNotSupported,
                Code::UnsupportedVersion,
                format!(
                    "ISA12 version {} is not supported; HIPAA 5010 interchanges are 00501",
                    lossy(version)
                ),
            );
        }
        let icn = self.field(13);
        if icn.len() != 9 || !icn.iter().all(u8::is_ascii_digit) {
            push(
                13,
                Ta1Note::InvalidControlNumber,
                Code::IsaValue,
                format!(
                    "ISA13 interchange control number {:?} must be 9 digits",
                    lossy(icn)
                ),
            );
        }
    }

    /// ISA element `n` (1..=16), exactly as received (with its padding).
    pub fn field(&self, n: usize) -> &[u8] {
        match n {
            1..=16 => {
                let (s, e) = self.fields[n - 1];
                &self.raw[s as usize..e as usize]
            }
            _ => b"",
        }
    }

    /// The whole ISA segment as received, terminator included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The delimiters this header declares.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// ISA05, the sender id qualifier.
    pub fn sender_qualifier(&self) -> &[u8] {
        self.field(5)
    }

    /// ISA06 with trailing spaces removed.
    pub fn sender_id(&self) -> &[u8] {
        trim_end(self.field(6))
    }

    /// ISA07, the receiver id qualifier.
    pub fn receiver_qualifier(&self) -> &[u8] {
        self.field(7)
    }

    /// ISA08 with trailing spaces removed.
    pub fn receiver_id(&self) -> &[u8] {
        trim_end(self.field(8))
    }

    /// ISA09, the interchange date (YYMMDD).
    pub fn date(&self) -> &[u8] {
        self.field(9)
    }

    /// ISA10, the interchange time (HHMM).
    pub fn time(&self) -> &[u8] {
        self.field(10)
    }

    /// ISA12, the interchange control version.
    pub fn version(&self) -> &[u8] {
        self.field(12)
    }

    /// ISA13, the interchange control number.
    pub fn control_number(&self) -> &[u8] {
        self.field(13)
    }

    /// Whether ISA14 asks for a TA1.
    pub fn ack_requested(&self) -> bool {
        self.field(14) == b"1"
    }

    /// ISA15, `P` production or `T` test.
    pub fn usage(&self) -> &[u8] {
        self.field(15)
    }
}

fn has_repetition_version(version: &[u8]) -> bool {
    version.len() == 5 && version >= &b"00402"[..]
}

fn has_16_separators(input: &[u8], sep: u8) -> bool {
    memchr::memchr_iter(sep, input).nth(14).is_some()
}

fn not_isa() -> IsaError {
    IsaError::Invalid(Box::new(
        Issue::error(
            Code::NotX12,
            Scope::Interchange,
            "expected an ISA interchange header here",
        )
        .with_ta1(Ta1Note::InvalidControlStructure),
    ))
}

fn width_note(n: usize) -> Ta1Note {
    match n {
        1 => Ta1Note::InvalidAuthorizationQualifier,
        2 => Ta1Note::InvalidAuthorizationValue,
        3 => Ta1Note::InvalidSecurityQualifier,
        4 => Ta1Note::InvalidSecurityValue,
        5 => Ta1Note::InvalidSenderQualifier,
        6 => Ta1Note::InvalidSenderId,
        7 => Ta1Note::InvalidReceiverQualifier,
        8 => Ta1Note::InvalidReceiverId,
        9 => Ta1Note::InvalidDate,
        10 => Ta1Note::InvalidTime,
        11 => Ta1Note::InvalidStandardsIdentifier,
        12 => Ta1Note::InvalidVersion,
        13 => Ta1Note::InvalidControlNumber,
        14 => Ta1Note::InvalidAckRequested,
        15 => Ta1Note::InvalidTestIndicator,
        _ => Ta1Note::InvalidComponentSeparator,
    }
}

pub(crate) fn trim_end(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|c| *c != b' ').map_or(0, |i| i + 1);
    &b[..end]
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("0x{b:02X}")
    }
}

fn join(list: &[&[u8]]) -> String {
    list.iter().map(|v| lossy(v)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*T*:~";

    #[test]
    fn fixed_width() {
        assert_eq!(GOOD.len(), ISA_LEN);
        let (h, issues) = InterchangeHeader::parse(GOOD).unwrap();
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(h.delimiters(), Delimiters::default());
        assert_eq!(h.usage(), b"T");
    }

    #[test]
    fn incomplete_until_whole() {
        for n in 0..GOOD.len() {
            assert_eq!(
                InterchangeHeader::parse(&GOOD[..n]),
                Err(IsaError::Incomplete),
                "{n}"
            );
        }
    }

    #[test]
    fn lenient_widths_are_reported() {
        let isa = b"ISA*00* *00* *30*560891234 *30*566012345*030813*1505*U*00401*000000007*1*P*:~";
        let (h, issues) = InterchangeHeader::parse(isa).unwrap();
        assert_eq!(h.control_number(), b"000000007");
        assert_eq!(h.delimiters().repetition, None);
        let widths: Vec<_> = issues
            .iter()
            .filter(|i| i.code == Code::IsaWidth)
            .map(|i| i.location.element.unwrap())
            .collect();
        assert_eq!(widths, [2, 4, 6, 8]);
        assert!(issues
            .iter()
            .any(|i| i.ta1_note == Some(Ta1Note::VersionNotSupported)));
    }

    #[test]
    fn other_delimiters() {
        let isa = b"ISA|00|          |00|          |ZZ|SUBMITTER      |ZZ|RECEIVER       |240101|1200|{|00501|000000001|0|P|>'";
        let (h, issues) = InterchangeHeader::parse(isa).unwrap();
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            h.delimiters(),
            Delimiters {
                element: b'|',
                repetition: Some(b'{'),
                component: b'>',
                segment: b'\''
            }
        );
    }

    #[test]
    fn bad_values() {
        let isa = b"ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *241301*2500*^*00501*00000000A*2*X*:~";
        let (_, issues) = InterchangeHeader::parse(isa).unwrap();
        let notes: Vec<_> = issues.iter().filter_map(|i| i.ta1_note).collect();
        assert_eq!(
            notes,
            [
                Ta1Note::InvalidAckRequested,
                Ta1Note::InvalidTestIndicator,
                Ta1Note::InvalidDate,
                Ta1Note::InvalidTime,
                Ta1Note::InvalidControlNumber
            ]
        );
    }

    #[test]
    fn not_an_isa() {
        assert!(matches!(
            InterchangeHeader::parse(b"GS*HC"),
            Err(IsaError::Invalid(_))
        ));
        assert!(matches!(
            InterchangeHeader::parse(b"IS"),
            Err(IsaError::Incomplete)
        ));
    }
}
