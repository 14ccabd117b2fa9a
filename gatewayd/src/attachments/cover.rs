//! Fax and mail cover sheets for paper attachments (PWK02 = `FX` or `BM`).
//!
//! A cover sheet is one letter-size PDF page that names the item the pages belong to
//! (the PA tracking number or the claim id), the attachment control number (PWK06), the
//! report type (PWK01), the vendor or agency that reviews the item with its fax number
//! and mailing address from the contractor table, and the control number again as a
//! Code 128 barcode, so that whoever opens the envelope or takes the fax can link the
//! pages to the item without typing.
//!
//! The sheet carries nothing else: no member name, no date of birth, no diagnosis.
//!
//! The PDF is written with `pdf-writer` (the standard Helvetica and Courier fonts, no
//! embedded font, an uncompressed content stream); the barcode's modules come from
//! `barcoders` (code set B) and are drawn as filled rectangles, one per bar.

use super::pwk::{AttachmentRef, ItemKind, Transmission};
use crate::route::table::Vendor;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use serde::Serialize;

/// Why a cover sheet could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoverError {
    /// The PWK names no attachment control number (PWK06): nothing would link the pages
    /// to the item.
    #[error("the PWK segment has no attachment control number (PWK06)")]
    NoControlNumber,
    /// The control number cannot be drawn as a Code 128 (code set B) barcode.
    #[error(
        "attachment control number {control:?} cannot be drawn as a Code 128 barcode: {reason}"
    )]
    Barcode {
        /// The control number.
        control: String,
        /// What the encoder said.
        reason: String,
    },
}

/// Everything a cover sheet shows. Built by [`CoverSheet::new`] from a PWK reference
/// and the vendor that holds the item; no other data of the transaction is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverSheet {
    /// A prior-approval request or a claim.
    pub kind: ItemKind,
    /// The PA tracking number (278 2000E TRN02, or BHT03 when there is none) or the
    /// claim id (837 CLM01).
    pub item_number: String,
    /// 278: BHT03, when the item number is the tracking number.
    pub request_id: Option<String>,
    /// PWK06.
    pub control_number: String,
    /// PWK01.
    pub report_type: String,
    /// PWK02.
    pub transmission: Transmission,
    /// PWK02 as written.
    pub transmission_code: String,
    /// Vendor id in the contractor table (`csra`).
    pub vendor_id: String,
    /// Vendor display name.
    pub vendor_name: String,
    /// The vendor's fax number for this kind of item, when the table has one.
    pub fax: Option<String>,
    /// The vendor's mailing address, when the table has one.
    pub mail: Option<String>,
}

/// The fax number and mailing address of `vendor` for an item of `pa_type`: the
/// pharmacy PA fax for `pharmacy`, the non-pharmacy PA fax for anything else, else the
/// vendor's general fax.
pub fn contact(vendor: &Vendor, pa_type: &str) -> (Option<String>, Option<String>) {
    let specific = if pa_type == "pharmacy" {
        vendor.fax_pharmacy_pa.as_ref()
    } else {
        vendor.fax_non_pharmacy_pa.as_ref()
    };
    let fax = specific.or(vendor.fax.as_ref()).cloned();
    (fax, vendor.mail.clone())
}

impl CoverSheet {
    /// The cover sheet of `reference` for `vendor`, which reviews it as PA type
    /// `pa_type`. Fails when the reference has no control number.
    pub fn new(
        reference: &AttachmentRef<'_>,
        vendor: &Vendor,
        pa_type: &str,
    ) -> Result<CoverSheet, CoverError> {
        if reference.control_number.is_empty() {
            return Err(CoverError::NoControlNumber);
        }
        let (fax, mail) = contact(vendor, pa_type);
        let request_id = (reference.kind == ItemKind::PriorApproval
            && !reference.tracking.is_empty()
            && !reference.id.is_empty())
        .then(|| reference.id.to_string());
        Ok(CoverSheet {
            kind: reference.kind,
            item_number: reference.item_number().to_string(),
            request_id,
            control_number: reference.control_number.to_string(),
            report_type: reference.report_type.to_string(),
            transmission: reference.transmission,
            transmission_code: reference.transmission_code.to_string(),
            vendor_id: vendor.id.clone(),
            vendor_name: vendor.name.clone(),
            fax,
            mail,
        })
    }

