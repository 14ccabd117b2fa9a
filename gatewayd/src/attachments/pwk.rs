//! PWK attachment references of 278 requests and 837 claims: where each one sits (the
//! request or claim, the loop, the segment), its report type (PWK01), transmission code
//! (PWK02) and attachment control number (PWK06).
//!
//! The references borrow the transaction set, like the typed views they come from
//! ([`x12_278::Event::attachments`], [`x12_278::Service::attachments`],
//! [`x12_837::Claim::attachments`], [`x12_837::Line::attachments`]).

use serde::Serialize;
use x12_core::schema::{text, Guide, LoopRef};

/// PWK02, how the submitter sends the attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Transmission {
    /// `EL`: electronically only (a 275, or an upload to the gateway).
    Electronic,
    /// `FX`: by fax.
    Fax,
    /// `BM`: by mail.
    Mail,
    /// `FT`: by file transfer.
    FileTransfer,
    /// `EM`: by e-mail.
    Email,
    /// `AA`: available on request at the provider site.
    AvailableOnRequest,
    /// Any other code (the 278 request guide also allows `VO`, voice).
    Other,
}

impl Transmission {
    /// The transmission of a PWK02 code.
    pub fn from_code(code: &str) -> Transmission {
        match code {
            "EL" => Transmission::Electronic,
            "FX" => Transmission::Fax,
            "BM" => Transmission::Mail,
            "FT" => Transmission::FileTransfer,
            "EM" => Transmission::Email,
            "AA" => Transmission::AvailableOnRequest,
            _ => Transmission::Other,
        }
    }

    /// Whether the attachment travels on paper (fax or mail) and so needs a cover sheet.
    pub fn needs_cover_sheet(self) -> bool {
        matches!(self, Transmission::Fax | Transmission::Mail)
    }

    /// A short description for people (`by fax`, `by mail`...).
    pub fn describe(self) -> &'static str {
        match self {
            Transmission::Electronic => "electronically",
            Transmission::Fax => "by fax",
            Transmission::Mail => "by mail",
            Transmission::FileTransfer => "by file transfer",
            Transmission::Email => "by e-mail",
            Transmission::AvailableOnRequest => "available on request",
            Transmission::Other => "other",
        }
    }
}

/// What kind of item cites the attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A 278 prior-approval request (one patient event, 2000E).
    PriorApproval,
    /// An 837 claim (2300).
    Claim,
}

/// One PWK segment of a 278 request or an 837 claim.
///
/// Stable serde field names: `kind`, `item`, `id`, `tracking`, `loop_id`, `line`, `position`,
/// `report_type`, `transmission_code`, `transmission`, `control_number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AttachmentRef<'a> {
    /// A prior-approval request or a claim.
    pub kind: ItemKind,
    /// The item's index in its transaction set, 0-based: the patient event (2000E) of
    /// a 278 or the claim (2300) of an 837, in the order [`crate::route::route_set`]
    /// returns their routing.
    pub item: usize,
    /// The item: 278 BHT03, or 837 CLM01 (the patient control number).
    pub id: &'a str,
    /// 278: the PA tracking number, the submitter's 2000E TRN02 (empty when none).
    pub tracking: &'a str,
    /// The loop holding the PWK: `2000E` (event), `2000F` (service), `2300` (claim),
    /// `2400` (line).
    pub loop_id: &'a str,
    /// The line of a service- or line-level PWK: 2000F HL01 or 2400 LX01.
    pub line: Option<&'a str>,
    /// The PWK segment's position in the transaction set (ST is 1).
    pub position: u32,
    /// PWK01, the attachment report type code.
    pub report_type: &'a str,
    /// PWK02 as written.
    pub transmission_code: &'a str,
    /// PWK02.
    pub transmission: Transmission,
    /// PWK06, the attachment control number (empty when PWK05/PWK06 are absent).
    pub control_number: &'a str,
}

impl AttachmentRef<'_> {
    /// The number a person looks the item up by: the PA tracking number (TRN02) of a
    /// 278 when given, else its BHT03; the claim id (CLM01) of an 837.
    pub fn item_number(&self) -> &str {
        if self.tracking.is_empty() {
            self.id
        } else {
            self.tracking
        }
    }
}

/// The PWK segments of a loop instance: (position, PWK01, PWK02, PWK06).
fn pwks<'a>(node: LoopRef<'a>) -> impl Iterator<Item = (u32, &'a str, &'a str, &'a str)> + 'a {
    node.indexed("PWK").map(|(i, s)| {
        (
            i.saturating_add(1),
            text(s.get(1)),
            text(s.get(2)),
            text(s.get(6)),
        )
    })
}

struct Context<'a> {
    kind: ItemKind,
    item: usize,
    id: &'a str,
    tracking: &'a str,
}

fn push<'a>(
    out: &mut Vec<AttachmentRef<'a>>,
    cx: &Context<'a>,
    node: LoopRef<'a>,
    line: Option<&'a str>,
) {
    for (position, report_type, code, control) in pwks(node) {
        out.push(AttachmentRef {
            kind: cx.kind,
            item: cx.item,
            id: cx.id,
            tracking: cx.tracking,
            loop_id: node.id(),
            line,
            position,
            report_type,
            transmission_code: code,
            transmission: Transmission::from_code(code),
            control_number: control,
        });
    }
}

/// Every PWK of a 278 request, event by event (the event's own first, then each
/// service's), with BHT03 and the event's first TRN02.
pub fn from_278(root: LoopRef<'_>) -> Vec<AttachmentRef<'_>> {
    let bht03 = root.segment("BHT").map_or("", |s| text(s.get(3)));
    let mut out = Vec::new();
    for (item, event) in x12_278::events(root).enumerate() {
        let cx = Context {
            kind: ItemKind::PriorApproval,
            item,
            id: bht03,
            tracking: event.traces().next().unwrap_or(""),
        };
        push(&mut out, &cx, event.node, None);
        for service in event.services() {
            push(
                &mut out,
                &cx,
                service.node,
                Some(service.node.value("HL", 1)),
            );
        }
    }
    out
}

/// Every PWK of an 837, claim by claim (the claim's own first, then each line's).
pub fn from_837(root: LoopRef<'_>) -> Vec<AttachmentRef<'_>> {
    let mut out = Vec::new();
    for (item, claim) in x12_837::claims(root).enumerate() {
        let cx = Context {
            kind: ItemKind::Claim,
            item,
            id: claim.id(),
            tracking: "",
        };
        push(&mut out, &cx, claim.node, None);
        for line in claim.lines() {
            push(&mut out, &cx, line.node, Some(line.number()));
        }
    }
    out
}

/// Every PWK of a walked transaction set: a 278 request or an 837 (P, I or D); other
/// transactions (278 responses, 999s...) give none.
pub fn references<'a>(root: LoopRef<'a>, guide: &Guide) -> Vec<AttachmentRef<'a>> {
    if guide.id == "278REQ" {
        from_278(root)
    } else if x12_837::kind_of(guide.version.as_bytes()).is_some() {
        from_837(root)
    } else {
        Vec::new()
    }
}
