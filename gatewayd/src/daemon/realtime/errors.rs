//! The envelope error codes of the real-time endpoints, in one table.
//!
//! CAQH CORE connectivity (Phase II, rule 270, "CAQH CORE Connectivity Rule vC2.2.0",
//! mirrored at <https://docslib.org/doc/4139640/caqh-core-connectivity-rule-vc2-2-0>;
//! CAQH's FAQ on it: <https://www.caqh.org/faq-page/520>) reports
//! envelope problems in the response's `ErrorCode` / `ErrorMessage`, with the
//! `PayloadType` `CoreEnvelopeError` (the same spelling the HHS CONNECT gateway uses in
//! its `COREEnvelopeRealTimeResponse` error helper: <https://github.com/CONNECT-Solution/CONNECT>,
//! `gov.hhs.fha.nhinc.corex12.docsubmission.realtime.Response.helper.ResponseHelper`), and
//! `Success` / `None` when the envelope was processed. The codes below follow the
//! field-named pattern (`<Field>Required`, `<Field>Illegal`, plus `VersionMismatch`
//! and `UnAuthorized`); the rule's complete list could not be read in the public
//! copies found, so the spellings are kept here, in one table, easy to correct. The last rows (`EnvelopeMalformed`,
//! `PayloadTooLarge`, `ServerError`, `RequestTimedOut`) are this gateway's own.
//!
//! | code | HTTP | when |
//! |---|---|---|
//! | `Success` | 200 | the envelope was processed (the payload may still be a TA1/999 rejecting the X12) |
//! | `<Field>Required` | 400 | a required field is missing or empty: `PayloadTypeRequired`, `ProcessingModeRequired`, `PayloadIDRequired`, `TimeStampRequired`, `SenderIDRequired`, `ReceiverIDRequired`, `CORERuleVersionRequired`, `PayloadRequired` |
//! | `<Field>Illegal` | 400 | a field's value is not allowed: `PayloadTypeIllegal` (not `X12_278_Request_005010X217E1_2`), `ProcessingModeIllegal` (not `RealTime`), `PayloadIDIllegal` (not an RFC 4122 UUID), `TimeStampIllegal` (not an xsd:dateTime), `SenderIDIllegal`, `ReceiverIDIllegal` (1-80 printable characters), `PayloadIllegal` (not an X12 interchange) |
//! | `VersionMismatch` | 400 | `CORERuleVersion` is not `2.2.0` |
//! | `UnAuthorized` | 401 | no, unknown or wrong credentials (WS-Security UsernameToken, or the `UserName`/`Password` parts) |
//! | `EnvelopeMalformed` | 400 | not well-formed XML, a DTD, not a SOAP 1.2 envelope, an unknown or repeated element, an unreadable multipart body |
//! | `PayloadTooLarge` | 413 | the body is over `realtime.max_body_bytes` |
//! | `RequestTimedOut` | 503 | no answer could be given in time (the request is kept and processed; its outcome goes to the outbox) |
//! | `ServerError` | 500 | the gateway failed (store, disk) |

use std::fmt;

/// An envelope error code (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreErrorCode {
    /// The envelope was processed.
    Success,
    /// A required field is missing or empty.
    Required(Field),
    /// A field's value is not allowed.
    Illegal(Field),
    /// `CORERuleVersion` is not the supported one.
    VersionMismatch,
    /// Missing or wrong credentials.
    UnAuthorized,
    /// The body is not a readable envelope.
    EnvelopeMalformed,
    /// The body is over the size limit.
    PayloadTooLarge,
    /// No answer in time.
    RequestTimedOut,
    /// The gateway failed.
    ServerError,
}

/// The fields of a CORE real-time envelope, in their schema order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `PayloadType`.
    PayloadType,
    /// `ProcessingMode`.
    ProcessingMode,
    /// `PayloadID`.
    PayloadId,
    /// `TimeStamp`.
    TimeStamp,
    /// `SenderID`.
    SenderId,
    /// `ReceiverID`.
    ReceiverId,
    /// `CORERuleVersion`.
    CoreRuleVersion,
    /// `Payload`.
    Payload,
}

impl Field {
    /// Every field, in schema order.
    pub const ALL: [Field; 8] = [
        Field::PayloadType,
        Field::ProcessingMode,
        Field::PayloadId,
        Field::TimeStamp,
        Field::SenderId,
        Field::ReceiverId,
        Field::CoreRuleVersion,
        Field::Payload,
    ];

