//! The CORE real-time envelope: its fields, their checks, the SOAP 1.2 form (parse and
//! render).
//!
//! Parsing is strict and bounded: the caller caps the body's size; the XML must be
//! well-formed (end names checked), without a DTD (so no entity can be declared, let
//! alone expanded: only the five predefined entities and character references are
//! read), at most [`MAX_DEPTH`] elements deep, and shaped like the CORE schema:
//!
//! ```text
//! soap:Envelope (http://www.w3.org/2003/05/soap-envelope)
//!   soap:Header?  wsse:Security / wsse:UsernameToken / wsse:Username, wsse:Password
//!   soap:Body     COREEnvelopeRealTimeRequest (http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd)
//!                   PayloadType ProcessingMode PayloadID TimeStamp SenderID ReceiverID
//!                   CORERuleVersion Payload (the X12, usually in CDATA)
//! ```
//!
//! Field elements may be unqualified or in the CORE namespace. An unknown or repeated
//! field, text where none belongs, or an element inside a field is `EnvelopeMalformed`.
//! Other header blocks are ignored.

use super::errors::{CoreEnvelopeError, CoreErrorCode, Field};
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

/// The SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The SOAP 1.1 envelope namespace (refused: CORE Phase II names SOAP 1.2).
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The CORE rule 2.2.0 schema namespace.
pub const CORE_NS: &str = "http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd";
/// The WS-Security 1.0 extension namespace.
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// The one `CORERuleVersion` served.
pub const CORE_RULE_VERSION: &str = "2.2.0";
/// The one request `PayloadType` served: a 278 request, 005010X217.
pub const PAYLOAD_278_REQUEST: &str = "X12_278_Request_005010X217E1_2";
/// The response `PayloadType` of a 278 response.
pub const PAYLOAD_278_RESPONSE: &str = "X12_278_Response_005010X217E1_2";
/// The response `PayloadType` of a 999 rejecting the request.
pub const PAYLOAD_999: &str = "X12_999_Response_005010X231A1";
/// The response `PayloadType` of a TA1 rejecting the request.
pub const PAYLOAD_TA1: &str = "X12_TA1_Response_00501X231A1";
/// The response `PayloadType` of an envelope error.
pub const PAYLOAD_ERROR: &str = "CoreEnvelopeError";
/// The one `ProcessingMode` served.
pub const REAL_TIME: &str = "RealTime";
/// The deepest element nesting read.
pub const MAX_DEPTH: usize = 16;
/// The longest value of a field other than `Payload` (characters).
pub const MAX_FIELD_CHARS: usize = 256;

/// A request as received, before its fields are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreRequest {
    /// The fields by [`Field`], as sent (`None` when absent).
    pub fields: [Option<String>; 8],
    /// WS-Security `Username` or the multipart `UserName`.
    pub username: Option<String>,
    /// WS-Security `Password` or the multipart `Password`.
    pub password: Option<String>,
}