    /// Whether the table gives the address this attachment's transmission needs (a fax
    /// number for `FX`, a mailing address for `BM`).
    pub fn has_destination(&self) -> bool {
        match self.transmission {
            Transmission::Fax => self.fax.is_some(),
            Transmission::Mail => self.mail.is_some(),
            _ => self.fax.is_some() || self.mail.is_some(),
        }
    }

    /// The one-page PDF.
    pub fn render(&self) -> Result<Vec<u8>, CoverError> {
        let modules = code128_modules(&self.control_number)?;
        Ok(render(self, &modules))
    }
}

/// The modules of the Code 128 (code set B) symbol of `data`: `1` a bar, `0` a space,
/// start code, data, check character and stop pattern included, quiet zones excluded.
pub fn code128_modules(data: &str) -> Result<Vec<u8>, CoverError> {
    let fail = |reason: String| CoverError::Barcode {
        control: data.to_string(),
        reason,
    };
    if data.is_empty() {
        return Err(CoverError::NoControlNumber);
    }
    if let Some(c) = data.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(fail(format!(
            "{c:?} is outside code set B (printable ASCII)"
        )));
    }
    let symbol = barcoders::sym::code128::Code128::new(format!("\u{0181}{data}"))
        .map_err(|e| fail(e.to_string()))?;
    // barcoders writes the stop character and its termination bar together: the
    // 13-module stop pattern 2331112 of ISO/IEC 15417.
    Ok(symbol.encode())
}

/// A file name for the cover sheet of `control_number`: letters, digits, `-`, `_` and
/// `.` kept, anything else replaced by `_`, at most 100 characters, never starting with
/// a dot, with `.pdf` appended.
pub fn file_name(control_number: &str) -> String {
    let mut name: String = control_number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    while name.starts_with('.') {
        name.replace_range(..1, "_");
    }
    if name.is_empty() {
        name.push_str("attachment");
    }
    name.push_str(".pdf");
    name
}

// ---------------------------------------------------------------------------------
// Drawing

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 72.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");
const MONO: Name<'static> = Name(b"F3");

/// Helvetica advance widths (1/1000 em) of the printable ASCII characters 32..=126.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Printable ASCII only (the fonts use WinAnsiEncoding; the table is UTF-8): dashes
/// become `-`, anything else outside 32..=126 becomes `?`.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c,
            '\u{2010}'..='\u{2015}' => '-',
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            _ => '?',
        })
        .collect()
}

fn width(s: &str, size: f32) -> f32 {
    s.bytes()
        .map(|b| {
            let i = usize::from(b.saturating_sub(32));
            f32::from(HELVETICA.get(i).copied().unwrap_or(556))
        })
        .sum::<f32>()
        * size
        / 1000.0
}

