//! Findings: one [`Issue`] type for everything the reader and validators report.
//!
//! An issue carries a machine-readable [`Code`], a sentence a person can act on, and
//! a [`Location`] precise enough for both a person (byte offset, segment position,
//! element) and an acknowledgment (TA1 note code, 999 group and set codes).

use serde::Serialize;
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Tolerated and reported; the input is still accepted.
    Warning,
    /// The input breaks a rule; the enclosing structure is rejected or accepted with errors.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// TA1 interchange note codes (TA105), as listed in the 5010 interchange control
/// structure (see `shared/X12-NOTES.md`, "TA1"). Serialized as the three-digit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ta1Note {
    /// 000: no error.
    NoError = 0,
    /// 001: ISA13 and IEA02 differ.
    ControlNumberMismatch = 1,
    /// 002: this standard as noted in the control standards identifier is not supported.
    StandardNotSupported = 2,
    /// 003: this version of the controls is not supported.
    VersionNotSupported = 3,
    /// 004: the segment terminator is invalid.
    InvalidSegmentTerminator = 4,
    /// 005: invalid interchange ID qualifier for sender (ISA05).
    InvalidSenderQualifier = 5,
    /// 006: invalid interchange sender ID (ISA06).
    InvalidSenderId = 6,
    /// 007: invalid interchange ID qualifier for receiver (ISA07).
    InvalidReceiverQualifier = 7,
    /// 008: invalid interchange receiver ID (ISA08).
    InvalidReceiverId = 8,
    /// 009: unknown interchange receiver ID.
    UnknownReceiverId = 9,
    /// 010: invalid authorization information qualifier value (ISA01).
    InvalidAuthorizationQualifier = 10,
    /// 011: invalid authorization information value (ISA02).
    InvalidAuthorizationValue = 11,
    /// 012: invalid security information qualifier value (ISA03).
    InvalidSecurityQualifier = 12,
    /// 013: invalid security information value (ISA04).
    InvalidSecurityValue = 13,
    /// 014: invalid interchange date value (ISA09).
    InvalidDate = 14,
    /// 015: invalid interchange time value (ISA10).
    InvalidTime = 15,
    /// 016: invalid interchange standards identifier value (ISA11).
    InvalidStandardsIdentifier = 16,
    /// 017: invalid interchange version ID value (ISA12).
    InvalidVersion = 17,
    /// 018: invalid interchange control number value (ISA13).
    InvalidControlNumber = 18,
    /// 019: invalid acknowledgment requested value (ISA14).
    InvalidAckRequested = 19,
    /// 020: invalid test indicator value (ISA15).
    InvalidTestIndicator = 20,
    /// 021: invalid number of included groups value (IEA01).
    InvalidGroupCount = 21,
    /// 022: invalid control structure.
    InvalidControlStructure = 22,
    /// 023: improper (premature) end-of-file (transmission).
    PrematureEndOfFile = 23,
    /// 024: invalid interchange content (e.g. invalid GS segment).
    InvalidContent = 24,
    /// 025: duplicate interchange control number.
    DuplicateControlNumber = 25,
    /// 026: invalid data element separator.
    InvalidElementSeparator = 26,
    /// 027: invalid component element separator.
    InvalidComponentSeparator = 27,
}

