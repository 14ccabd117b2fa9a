//! The content type of an uploaded attachment, from its bytes.
//!
//! Only the formats a reviewer can open are taken: PDF, TIFF, JPEG and PNG. The type is
//! read from the file's magic bytes, never from its name or a declared MIME type: a
//! `scan.pdf` that is really an executable is refused, and a `notes.txt` that is really a
//! PNG is a PNG.
//!
//! ```
//! use gatewayd::attachments::{sniff, ContentType, SniffError};
//! let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
//! assert_eq!(sniff(&png, 1 << 20), Ok(ContentType::Png));
//! assert!(matches!(sniff(b"MZ\x90\x00", 1 << 20), Err(SniffError::Unsupported { .. })));
//! assert!(matches!(sniff(&png, 8), Err(SniffError::TooLarge { .. })));
//! ```

use serde::Serialize;

/// An accepted attachment format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// PDF (`%PDF-`).
    Pdf,
    /// TIFF, little-endian (`II*\0`) or big-endian (`MM\0*`).
    Tiff,
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
}

impl ContentType {
    /// The MIME type (`application/pdf`, `image/tiff`, `image/jpeg`, `image/png`).
    pub fn mime(self) -> &'static str {
        match self {
            ContentType::Pdf => "application/pdf",
            ContentType::Tiff => "image/tiff",
            ContentType::Jpeg => "image/jpeg",
            ContentType::Png => "image/png",
        }
    }

    /// The usual file extension, without the dot (`pdf`, `tif`, `jpg`, `png`), for
    /// naming a stored copy.
    pub fn extension(self) -> &'static str {
        match self {
            ContentType::Pdf => "pdf",
            ContentType::Tiff => "tif",
            ContentType::Jpeg => "jpg",
            ContentType::Png => "png",
        }
    }
}

/// Why an attachment's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    /// No bytes at all.
    #[error("the attachment is empty")]
    Empty,
    /// Larger than the limit.
    #[error("the attachment is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// Not PDF, TIFF, JPEG or PNG. `head` is the first bytes, in hex, to help a partner
    /// see what was sent.
    #[error("the attachment is not a PDF, TIFF, JPEG or PNG file (it starts with {head})")]
    Unsupported {
        /// Up to the first 8 bytes, in hex.
        head: String,
    },
}

const SIGNATURES: [(&[u8], ContentType); 5] = [
    (b"%PDF-", ContentType::Pdf),
    (b"II*\0", ContentType::Tiff),
    (b"MM\0*", ContentType::Tiff),
    (&[0xFF, 0xD8, 0xFF], ContentType::Jpeg),
    (
        &[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
        ContentType::Png,
    ),
];

/// The content type of `bytes`, which must be at most `limit` bytes long.
pub fn sniff(bytes: &[u8], limit: u64) -> Result<ContentType, SniffError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limit {
        return Err(SniffError::TooLarge { size, limit });
    }
    sniff_head(bytes)
}

/// The content type of a file from its first bytes (at least 8 should be given when
/// the file has them), with no size check: for a caller that streams the body and
/// counts its size itself.
pub fn sniff_head(head: &[u8]) -> Result<ContentType, SniffError> {
    if head.is_empty() {
        return Err(SniffError::Empty);
    }
    SIGNATURES
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|&(_, t)| t)
        .ok_or_else(|| SniffError::Unsupported {
            head: head
                .iter()
                .take(8)
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(" "),
        })
}

#[cfg(test)]
mod tests {
    //! Real, minimal files of each format, built here, each under a name that lies.