impl CoreRequest {
    /// The value sent for `field`.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.fields[index(field)].as_deref()
    }

    /// Sets `field`; an error if it was already set.
    pub fn set(&mut self, field: Field, value: String) -> Result<(), CoreEnvelopeError> {
        let slot = &mut self.fields[index(field)];
        if slot.is_some() {
            return Err(CoreEnvelopeError::malformed(format!(
                "{} appears more than once",
                field.name()
            )));
        }
        *slot = Some(value);
        Ok(())
    }

    /// Checks every field in schema order: the first problem found is the error.
    pub fn check(&self) -> Result<CheckedRequest, CoreEnvelopeError> {
        let present = |f: Field| -> Result<&str, CoreEnvelopeError> {
            match self.get(f).map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(CoreEnvelopeError::required(f)),
            }
        };
        let payload_type = present(Field::PayloadType)?;
        if payload_type != PAYLOAD_278_REQUEST {
            return Err(CoreEnvelopeError::illegal(
                Field::PayloadType,
                format!(
                    "`{}` is not served here; send {PAYLOAD_278_REQUEST}",
                    shown(payload_type)
                ),
            ));
        }
        let mode = present(Field::ProcessingMode)?;
        if mode != REAL_TIME {
            return Err(CoreEnvelopeError::illegal(
                Field::ProcessingMode,
                format!("`{}` is not served here; send {REAL_TIME}", shown(mode)),
            ));
        }
        let payload_id = present(Field::PayloadId)?;
        if !is_uuid(payload_id) {
            return Err(CoreEnvelopeError::illegal(
                Field::PayloadId,
                "not an RFC 4122 UUID (8-4-4-4-12 hexadecimal digits, version 1-5, variant 10xx)",
            ));
        }
        let timestamp = present(Field::TimeStamp)?;
        if !is_xsd_datetime(timestamp) {
            return Err(CoreEnvelopeError::illegal(
                Field::TimeStamp,
                "not an xsd:dateTime (CCYY-MM-DDThh:mm:ss[.s][Z|+hh:mm])",
            ));
        }
        let sender = present(Field::SenderId)?;
        if !is_id(sender) {
            return Err(CoreEnvelopeError::illegal(
                Field::SenderId,
                "1-80 printable characters",
            ));
        }
        let receiver = present(Field::ReceiverId)?;
        if !is_id(receiver) {
            return Err(CoreEnvelopeError::illegal(
                Field::ReceiverId,
                "1-80 printable characters",
            ));
        }
        let version = present(Field::CoreRuleVersion)?;
        if version != CORE_RULE_VERSION {
            return Err(CoreEnvelopeError::new(
                CoreErrorCode::VersionMismatch,
                format!(
                    "CORERuleVersion `{}` is not served here; send {CORE_RULE_VERSION}",
                    shown(version)
                ),
            ));
        }
        let payload = payload_bytes(self.get(Field::Payload).unwrap_or(""));
        if payload.is_empty() {
            return Err(CoreEnvelopeError::required(Field::Payload));
        }
        if !payload.starts_with(b"ISA") {
            return Err(CoreEnvelopeError::illegal(
                Field::Payload,
                "not an X12 interchange (it must begin with ISA)",
            ));
        }
        Ok(CheckedRequest {
            payload_id: payload_id.to_string(),
            sender_id: sender.to_string(),
            receiver_id: receiver.to_string(),
            payload,
        })
    }
}

/// What a checked request carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRequest {
    /// `PayloadID` (a UUID).
    pub payload_id: String,
    /// `SenderID`.
    pub sender_id: String,
    /// `ReceiverID`.
    pub receiver_id: String,
    /// The X12 interchange.
    pub payload: Vec<u8>,
}

fn index(f: Field) -> usize {
    Field::ALL.iter().position(|g| *g == f).unwrap_or(0)
}

/// A value for a message: at most 40 characters, printable ASCII only.
fn shown(v: &str) -> String {
    v.chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The X12 of a `Payload`: leading whitespace dropped, trailing whitespace dropped
/// unless the interchange uses a whitespace segment terminator (ISA byte 106).
fn payload_bytes(text: &str) -> Vec<u8> {
    let t = text.trim_start().as_bytes();
    let terminator_is_space = t.get(105).is_some_and(|b| b.is_ascii_whitespace());
    let end = if terminator_is_space {
        t.len()
    } else {
        t.len()
            - t.iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count()
    };
    t[..end].to_vec()
}

fn is_id(v: &str) -> bool {
    (1..=80).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// Whether `s` is an RFC 4122 UUID: 8-4-4-4-12 hexadecimal digits, version 1 to 5,
/// variant `10xx`.
///
/// ```
/// use gatewayd::daemon::realtime::envelope::is_uuid;
/// assert!(is_uuid("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"));
/// assert!(!is_uuid("f81d4fae-7dec-11d0-c765-00a0c91e6bf6")); // variant
/// assert!(!is_uuid("not-a-uuid"));
/// ```
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    for (i, c) in b.iter().enumerate() {
        let dash = matches!(i, 8 | 13 | 18 | 23);
        if dash != (*c == b'-') || (!dash && !c.is_ascii_hexdigit()) {
            return false;
        }
    }
    matches!(b[14], b'1'..=b'5') && matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
}

/// Whether `s` is an xsd:dateTime: `CCYY-MM-DDThh:mm:ss`, optional fraction, optional
/// `Z` or `±hh:mm`, with a real calendar date.
///
/// ```
/// use gatewayd::daemon::realtime::envelope::is_xsd_datetime;
/// assert!(is_xsd_datetime("2026-12-03T23:45:00Z"));
/// assert!(is_xsd_datetime("2012-11-19T15:58:13"));
/// assert!(is_xsd_datetime("2024-02-29T00:00:00.125-05:00"));
/// assert!(!is_xsd_datetime("2023-02-29T00:00:00Z"));
/// assert!(!is_xsd_datetime("yesterday"));
/// ```
pub fn is_xsd_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 19 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| {
        b[r].iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d.wrapping_sub(b'0')))
    };
    if !(digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let date = [&s[0..4], &s[5..7], &s[8..10]].concat();
    if !x12_core::datetime::is_valid_date(date.as_bytes())
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 59
    {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(r) = rest.strip_prefix(b".") {
        let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') <= 14
                && (m1 - b'0') * 10 + (m2 - b'0') <= 59
        }
        _ => false,
    }
}