impl Serialize for Ta1Note {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

impl Ta1Note {
    /// The three-digit code written in TA105.
    ///
    /// ```
    /// assert_eq!(x12_core::Ta1Note::DuplicateControlNumber.code(), "025");
    /// ```
    pub fn code(self) -> String {
        format!("{:03}", self as u8)
    }
}

/// What was found. The string form ([`Code::as_str`]) is stable: it is part of the
/// JSON output contract of `x12 validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
#[non_exhaustive]
pub enum Code {
    /// Bytes (a byte-order mark or white space) before the first ISA.
    Preamble,
    /// Segments are followed by spaces or tabs (indented), not only CR/LF.
    IndentedSegments,
    /// The input does not start with an ISA segment.
    NotX12,
    /// The ISA segment is not 106 bytes of fixed-width fields.
    IsaWidth,
    /// An ISA field holds a value its definition does not allow.
    IsaValue,
    /// A delimiter is unusable or two delimiters are the same.
    InvalidDelimiter,
    /// ISA12 names a version other than 00501.
    UnsupportedVersion,
    /// A segment identifier is not 2–3 upper-case letters or digits.
    InvalidSegmentId,
    /// A segment is longer than the configured maximum.
    SegmentTooLong,
    /// A transaction set is larger than the configured maximum.
    SetTooLarge,
    /// The input ends inside an interchange, group or transaction set.
    PrematureEndOfFile,
    /// The IEA trailer is missing before the next ISA or the end of input.
    MissingIea,
    /// IEA01 differs from the number of functional groups.
    GroupCountMismatch,
    /// IEA02 differs from ISA13.
    InterchangeControlMismatch,
    /// A segment appears where the envelope structure does not allow it.
    UnexpectedSegment,
    /// A GS field is missing or malformed.
    GsValue,
    /// The GE trailer is missing.
    MissingGe,
    /// GE01 differs from the number of transaction sets in the group.
    SetCountMismatch,
    /// GE02 differs from GS06.
    GroupControlMismatch,
    /// A group control number is repeated within the interchange.
    DuplicateGroupControl,
    /// An ST field is missing or malformed.
    StValue,
    /// The SE trailer is missing.
    MissingSe,
    /// SE01 differs from the number of segments from ST to SE.
    SegmentCountMismatch,
    /// SE02 differs from ST02.
    SetControlMismatch,
    /// A transaction set control number is repeated within the group.
    DuplicateSetControl,
    /// ST03 differs from GS08.
    VersionMismatch,
    /// The interchange control number was already received from this sender.
    DuplicateInterchange,
    /// A trailer (SE, GE, IEA) element is malformed.
    TrailerValue,
    /// No guide table answers to the transaction set's version label.
    UnknownGuide,
    /// A segment is not where the guide allows it (999 IK304 1, 2, 6 or 7).
    UnexpectedGuideSegment,
    /// A required segment is missing (IK304 3).
    MissingSegment,
    /// A required loop is missing (IK304 3 on its first segment).
    MissingLoop,
    /// A loop repeats more often than the guide allows (IK304 4).
    LoopOverMax,
    /// A segment repeats more often than the guide allows (IK304 5).
    SegmentOverMax,
    /// A segment or loop the guide marks "not used" is present (IK304 I4).
    NotUsedSegment,
    /// A required element is missing (IK403 1).
    MissingElement,
    /// An element required by a syntax rule is missing, or an exclusion is broken (IK403 2 / 10).
    SyntaxRule,
    /// More elements than the segment defines (IK403 3).
    TooManyElements,
    /// An element is too short (IK403 4).
    TooShort,
    /// An element is too long (IK403 5).
    TooLong,
    /// An element holds characters its type does not allow (IK403 6).
    InvalidCharacter,
    /// An element holds a code the guide does not list (IK403 7).
    InvalidCode,
    /// An element holds an invalid date (IK403 8).
    InvalidDate,
    /// An element holds an invalid time (IK403 9).
    InvalidTime,
    /// An element repeats more often than allowed (IK403 12).
    TooManyRepetitions,
    /// A composite has more components than defined (IK403 13).
    TooManyComponents,
    /// An element the guide marks "not used" is present (IK403 I10).
    NotUsedElement,
    /// The HL hierarchy is broken (numbering, parent references, child codes).
    Hierarchy,
    /// Amounts or counts do not balance (SNIP 3).
    Balancing,
    /// A situational rule of the guide is broken (SNIP 4).
    Situational,
    /// A value is not valid in its external code set (SNIP 5).
    CodeSet,
}

impl Code {
    /// The stable string form, e.g. `"SE01_COUNT"`.
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            Preamble => "PREAMBLE",
            IndentedSegments => "INDENTED_SEGMENTS",
            NotX12 => "NOT_X12",
            IsaWidth => "ISA_WIDTH",
            IsaValue => "ISA_VALUE",
            InvalidDelimiter => "INVALID_DELIMITER",
            UnsupportedVersion => "UNSUPPORTED_VERSION",
            InvalidSegmentId => "INVALID_SEGMENT_ID",
            SegmentTooLong => "SEGMENT_TOO_LONG",
            SetTooLarge => "SET_TOO_LARGE",
            PrematureEndOfFile => "PREMATURE_EOF",
            MissingIea => "MISSING_IEA",
            GroupCountMismatch => "IEA01_COUNT",
            InterchangeControlMismatch => "IEA02_CONTROL",
            UnexpectedSegment => "UNEXPECTED_SEGMENT",
            GsValue => "GS_VALUE",
            MissingGe => "MISSING_GE",
            SetCountMismatch => "GE01_COUNT",
            GroupControlMismatch => "GE02_CONTROL",
            DuplicateGroupControl => "DUPLICATE_GS06",
            StValue => "ST_VALUE",
            MissingSe => "MISSING_SE",
            SegmentCountMismatch => "SE01_COUNT",
            SetControlMismatch => "SE02_CONTROL",
            DuplicateSetControl => "DUPLICATE_ST02",
            VersionMismatch => "ST03_VERSION",
            DuplicateInterchange => "DUPLICATE_ISA13",
            TrailerValue => "TRAILER_VALUE",
            UnknownGuide => "UNKNOWN_GUIDE",
            UnexpectedGuideSegment => "UNEXPECTED_SEGMENT_IN_SET",
            MissingSegment => "MISSING_SEGMENT",
            MissingLoop => "MISSING_LOOP",
            LoopOverMax => "LOOP_OVER_MAX",
            SegmentOverMax => "SEGMENT_OVER_MAX",
            NotUsedSegment => "NOT_USED_SEGMENT",
            MissingElement => "MISSING_ELEMENT",
            SyntaxRule => "SYNTAX_RULE",
            TooManyElements => "TOO_MANY_ELEMENTS",
            TooShort => "TOO_SHORT",
            TooLong => "TOO_LONG",
            InvalidCharacter => "INVALID_CHARACTER",
            InvalidCode => "INVALID_CODE",
            InvalidDate => "INVALID_DATE",
            InvalidTime => "INVALID_TIME",
            TooManyRepetitions => "TOO_MANY_REPETITIONS",
            TooManyComponents => "TOO_MANY_COMPONENTS",
            NotUsedElement => "NOT_USED_ELEMENT",
            Hierarchy => "HIERARCHY",
            Balancing => "BALANCING",
            Situational => "SITUATIONAL",
            CodeSet => "CODE_SET",
        }
    }
}

