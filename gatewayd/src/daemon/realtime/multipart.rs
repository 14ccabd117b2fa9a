//! The CORE real-time envelope as MIME `multipart/form-data` (HTTP+MIME, the other
//! envelope CORE Phase II allows): one part per field, named like the SOAP elements
//! (`PayloadType`, `ProcessingMode`, `PayloadID`, `TimeStamp`, `SenderID`,
//! `ReceiverID`, `CORERuleVersion`, `Payload`), plus `UserName` and `Password` for the
//! credentials. The response is multipart/form-data too, with the same parts and
//! `ErrorCode` / `ErrorMessage`.
//!
//! The body is parsed with `multer` from memory (the caller has read it, bounded), each
//! part at most the body's size; an unknown or repeated part is `EnvelopeMalformed`.

use super::envelope::{CoreRequest, CoreResponse};
use super::errors::{CoreEnvelopeError, CoreErrorCode, Field};
use futures_util::FutureExt;

/// The credentials' part names.
pub const USERNAME_PART: &str = "UserName";
/// The password's part name.
pub const PASSWORD_PART: &str = "Password";
/// The most parts read.
pub const MAX_PARTS: usize = 16;

/// Parses a multipart/form-data body whose `Content-Type` header is `content_type`.
/// The fields are returned as sent: [`CoreRequest::check`] checks them.
pub fn parse_form(content_type: &str, body: &[u8]) -> Result<CoreRequest, CoreEnvelopeError> {
    let malformed = CoreEnvelopeError::malformed;
    let mime = content_type.trim().to_ascii_lowercase();
    if !mime.starts_with("multipart/form-data") {
        return Err(malformed(format!(
            "Content-Type `{}` is not multipart/form-data",
            content_type.chars().take(60).collect::<String>()
        )));
    }
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| malformed(format!("multipart boundary: {e}")))?;
    let limit = body.len() as u64 + 1;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limit)
            .per_field(limit),
    );
    let data = bytes_of(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(data) });
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut req = CoreRequest::default();
    let mut parts = 0usize;
    loop {
        // the whole body is in memory: every future is ready when first polled
        let next = form
            .next_field()
            .now_or_never()
            .ok_or_else(|| malformed("the multipart body is incomplete".into()))?
            .map_err(|e| malformed(format!("multipart: {e}")))?;
        let Some(field) = next else { break };
        parts += 1;
        if parts > MAX_PARTS {
            return Err(malformed(format!("more than {MAX_PARTS} parts")));
        }
        let name = field.name().unwrap_or_default().to_string();
        let value = field
            .bytes()
            .now_or_never()
            .ok_or_else(|| malformed("the multipart body is incomplete".into()))?
            .map_err(|e| malformed(format!("multipart part `{}`: {e}", shown(&name))))?;
        let text = String::from_utf8(value.to_vec())
            .map_err(|_| malformed(format!("part `{}` is not UTF-8 text", shown(&name))))?;
        match name.as_str() {
            USERNAME_PART | PASSWORD_PART => {
                let slot = if name == USERNAME_PART {
                    &mut req.username
                } else {
                    &mut req.password
                };
                if slot.is_some() {
                    return Err(malformed(format!("{name} appears more than once")));
                }
                if text.len() > super::envelope::MAX_FIELD_CHARS {
                    return Err(CoreEnvelopeError::new(
                        CoreErrorCode::UnAuthorized,
                        "credentials longer than allowed",
                    ));
                }
                *slot = Some(text);
            }
            n => match Field::from_name(n) {
                Some(f) => {
                    if f != Field::Payload && text.len() > super::envelope::MAX_FIELD_CHARS {
                        return Err(CoreEnvelopeError::illegal(
                            f,
                            format!(
                                "longer than {} characters",
                                super::envelope::MAX_FIELD_CHARS
                            ),
                        ));
                    }
                    req.set(f, text)?;
                }
                None => {
                    return Err(malformed(format!(
                        "`{}` is not a part of the CORE real-time form",
                        shown(n)
                    )))
                }
            },
        }
    }
    if parts == 0 {
        return Err(malformed("the multipart body has no parts".into()));
    }
    Ok(req)
}

fn bytes_of(body: &[u8]) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(body)
}

fn shown(v: &str) -> String {
    v.chars()
        .take(40)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// The multipart/form-data form of a response: its `Content-Type` and body.
pub fn render(resp: &CoreResponse) -> (String, Vec<u8>) {
    use sha2::Digest;
    let seed = format!(
        "{}{}{}",
        resp.payload_id,
        resp.timestamp,
        super::super::store::now_ms()
    );
    let boundary = format!(
        "ncx12-core-{}",
        &super::super::config::hex(&sha2::Sha256::digest(seed.as_bytes()))[..32]
    );
    let mut out = Vec::with_capacity(1024 + resp.payload.as_ref().map_or(0, Vec::len));
    for (name, value) in resp.fields() {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        if name == "Payload" {
            out.extend_from_slice(resp.payload.as_deref().unwrap_or_default());
        } else {
            out.extend_from_slice(value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        for (n, v) in parts {
            b.extend_from_slice(
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        b.extend_from_slice(b"--XyZ--\r\n");
        b
    }

    #[test]
    fn a_form_parses_and_renders() {
        let body = form(&[
            ("PayloadType", super::super::envelope::PAYLOAD_278_REQUEST),
            ("ProcessingMode", "RealTime"),
            ("PayloadID", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
            ("TimeStamp", "2026-12-03T23:45:00Z"),
            ("SenderID", "S"),
            ("ReceiverID", "R"),
            ("CORERuleVersion", "2.2.0"),
            ("UserName", "demo"),
            ("Password", "pw"),
            ("Payload", "ISA*00~"),
        ]);
        let r = parse_form("multipart/form-data; boundary=XyZ", &body).unwrap();
        assert_eq!(r.password.as_deref(), Some("pw"));
        let c = r.check().unwrap();
        assert_eq!(c.payload, b"ISA*00~");
        let (ct, out) = render(&CoreResponse::success(&c, "X", c.payload.clone()));
        let back = String::from_utf8(out).unwrap();
        assert!(ct.starts_with("multipart/form-data; boundary=ncx12-core-"));
        assert!(
            back.contains("name=\"ErrorCode\"\r\n\r\nSuccess\r\n"),
            "{back}"
        );
    }

    #[test]
    fn bad_forms_are_refused() {
        let code = |ct: &str, b: &[u8]| parse_form(ct, b).unwrap_err().code;
        let m = CoreErrorCode::EnvelopeMalformed;
        assert_eq!(code("text/plain", b"x"), m);
        assert_eq!(code("multipart/form-data", b"x"), m);
        assert_eq!(code("multipart/form-data; boundary=XyZ", b"garbage"), m);
        let twice = form(&[("PayloadID", "a"), ("PayloadID", "b")]);
        assert_eq!(code("multipart/form-data; boundary=XyZ", &twice), m);
        let unknown = form(&[("Other", "a")]);
        assert_eq!(code("multipart/form-data; boundary=XyZ", &unknown), m);
    }
}