/// The current UTC time as an xsd:dateTime, `CCYY-MM-DDThh:mm:ssZ`.
pub fn now_xsd() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d) = x12_core::datetime::civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        (r % 3600) / 60,
        r % 60
    )
}

/// Where the reader is in the SOAP envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Envelope,
    Header,
    /// A header block other than wsse:Security (its content is skipped).
    OtherHeader,
    Security,
    UsernameToken,
    /// A child of UsernameToken other than Username/Password (skipped).
    OtherToken,
    Username,
    Password,
    Body,
    Request,
    Field(Field),
}

fn ns_is(ns: &ResolveResult<'_>, uri: &str) -> bool {
    matches!(ns, ResolveResult::Bound(Namespace(n)) if *n == uri.as_bytes())
}

/// Parses a SOAP 1.2 `COREEnvelopeRealTimeRequest` (see the module documentation). The
/// fields are returned as sent: [`CoreRequest::check`] checks them.
pub fn parse_soap(body: &[u8]) -> Result<CoreRequest, CoreEnvelopeError> {
    let malformed = |m: String| CoreEnvelopeError::malformed(m);
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(false);
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;
    let mut req = CoreRequest::default();
    let mut stack: Vec<Node> = Vec::new();
    let mut text = String::new();
    let (mut seen_root, mut seen_header, mut seen_body, mut seen_request) =
        (false, false, false, false);
    loop {
        let pos = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(format!("not well-formed XML near byte {pos}: {e}")))?;
        match event {
            Event::Start(e) => {
                if matches!(ns, ResolveResult::Unknown(_)) {
                    return Err(malformed(format!(
                        "an element with an undeclared namespace prefix near byte {pos}"
                    )));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed(format!(
                        "elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                let local = e.local_name();
                let name = String::from_utf8_lossy(local.as_ref()).into_owned();
                let core_or_none = ns_is(&ns, CORE_NS) || matches!(ns, ResolveResult::Unbound);
                let next = match stack.last().copied() {
                    None => {
                        if seen_root {
                            return Err(malformed("more than one root element".into()));
                        }
                        seen_root = true;
                        if name != "Envelope" {
                            return Err(malformed(format!(
                                "the root element is `{name}`, not a SOAP 1.2 Envelope"
                            )));
                        }
                        if ns_is(&ns, SOAP11_NS) {
                            return Err(malformed(
                                "a SOAP 1.1 envelope; CORE real-time uses SOAP 1.2 (http://www.w3.org/2003/05/soap-envelope)".into(),
                            ));
                        }
                        if !ns_is(&ns, SOAP12_NS) {
                            return Err(malformed(
                                "the Envelope is not in the SOAP 1.2 namespace".into(),
                            ));
                        }
                        Node::Envelope
                    }
                    Some(Node::Envelope) => match name.as_str() {
                        "Header" if ns_is(&ns, SOAP12_NS) && !seen_header && !seen_body => {
                            seen_header = true;
                            Node::Header
                        }
                        "Body" if ns_is(&ns, SOAP12_NS) && !seen_body => {
                            seen_body = true;
                            Node::Body
                        }
                        _ => {
                            return Err(malformed(format!(
                                "`{name}` where the SOAP Envelope expects one Header then one Body"
                            )))
                        }
                    },
                    Some(Node::Header) => {
                        if name == "Security" && ns_is(&ns, WSSE_NS) {
                            Node::Security
                        } else {
                            Node::OtherHeader
                        }
                    }
                    Some(Node::OtherHeader) => Node::OtherHeader,
                    Some(Node::Security) => {
                        if name == "UsernameToken" && ns_is(&ns, WSSE_NS) {
                            Node::UsernameToken
                        } else {
                            Node::OtherHeader
                        }
                    }
                    Some(Node::UsernameToken) => match name.as_str() {
                        "Username" if ns_is(&ns, WSSE_NS) => {
                            if req.username.is_some() {
                                return Err(malformed("Username appears more than once".into()));
                            }
                            Node::Username
                        }
                        "Password" if ns_is(&ns, WSSE_NS) => {
                            if req.password.is_some() {
                                return Err(malformed("Password appears more than once".into()));
                            }
                            for a in e.attributes() {
                                let a = a.map_err(|e| malformed(format!("an attribute: {e}")))?;
                                if a.key.local_name().as_ref() == b"Type"
                                    && !a.value.ends_with(b"#PasswordText")
                                {
                                    return Err(CoreEnvelopeError::new(
                                        CoreErrorCode::UnAuthorized,
                                        "only PasswordText UsernameTokens are accepted",
                                    ));
                                }
                            }
                            Node::Password
                        }
                        _ => Node::OtherToken,
                    },
                    Some(Node::OtherToken) => Node::OtherToken,
                    Some(Node::Body) => {
                        if seen_request {
                            return Err(malformed(
                                "the SOAP Body holds more than one element".into(),
                            ));
                        }
                        if name != "COREEnvelopeRealTimeRequest" || !ns_is(&ns, CORE_NS) {
                            return Err(malformed(format!(
                                "the SOAP Body holds `{name}`; expected COREEnvelopeRealTimeRequest in {CORE_NS}"
                            )));
                        }
                        seen_request = true;
                        Node::Request
                    }
                    Some(Node::Request) => match Field::from_name(&name) {
                        Some(f) if core_or_none => {
                            if req.get(f).is_some() {
                                return Err(malformed(format!(
                                    "{} appears more than once",
                                    f.name()
                                )));
                            }
                            Node::Field(f)
                        }
                        _ => {
                            return Err(malformed(format!(
                                "`{name}` is not a field of COREEnvelopeRealTimeRequest"
                            )))
                        }
                    },
                    Some(n @ (Node::Field(_) | Node::Username | Node::Password)) => {
                        let what = match n {
                            Node::Field(f) => f.name(),
                            Node::Username => "Username",
                            _ => "Password",
                        };
                        return Err(malformed(format!("an element inside {what}")));
                    }
                };
                text.clear();
                stack.push(next);
            }
            Event::End(_) => {
                match stack.pop() {
                    Some(Node::Field(f)) => req.set(f, std::mem::take(&mut text))?,
                    Some(Node::Username) => req.username = Some(std::mem::take(&mut text)),
                    Some(Node::Password) => req.password = Some(std::mem::take(&mut text)),
                    Some(_) => {}
                    None => return Err(malformed("an end tag without a start".into())),
                }
                text.clear();
            }
            Event::Text(t) => {
                let s = t
                    .decode()
                    .map_err(|e| malformed(format!("text near byte {pos}: {e}")))?;
                take_text(&stack, &mut text, &s)?;
            }
            Event::CData(t) => {
                let s = t
                    .decode()
                    .map_err(|e| malformed(format!("CDATA near byte {pos}: {e}")))?;
                take_text(&stack, &mut text, &s)?;
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().ok_or_else(|| {
                        malformed(format!("a bad character reference near byte {pos}"))
                    })?
                } else {
                    match &*r {
                        b"lt" => '<',
                        b"gt" => '>',
                        b"amp" => '&',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => {
                            return Err(malformed(format!(
                                "an undeclared entity near byte {pos} (no DTD is read)"
                            )))
                        }
                    }
                };
                take_text(&stack, &mut text, c.encode_utf8(&mut [0u8; 4]))?;
            }
            Event::DocType(_) => {
                return Err(malformed("a DTD is not accepted".into()));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Empty(_) => {
                // expand_empty_elements turns these into Start + End
                return Err(malformed("an unexpected empty element".into()));
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() || !seen_root {
        return Err(malformed("the XML ends before the Envelope closes".into()));
    }
    if !seen_body {
        return Err(malformed("the SOAP Envelope has no Body".into()));
    }
    if !seen_request {
        return Err(malformed(
            "the SOAP Body holds no COREEnvelopeRealTimeRequest".into(),
        ));
    }
    Ok(req)
}

/// Keeps text inside a field or credential; anywhere else only whitespace is allowed.
fn take_text(stack: &[Node], text: &mut String, s: &str) -> Result<(), CoreEnvelopeError> {
    match stack.last() {
        Some(Node::Field(f)) => {
            if *f != Field::Payload && text.len() + s.len() > MAX_FIELD_CHARS {
                return Err(CoreEnvelopeError::illegal(
                    *f,
                    format!("longer than {MAX_FIELD_CHARS} characters"),
                ));
            }
            text.push_str(s);
        }
        Some(Node::Username | Node::Password) => {
            if text.len() + s.len() > MAX_FIELD_CHARS {
                return Err(CoreEnvelopeError::new(
                    CoreErrorCode::UnAuthorized,
                    "credentials longer than allowed",
                ));
            }
            text.push_str(s);
        }
        Some(Node::OtherHeader | Node::OtherToken) => {}
        _ if s.trim().is_empty() => {}
        _ => {
            return Err(CoreEnvelopeError::malformed(
                "text outside the envelope's fields",
            ))
        }
    }
    Ok(())
}

/// A real-time response: the request's fields echoed, the payload, the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreResponse {
    /// `PayloadType`: a 278 response, a 999, a TA1 or `CoreEnvelopeError`.
    pub payload_type: String,
    /// `PayloadID`: the request's.
    pub payload_id: String,
    /// `SenderID`: the request's.
    pub sender_id: String,
    /// `ReceiverID`: the request's.
    pub receiver_id: String,
    /// The X12 payload (none for an envelope error).
    pub payload: Option<Vec<u8>>,
    /// `ErrorCode`.
    pub error_code: CoreErrorCode,
    /// `ErrorMessage` (`None` on success).
    pub error_message: String,
    /// `TimeStamp`: when the response was made.
    pub timestamp: String,
}

impl CoreResponse {
    /// The envelope error answering `req` (whatever of its fields could be read).
    pub fn error(req: Option<&CoreRequest>, e: &CoreEnvelopeError) -> CoreResponse {
        let echo = |f: Field| {
            req.and_then(|r| r.get(f))
                .map(|v| shown(v.trim()))
                .unwrap_or_default()
        };
        CoreResponse {
            payload_type: PAYLOAD_ERROR.into(),
            payload_id: echo(Field::PayloadId),
            sender_id: echo(Field::SenderId),
            receiver_id: echo(Field::ReceiverId),
            payload: None,
            error_code: e.code,
            error_message: e.message.clone(),
            timestamp: now_xsd(),
        }
    }

    /// A processed request's response with this payload.
    pub fn success(req: &CheckedRequest, payload_type: &str, payload: Vec<u8>) -> CoreResponse {
        CoreResponse {
            payload_type: payload_type.into(),
            payload_id: req.payload_id.clone(),
            sender_id: req.sender_id.clone(),
            receiver_id: req.receiver_id.clone(),
            payload: Some(payload),
            error_code: CoreErrorCode::Success,
            error_message: "None".into(),
            timestamp: now_xsd(),
        }
    }

    /// The HTTP status of the response.
    pub fn http_status(&self) -> u16 {
        self.error_code.http_status()
    }

    /// The fields in schema order (name, value), `Payload` as text.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("PayloadType", self.payload_type.clone()),
            ("ProcessingMode", REAL_TIME.to_string()),
            ("PayloadID", self.payload_id.clone()),
            ("TimeStamp", self.timestamp.clone()),
            ("SenderID", self.sender_id.clone()),
            ("ReceiverID", self.receiver_id.clone()),
            ("CORERuleVersion", CORE_RULE_VERSION.to_string()),
        ];
        if let Some(p) = &self.payload {
            v.push(("Payload", String::from_utf8_lossy(p).into_owned()));
        }
        v.push(("ErrorCode", self.error_code.as_str().to_string()));
        v.push(("ErrorMessage", self.error_message.clone()));
        v
    }

    /// The SOAP 1.2 `COREEnvelopeRealTimeResponse`.
    pub fn to_soap(&self) -> String {
        let mut s = String::with_capacity(1024 + self.payload.as_ref().map_or(0, Vec::len));
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.push_str(&format!(
            "<soapenv:Envelope xmlns:soapenv=\"{SOAP12_NS}\">\n<soapenv:Body>\n<ns1:COREEnvelopeRealTimeResponse xmlns:ns1=\"{CORE_NS}\">\n"
        ));
        for (name, value) in self.fields() {
            if name == "Payload" {
                s.push_str("<Payload><![CDATA[");
                s.push_str(&xml_chars(&value).replace("]]>", "]]]]><![CDATA[>"));
                s.push_str("]]></Payload>\n");
            } else {
                s.push_str(&format!(
                    "<{name}>{}</{name}>\n",
                    quick_xml::escape::escape(xml_chars(&value).as_str())
                ));
            }
        }
        s.push_str("</ns1:COREEnvelopeRealTimeResponse>\n</soapenv:Body>\n</soapenv:Envelope>\n");
        s
    }
}

/// Text with the characters XML 1.0 cannot carry replaced by `?`.
fn xml_chars(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c < ' ' && !matches!(c, '\t' | '\n' | '\r') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn soap(fields: &str, header: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><soapenv:Envelope xmlns:soapenv=\"{SOAP12_NS}\"><soapenv:Header>{header}</soapenv:Header><soapenv:Body><ns1:COREEnvelopeRealTimeRequest xmlns:ns1=\"{CORE_NS}\">{fields}</ns1:COREEnvelopeRealTimeRequest></soapenv:Body></soapenv:Envelope>"
        )
    }

    const WSSE: &str = "<wsse:Security xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"><wsse:UsernameToken><wsse:Username>demo</wsse:Username><wsse:Password>p&amp;w</wsse:Password></wsse:UsernameToken></wsse:Security>";

    fn fields(payload: &str) -> String {
        format!("<PayloadType>{PAYLOAD_278_REQUEST}</PayloadType><ProcessingMode>RealTime</ProcessingMode><PayloadID>f81d4fae-7dec-11d0-a765-00a0c91e6bf6</PayloadID><TimeStamp>2026-12-03T23:45:00Z</TimeStamp><SenderID>CLEARINGHOUSE</SenderID><ReceiverID>NCMEDICAID</ReceiverID><CORERuleVersion>2.2.0</CORERuleVersion><Payload>{payload}</Payload>")
    }

    #[test]
    fn a_request_parses_and_checks() {
        let r = parse_soap(soap(&fields("\n<![CDATA[ISA*00~]]>\n"), WSSE).as_bytes()).unwrap();
        assert_eq!(r.username.as_deref(), Some("demo"));
        assert_eq!(r.password.as_deref(), Some("p&w"));
        let c = r.check().unwrap();
        assert_eq!(c.payload, b"ISA*00~");
        assert_eq!(c.sender_id, "CLEARINGHOUSE");
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        let code = |s: &str| parse_soap(s.as_bytes()).unwrap_err().code;
        assert_eq!(code("<a>"), CoreErrorCode::EnvelopeMalformed);
        assert_eq!(code(""), CoreErrorCode::EnvelopeMalformed);
        assert_eq!(
            code("<!DOCTYPE x [<!ENTITY e \"boom\">]><x>&e;</x>"),
            CoreErrorCode::EnvelopeMalformed
        );
        let doubled = soap(&format!("{}<PayloadID>x</PayloadID>", fields("ISA")), "");
        assert_eq!(code(&doubled), CoreErrorCode::EnvelopeMalformed);
        let unknown = soap(&format!("{}<Extra>x</Extra>", fields("ISA")), "");
        assert_eq!(code(&unknown), CoreErrorCode::EnvelopeMalformed);
        let soap11 = soap(&fields("ISA"), "").replace(SOAP12_NS, SOAP11_NS);
        assert_eq!(code(&soap11), CoreErrorCode::EnvelopeMalformed);
        let entity = soap(&fields("&foo;"), "");
        assert_eq!(code(&entity), CoreErrorCode::EnvelopeMalformed);
    }

    #[test]
    fn each_missing_field_is_named() {
        for f in Field::ALL {
            let all = fields("<![CDATA[ISA*00~]]>");
            let start = all.find(&format!("<{}>", f.name())).unwrap();
            let end = all.find(&format!("</{}>", f.name())).unwrap() + f.name().len() + 3;
            let without = format!("{}{}", &all[..start], &all[end..]);
            let r = parse_soap(soap(&without, WSSE).as_bytes()).unwrap();
            assert_eq!(r.check().unwrap_err().code, CoreErrorCode::Required(f));
        }
    }

    #[test]
    fn responses_render() {
        let c = CheckedRequest {
            payload_id: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6".into(),
            sender_id: "S&P".into(),
            receiver_id: "R".into(),
            payload: b"ISA]]>~".to_vec(),
        };
        let s = CoreResponse::success(&c, PAYLOAD_278_RESPONSE, c.payload.clone()).to_soap();
        assert!(s.contains("<SenderID>S&amp;P</SenderID>"), "{s}");
        assert!(s.contains("<ErrorCode>Success</ErrorCode>"));
        assert!(s.contains("<![CDATA[ISA]]]]><![CDATA[>~]]>"));
        assert!(is_xsd_datetime(&now_xsd()));
    }
}