impl Code {
    /// The 999 IK502 syntax error code for a transaction-set envelope issue.
    pub fn ik502(self) -> Option<&'static str> {
        use Code::*;
        Some(match self {
            MissingSe => "2",
            SetControlMismatch => "3",
            SegmentCountMismatch => "4",
            StValue => "6",
            VersionMismatch => "19",
            DuplicateSetControl => "23",
            UnknownGuide => "1",
            _ => return None,
        })
    }

    /// The 999 AK905 code for a functional-group envelope issue.
    pub fn ak905(self) -> Option<&'static str> {
        use Code::*;
        Some(match self {
            MissingGe => "3",
            GroupControlMismatch => "4",
            SetCountMismatch => "5",
            GsValue => "6",
            DuplicateGroupControl => "23",
            _ => return None,
        })
    }
}

impl From<Code> for &'static str {
    fn from(c: Code) -> Self {
        c.as_str()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scope an issue belongs to, which decides which acknowledgment reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The file or interchange envelope (ISA/IEA): reported in the TA1.
    Interchange,
    /// A functional group envelope (GS/GE): reported in the 999's AK9.
    Group,
    /// A transaction set (ST..SE): reported in the 999's AK2..IK5.
    Set,
}

/// Where an issue is, for a person and for an acknowledgment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Byte offset of the segment (or of the offending byte) from the start of the input.
    pub byte_offset: u64,
    /// 1-based position of the segment in the input, counting every segment.
    pub segment_position: u64,
    /// 1-based position within the transaction set (ST is 1), as the 999 IK302 counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_position: Option<u32>,
    /// The segment identifier, e.g. `SE`.
    pub segment_id: String,
    /// 1-based element position (ISA13 is 13).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<u16>,
    /// 1-based component position within a composite element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<u16>,
    /// 1-based repetition of a repeating element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u16>,
    /// Loop identifier, e.g. `2010AA`, once a guide places the segment.
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
    pub loop_id: Option<String>,
    /// The control number of the enclosing structure (ST02, GS06 or ISA13).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_number: Option<String>,
    /// The segment as received (without terminator), for showing the finding in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// The byte range of the element (or component) in `excerpt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<(u32, u32)>,
}