/// Breaks `s` into lines no wider than `max` points at `size` (Helvetica), at spaces;
/// a word wider than a line is cut.
fn wrap(s: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if width(&candidate, size) <= max {
            cur = candidate;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if width(&piece, size) > max {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        cur = piece;
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

struct Page {
    content: Content,
    y: f32,
}

impl Page {
    fn text(&mut self, font: Name<'_>, size: f32, x: f32, y: f32, s: &str) {
        self.content
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(ascii(s).as_bytes()))
            .end_text();
    }

    /// A label in small bold type and its value below it, wrapped to the page width.
    fn field(&mut self, label: &str, value: &str) {
        self.text(BOLD, 9.0, MARGIN, self.y, label);
        self.y -= 16.0;
        for line in wrap(&ascii(value), 13.0, PAGE_W - 2.0 * MARGIN) {
            self.text(REGULAR, 13.0, MARGIN, self.y, &line);
            self.y -= 16.0;
        }
        self.y -= 8.0;
    }
}

fn not_in_table(what: &str) -> String {
    format!("no {what} in the contractor table: ask the reviewer before sending")
}

fn render(sheet: &CoverSheet, modules: &[u8]) -> Vec<u8> {
    let mut page = Page {
        content: Content::new(),
        y: PAGE_H - MARGIN,
    };
    let (what, number_label) = match sheet.kind {
        ItemKind::PriorApproval => ("prior approval request", "PA tracking number"),
        ItemKind::Claim => ("claim", "Claim id (CLM01)"),
    };
    page.text(BOLD, 20.0, MARGIN, page.y, "ATTACHMENT COVER SHEET");
    page.y -= 20.0;
    page.text(
        REGULAR,
        11.0,
        MARGIN,
        page.y,
        &format!(
            "NC Medicaid {what} - attachment sent {}",
            sheet.transmission.describe()
        ),
    );
    page.y -= 34.0;

    page.field(number_label, &sheet.item_number);
    if let Some(bht03) = &sheet.request_id {
        page.field("Request (BHT03)", bht03);
    }
    page.field("Attachment control number (PWK06)", &sheet.control_number);
    page.field("Report type (PWK01)", &sheet.report_type);
    page.field(
        "Transmission (PWK02)",
        &format!(
            "{} - {}",
            sheet.transmission_code,
            sheet.transmission.describe()
        ),
    );
    page.field("Reviewer", &sheet.vendor_name);
    let fax = sheet
        .fax
        .clone()
        .unwrap_or_else(|| not_in_table("fax number"));
    let mail = sheet
        .mail
        .clone()
        .unwrap_or_else(|| not_in_table("mailing address"));
    if sheet.transmission == Transmission::Mail {
        page.field("Mail to", &mail);
        page.field("Fax", &fax);
    } else {
        page.field("Fax to", &fax);
        page.field("Mail", &mail);
    }

    // The barcode: a quiet zone of 10 modules on each side, bars as filled rectangles.
    let quiet = 10.0;
    let total = modules.len() as f32 + 2.0 * quiet;
    let module = (1.5f32).min((PAGE_W - 2.0 * MARGIN) / total);
    let bar_h = 60.0;
    let x0 = (PAGE_W - total * module) / 2.0 + quiet * module;
    let y0 = (page.y - bar_h - 10.0).max(150.0);
    page.content.save_state().set_fill_gray(0.0);
    for (start, len) in bars(modules) {
        page.content
            .rect(x0 + start as f32 * module, y0, len as f32 * module, bar_h);
    }
    page.content.fill_nonzero().restore_state();
    let human = ascii(&sheet.control_number);
    let human_w = human.len() as f32 * 0.6 * 12.0; // Courier: 600/1000 em
    page.text(MONO, 12.0, (PAGE_W - human_w) / 2.0, y0 - 16.0, &human);

    let footer = [
        "Put this sheet on top of the attachment's pages and send it with them.",
        "The control number links the pages to the item: send one sheet per control number.",
        "Contact details are those of the contractor table in force when this sheet was made.",
    ];
    let mut y = MARGIN;
    for line in footer.iter().rev() {
        page.text(REGULAR, 9.0, MARGIN, y, line);
        y += 12.0;
    }

    let content = page.content.finish();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let page_id = Ref::new(3);
    let content_id = Ref::new(4);
    let fonts = [
        (REGULAR, Ref::new(5), Name(b"Helvetica".as_slice())),
        (BOLD, Ref::new(6), Name(b"Helvetica-Bold".as_slice())),
        (MONO, Ref::new(7), Name(b"Courier".as_slice())),
    ];
    let info = Ref::new(8);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    {
        let mut p = pdf.page(page_id);
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(content_id);
        let mut resources = p.resources();
        let mut f = resources.fonts();
        for (name, id, _) in fonts {
            f.pair(name, id);
        }
        f.finish();
        resources.finish();
        p.finish();
    }
    for (_, id, base) in fonts {
        pdf.type1_font(id)
            .base_font(base)
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.stream(content_id, &content);
    let title = format!("Attachment cover sheet {}", ascii(&sheet.control_number));
    pdf.document_info(info)
        .title(TextStr(&title))
        .producer(TextStr("ncx12 gatewayd"));
    pdf.finish()
}

/// Runs of bars: (first module, width in modules).
fn bars(modules: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, &m) in modules.iter().enumerate() {
        if m == 0 {
            continue;
        }
        match out.last_mut() {
            Some((start, len)) if *start + *len == i => *len += 1,
            _ => out.push((i, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachments::pwk::Transmission;

    fn vendor() -> Vendor {
        crate::route::Table::bundled()
            .expect("bundled table")
            .vendor("csra")
            .expect("csra")
            .clone()
    }

    fn reference(transmission: &'static str, control: &'static str) -> AttachmentRef<'static> {
        AttachmentRef {
            kind: ItemKind::PriorApproval,
            item: 0,
            id: "PA0001",
            tracking: "PA0001EV",
            loop_id: "2000E",
            line: None,
            position: 17,
            report_type: "77",
            transmission_code: transmission,
            transmission: Transmission::from_code(transmission),
            control_number: control,
        }
    }

    /// Code 128 patterns (ISO/IEC 15417 table 1), as bar/space widths.
    fn widths(modules: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut run = 0;
        let mut cur = modules.first().copied().unwrap_or(1);
        for &m in modules {
            if m == cur {
                run += 1;
            } else {
                out.push(run);
                cur = m;
                run = 1;
            }
        }
        out.push(run);
        out
    }

    #[test]
    fn code128_has_start_b_check_and_stop() {
        // "AB": values 33, 34; check = (104 + 33*1 + 34*2) % 103 = 102 (FNC1 pattern)
        let m = code128_modules("AB").expect("encodes");
        assert_eq!(m.len(), 11 * 4 + 13);
        let w = widths(&m);
        assert_eq!(&w[..6], &[2, 1, 1, 2, 1, 4], "start B");
        assert_eq!(&w[6..12], &[1, 1, 1, 3, 2, 3], "A (33)");
        assert_eq!(&w[12..18], &[1, 3, 1, 1, 2, 3], "B (34)");
        assert_eq!(&w[18..24], &[4, 1, 1, 1, 3, 1], "check 102");
        assert_eq!(&w[24..], &[2, 3, 3, 1, 1, 1, 2], "stop");
    }

    #[test]
    fn code128_refuses_what_set_b_cannot_carry() {
        assert_eq!(code128_modules(""), Err(CoverError::NoControlNumber));
        let err = code128_modules("ATT\u{e9}1").expect_err("non-ASCII");
        assert!(err.to_string().contains("outside code set B"), "{err}");
    }

    #[test]
    fn bars_drawn_are_the_symbol() {
        let m = code128_modules("ATT0001").expect("encodes");
        let mut back = vec![0u8; m.len()];
        for (start, len) in bars(&m) {
            back[start..start + len].fill(1);
        }
        assert_eq!(back, m);
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("ATT0001"), "ATT0001.pdf");
        assert_eq!(file_name("../etc/passwd"), "_._etc_passwd.pdf");
        assert_eq!(file_name("a b/c\\d:e"), "a_b_c_d_e.pdf");
        assert_eq!(file_name(""), "attachment.pdf");
        assert_eq!(file_name(&"9".repeat(300)).len(), 104);
    }

    #[test]
    fn contact_picks_the_fax_for_the_pa_type() {
        let v = vendor();
        assert_eq!(contact(&v, "dme").0.as_deref(), Some("855-710-1964"));
        assert_eq!(contact(&v, "pharmacy").0.as_deref(), Some("855-710-1969"));
        assert!(contact(&v, "dme")
            .1
            .is_some_and(|m| m.contains("P.O. Box 31188")));
    }

    #[test]
    fn a_sheet_needs_a_control_number() {
        let v = vendor();
        assert_eq!(
            CoverSheet::new(&reference("FX", ""), &v, "dme"),
            Err(CoverError::NoControlNumber)
        );
        let s = CoverSheet::new(&reference("BM", "ATT0001"), &v, "dme").expect("sheet");
        assert_eq!(s.item_number, "PA0001EV");
        assert_eq!(s.request_id.as_deref(), Some("PA0001"));
        assert!(s.has_destination());
        let pdf = s.render().expect("renders");
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("(ATT0001) Tj"));
        assert!(text.contains(" re\n"));
    }

    #[test]
    fn wrapping_keeps_lines_inside_the_page() {
        let long = "Prior Approval Requests, P.O. Box 31188, Raleigh, NC 27622-1188 and more words";
        let lines = wrap(long, 13.0, 200.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| width(l, 13.0) <= 200.0));
        assert_eq!(lines.join(" "), long);
        assert_eq!(wrap("", 13.0, 100.0), vec![String::new()]);
    }
}