    /// The element (and form part) name.
    pub fn name(self) -> &'static str {
        match self {
            Field::PayloadType => "PayloadType",
            Field::ProcessingMode => "ProcessingMode",
            Field::PayloadId => "PayloadID",
            Field::TimeStamp => "TimeStamp",
            Field::SenderId => "SenderID",
            Field::ReceiverId => "ReceiverID",
            Field::CoreRuleVersion => "CORERuleVersion",
            Field::Payload => "Payload",
        }
    }

    /// The field with this element name.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl CoreErrorCode {
    /// The `ErrorCode` text.
    pub fn as_str(self) -> &'static str {
        match self {
            CoreErrorCode::Success => "Success",
            CoreErrorCode::Required(f) => match f {
                Field::PayloadType => "PayloadTypeRequired",
                Field::ProcessingMode => "ProcessingModeRequired",
                Field::PayloadId => "PayloadIDRequired",
                Field::TimeStamp => "TimeStampRequired",
                Field::SenderId => "SenderIDRequired",
                Field::ReceiverId => "ReceiverIDRequired",
                Field::CoreRuleVersion => "CORERuleVersionRequired",
                Field::Payload => "PayloadRequired",
            },
            CoreErrorCode::Illegal(f) => match f {
                Field::PayloadType => "PayloadTypeIllegal",
                Field::ProcessingMode => "ProcessingModeIllegal",
                Field::PayloadId => "PayloadIDIllegal",
                Field::TimeStamp => "TimeStampIllegal",
                Field::SenderId => "SenderIDIllegal",
                Field::ReceiverId => "ReceiverIDIllegal",
                Field::CoreRuleVersion => "VersionMismatch",
                Field::Payload => "PayloadIllegal",
            },
            CoreErrorCode::VersionMismatch => "VersionMismatch",
            CoreErrorCode::UnAuthorized => "UnAuthorized",
            CoreErrorCode::EnvelopeMalformed => "EnvelopeMalformed",
            CoreErrorCode::PayloadTooLarge => "PayloadTooLarge",
            CoreErrorCode::RequestTimedOut => "RequestTimedOut",
            CoreErrorCode::ServerError => "ServerError",
        }
    }

    /// The HTTP status the code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            CoreErrorCode::Success => 200,
            CoreErrorCode::Required(_)
            | CoreErrorCode::Illegal(_)
            | CoreErrorCode::VersionMismatch
            | CoreErrorCode::EnvelopeMalformed => 400,
            CoreErrorCode::UnAuthorized => 401,
            CoreErrorCode::PayloadTooLarge => 413,
            CoreErrorCode::ServerError => 500,
            CoreErrorCode::RequestTimedOut => 503,
        }
    }
}

impl fmt::Display for CoreErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An envelope the gateway refused: the code and a message a person can act on. It is
/// answered as a `COREEnvelopeRealTimeResponse` with `PayloadType` `CoreEnvelopeError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CoreEnvelopeError {
    /// The `ErrorCode`.
    pub code: CoreErrorCode,
    /// The `ErrorMessage`.
    pub message: String,
}

impl CoreEnvelopeError {
    /// An error with this code and message.
    pub fn new(code: CoreErrorCode, message: impl Into<String>) -> Self {
        CoreEnvelopeError {
            code,
            message: message.into(),
        }
    }

    /// `EnvelopeMalformed` with this message.
    pub fn malformed(message: impl Into<String>) -> Self {
        CoreEnvelopeError::new(CoreErrorCode::EnvelopeMalformed, message)
    }

    /// `<Field>Required`.
    pub fn required(field: Field) -> Self {
        CoreEnvelopeError::new(
            CoreErrorCode::Required(field),
            format!("{} is required", field.name()),
        )
    }

    /// `<Field>Illegal` with the reason.
    pub fn illegal(field: Field, why: impl fmt::Display) -> Self {
        CoreEnvelopeError::new(
            CoreErrorCode::Illegal(field),
            format!("{}: {why}", field.name()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_field_named() {
        assert_eq!(
            CoreErrorCode::Required(Field::PayloadId).as_str(),
            "PayloadIDRequired"
        );
        assert_eq!(
            CoreErrorCode::Illegal(Field::ProcessingMode).as_str(),
            "ProcessingModeIllegal"
        );
        assert_eq!(CoreErrorCode::UnAuthorized.http_status(), 401);
        assert_eq!(CoreErrorCode::PayloadTooLarge.http_status(), 413);
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.name()), Some(f));
            assert!(CoreErrorCode::Required(f).as_str().starts_with(f.name()));
        }
    }
}