/// One finding, with everything needed to show it to a person and to render it in a
/// TA1 or 999 acknowledgment.
///
/// ```
/// use x12_core::{Code, Issue, Location, Scope, Severity};
/// let issue = Issue::error(Code::SegmentCountMismatch, Scope::Set, "SE01 says 5 segments, the set has 6")
///     .at(Location { segment_id: "SE".into(), segment_position: 9, element: Some(1), ..Default::default() });
/// assert_eq!(issue.severity, Severity::Error);
/// assert_eq!(issue.to_string(), "error SE01_COUNT at segment 9 (SE01): SE01 says 5 segments, the set has 6");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// How bad it is.
    pub severity: Severity,
    /// What it is.
    pub code: Code,
    /// Which acknowledgment reports it.
    pub scope: Scope,
    /// A sentence a person can act on.
    pub message: String,
    /// Where it is.
    #[serde(flatten)]
    pub location: Location,
    /// The TA1 note code (TA105) this issue maps to, for interchange-level issues.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ta1_note: Option<Ta1Note>,
    /// WEDI SNIP level (1–7) of the rule broken.
    pub snip: u8,
    /// The 999 IK3 segment note, for issues inside a transaction set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ik3: Option<Ik3>,
    /// The 999 IK4 element note, for issues about one element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ik4: Option<Ik4>,
    /// The 999 CTX business-unit context (e.g. (`CLM01`, claim id)), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<(String, String)>,
}

/// The 999 IK3 coordinates of an issue: which segment, where, and IK304.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ik3 {
    /// IK301: segment id.
    pub segment_id: String,
    /// IK302: position in the transaction set (ST is 1).
    pub position: u32,
    /// IK303: loop identifier, when the segment is in a loop.
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
    pub loop_id: Option<String>,
    /// IK304: segment syntax error code (`1`..`8`, `I4`, `I6`..`I9`).
    pub code: &'static str,
}

/// The 999 IK4 coordinates of an issue: which element and IK403.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ik4 {
    /// IK401-1: element position.
    pub position: u16,
    /// IK401-2: component position, for a composite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<u16>,
    /// IK401-3: repetition, for a repeating element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u16>,
    /// IK402: data element reference number.
    pub reference: String,
    /// IK403: element syntax error code (`1`..`13`, `I6`, `I9`..`I13`).
    pub code: &'static str,
    /// IK404: a copy of the bad value, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Issue {
    /// An error with no location yet.
    pub fn error(code: Code, scope: Scope, message: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Error,
            code,
            scope,
            message: message.into(),
            location: Location::default(),
            ta1_note: None,
            snip: 1,
            ik3: None,
            ik4: None,
            context: None,
        }
    }

    /// A warning with no location yet.
    pub fn warning(code: Code, scope: Scope, message: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Warning,
            ..Issue::error(code, scope, message)
        }
    }

    /// Sets the location.
    pub fn at(mut self, location: Location) -> Self {
        self.location = location;
        self
    }

    /// Sets the TA1 note code.
    pub fn with_ta1(mut self, note: Ta1Note) -> Self {
        self.ta1_note = Some(note);
        self
    }

    /// Sets the element position (1-based).
    pub fn element(mut self, element: u16) -> Self {
        self.location.element = Some(element);
        self
    }

    /// Sets the WEDI SNIP level.
    pub fn snip(mut self, level: u8) -> Self {
        self.snip = level;
        self
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.location;
        write!(
            f,
            "{} {} at segment {}",
            self.severity, self.code, l.segment_position
        )?;
        if !l.segment_id.is_empty() {
            write!(f, " ({}", l.segment_id)?;
            if let Some(e) = l.element {
                write!(f, "{e:02}")?;
                if let Some(c) = l.component {
                    write!(f, "-{c}")?;
                }
            }
            f.write_str(")")?;
        }
        write!(f, ": {}", self.message)
    }
}