    use super::*;

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
        !crc
    }

    fn adler32(bytes: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in bytes {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A valid 1x1 white grayscale PNG (zlib stream with one stored block).
    pub(super) fn png() -> Vec<u8> {
        let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        let ihdr = [0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0];
        chunk(&mut out, b"IHDR", &ihdr);
        let raw = [0u8, 0xFF]; // filter type 0, one white pixel
        let mut z = vec![0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF];
        z.extend_from_slice(&raw);
        z.extend_from_slice(&adler32(&raw).to_be_bytes());
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    /// A valid 8x8 grayscale baseline JPEG: one block, every coefficient zero.
    pub(super) fn jpeg() -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        // APP0 JFIF
        out.extend_from_slice(&[
            0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
            0x00, 0x01, 0x00, 0x00,
        ]);
        // DQT: table 0, all ones
        out.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
        out.extend_from_slice(&[1u8; 64]);
        // SOF0: 8 bits, 8x8, one component (id 1, 1x1 sampling, table 0)
        out.extend_from_slice(&[
            0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00,
        ]);
        // DHT DC table 0: one code of length 1 for category 0
        out.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x00, 0x01]);
        out.extend_from_slice(&[0u8; 15]);
        out.push(0x00);
        // DHT AC table 0: one code of length 1 for EOB (0x00)
        out.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x10, 0x01]);
        out.extend_from_slice(&[0u8; 15]);
        out.push(0x00);
        // SOS: one component, tables 0/0, spectral 0-63
        out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
        // DC diff 0 (code '0'), EOB (code '0'), padded with ones
        out.push(0b0011_1111);
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    /// A valid 1x1 bilevel TIFF, little- or big-endian.
    pub(super) fn tiff(big_endian: bool) -> Vec<u8> {
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(if big_endian { b"MM" } else { b"II" });
        out.extend_from_slice(&u16b(42));
        out.extend_from_slice(&u32b(8));
        // (tag, type SHORT=3 / LONG=4, value)
        let entries: [(u16, u16, u32); 8] = [
            (256, 3, 1),   // ImageWidth
            (257, 3, 1),   // ImageLength
            (259, 3, 1),   // Compression: none
            (262, 3, 0),   // Photometric: white is zero
            (273, 4, 110), // StripOffsets
            (278, 3, 1),   // RowsPerStrip
            (279, 4, 1),   // StripByteCounts
            (258, 3, 1),   // BitsPerSample
        ];
        let mut sorted = entries;
        sorted.sort_by_key(|e| e.0);
        out.extend_from_slice(&u16b(sorted.len() as u16));
        for (tag, ty, value) in sorted {
            out.extend_from_slice(&u16b(tag));
            out.extend_from_slice(&u16b(ty));
            out.extend_from_slice(&u32b(1));
            if ty == 3 {
                out.extend_from_slice(&u16b(value as u16));
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&u32b(value));
            }
        }
        out.extend_from_slice(&u32b(0)); // no next IFD
        assert_eq!(out.len(), 8 + 2 + 8 * 12 + 4);
        out.push(0x00); // the pixel, at offset 110
        out
    }

    /// A valid one-page PDF with a correct cross-reference table.
    pub(super) fn pdf() -> Vec<u8> {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
        ];
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for off in offsets {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    /// A file as an upload would carry it: a name (which must not matter) and bytes.
    struct Upload {
        name: &'static str,
        bytes: Vec<u8>,
    }

    #[test]
    fn each_format_is_recognised_whatever_its_name() {
        let cases = [
            (
                Upload {
                    name: "lab-results.txt",
                    bytes: pdf(),
                },
                ContentType::Pdf,
            ),
            (
                Upload {
                    name: "xray.png",
                    bytes: tiff(false),
                },
                ContentType::Tiff,
            ),
            (
                Upload {
                    name: "scan.pdf",
                    bytes: tiff(true),
                },
                ContentType::Tiff,
            ),
            (
                Upload {
                    name: "photo.tiff",
                    bytes: jpeg(),
                },
                ContentType::Jpeg,
            ),
            (
                Upload {
                    name: "notes.jpg",
                    bytes: png(),
                },
                ContentType::Png,
            ),
        ];
        for (upload, want) in cases {
            assert_eq!(
                sniff(&upload.bytes, 1 << 20),
                Ok(want),
                "{} ({} bytes)",
                upload.name,
                upload.bytes.len()
            );
        }
    }

    #[test]
    fn a_name_never_makes_a_file_acceptable() {
        let lying = [
            Upload {
                name: "plan-of-care.pdf",
                bytes: b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec(),
            },
            Upload {
                name: "cmn.png",
                bytes: b"PK\x03\x04\x14\x00\x06\x00".to_vec(),
            },
            Upload {
                name: "xray.jpg",
                bytes: b"GIF89a\x01\x00\x01\x00".to_vec(),
            },
            Upload {
                name: "scan.tif",
                bytes: b"<html><body>".to_vec(),
            },
            Upload {
                name: "letter.pdf",
                bytes: b"%PD".to_vec(),
            },
        ];
        for upload in lying {
            let err = sniff(&upload.bytes, 1 << 20).expect_err(upload.name);
            assert!(
                matches!(err, SniffError::Unsupported { .. }),
                "{}: {err:?}",
                upload.name
            );
            assert!(err.to_string().contains("not a PDF, TIFF, JPEG or PNG"));
        }
        let err = sniff(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", 100).expect_err("exe");
        assert_eq!(err.to_string(), "the attachment is not a PDF, TIFF, JPEG or PNG file (it starts with 4D 5A 90 00 03 00 00 00)");
    }

    #[test]
    fn the_size_limit_is_checked_first_and_inclusive() {
        let file = png();
        let n = file.len() as u64;
        assert_eq!(sniff(&file, n), Ok(ContentType::Png));
        assert_eq!(
            sniff(&file, n - 1),
            Err(SniffError::TooLarge {
                size: n,
                limit: n - 1
            })
        );
        let mut big_lie = vec![0u8; 4096];
        big_lie[..5].copy_from_slice(b"%PDF-");
        assert!(matches!(
            sniff(&big_lie, 1024),
            Err(SniffError::TooLarge { size: 4096, .. })
        ));
    }

    #[test]
    fn empty_and_truncated_inputs_are_refused() {
        assert_eq!(sniff(b"", 10), Err(SniffError::Empty));
        for cut in [
            &[0xFF, 0xD8][..],
            b"II*",
            b"MM\0",
            &[0x89, b'P', b'N', b'G'],
        ] {
            assert!(matches!(
                sniff(cut, 10),
                Err(SniffError::Unsupported { .. })
            ));
        }
    }

    #[test]
    fn mime_types_and_extensions() {
        assert_eq!(ContentType::Pdf.mime(), "application/pdf");
        assert_eq!(ContentType::Tiff.extension(), "tif");
        assert_eq!(ContentType::Jpeg.mime(), "image/jpeg");
        assert_eq!(ContentType::Png.extension(), "png");
    }
}
