//! 277CA claim acknowledgments in the daemon: one 277CA interchange per 837 set the
//! 999 accepted (fully or with errors), in a group the 999 did not reject.
//!
//! The 277CA is built while its 837 set is read ([`build`]), kept with the group until
//! the group's 999 is known, and recorded in the interchange's transaction after the
//! 999s, like them an outbox file (`277CA-<ISA13>-<GS06>-<ST02>-<control>.x12`) written
//! as `*.part`, fsync, rename. After a crash the stored bytes are written again under
//! the same name; an interchange already recorded is never built again, so one 837 set
//! never gets two different 277CAs.
//!
//! What rejects a claim in the 277CA:
//!
//! | cause | STC01 |
//! |---|---|
//! | a guide error located in the claim or a loop it hangs under (the 999 accepted the set with errors) | A6/A7 with the code of the failing data (see `x12_837::ack277`) |
//! | a provider finding (SNIP 7: taxonomy or location not on the provider file for the NPI on the date of service) | A8 (or A6/A7), 145/500/562 with entity 85 |
//! | a `reject` route (the member's plan is an LME/MCO or health plan that pays the claim) | A3:116 "claim submitted to the incorrect payer" |
//! | with `eligibility_file` configured: no eligibility span of the member (2010BA NM109) covers the claim's dates of service (`crate::route::snip7::eligibility_issues`) | A8:109 with entity IL "entity not eligible" |
//! | a duplicate: the same claim already accepted from the same partner | A3:54 "duplicate of a previously processed claim/line" |
//!
//! A duplicate is a claim whose fingerprint matches one of a claim this partner already
//! had accepted by a 277CA (earlier in the same group too): the SHA-256 of the billing
//! provider's NPI (2010AA NM109), the member id (2010BA NM109), the claim's service
//! period as the 277CA gives it, the total charge, and each line's procedure (qualifier,
//! code, modifiers), charge and service date, amounts normalized (`150.00` is `150`).
//! Only the hash is stored (`claim_fingerprints`, written in the interchange's
//! transaction when the claim's group is accepted; with `store = "nats"` also created in
//! KV `<prefix>_claims` when the 277CA is built, so a claim accepted through another
//! gateway is a duplicate too, see [`super::nats::Nats::claim_fingerprint`]), never the
//! fields; a claim the 277CA rejects is not recorded, nor are the claims of a group the
//! 999 rejects or of an interchange the TA1 rejects (no 277CA goes out for them), so
//! they never make a later one a duplicate. A3 with 54
//! for a duplicate claim as in Office Ally's "Understanding Claim Response Code
//! Category A3 with Status 54" (status 54 "Duplicate of a previously processed
//! claim/line", in pyx12 4.0.0 `map/codes.xml` `claim_status`, wording from the WPC
//! list copy on medicarepaymentandreimbursement.com).
//!
//! Every other claim is accepted (A2:20) with a payer claim control number (REF*1K)
//! from [`StoreClaimNumbers`]: the date (`YYMMDD`) and a counter kept in the store's
//! `counters` table, advanced inside the interchange's transaction, so a number is
//! never handed out twice, across restarts too. A claim's provider findings do not
//! change the 999 (which knows only the guide).
//!
//! ## Guide errors: the 999 accepts with errors, the 277CA rejects the claim
//!
//! A partner's `accept_with_errors` (SNIP levels, default 3, 4, 5: see
//! [`super::config::DEFAULT_ACCEPT_WITH_ERRORS`]) says which guide errors give the 999
//! `E` (IK5 and AK9 `E`, the errors still listed in IK3/IK4) instead of `R` for an 837
//! set ([`accepts_with_errors`]). The set is then routed like an accepted one and its
//! 277CA rejects exactly the claims the errors concern ([`x12_837::ack277::concerns_a_claim`]):
//!
//! * an error in a claim's 2300 loop or its 2400 lines rejects that claim, A6 when
//!   something is missing and A7 when a value is invalid, with the status code of the
//!   failing data (400 out of balance, 255 diagnosis, 178 charges, 454 procedure...);
//! * an error in a billing provider's loops (2000A, 2010AA/AB) rejects every claim of
//!   that provider (entity 85), one in a subscriber's or patient's loops (2000B/2010BA,
//!   2000C/2010CA) every claim of that member (entity IL or QC), as a payer's front end
//!   does: those claims carry the bad data (the billing NPI, the member id), and no
//!   other claim does;
//! * an error that no claim carries (the set header BHT, the submitter 1000A, the
//!   receiver 1000B, or an error without a segment position) keeps the 999's `R` for
//!   the whole set: the 277CA has no claim to reject it on, and a 277CA accepting every
//!   claim would drop the error silently;
//! * 278 sets never get `E`: no 277CA follows them, so every error rejects the set.
//!
//! The other claims of the set are accepted (A2:20 with a payer claim control number)
//! and queued as usual.
//!
//! A claim the 277CA rejects, for any of the causes above, goes to no vendor: the
//! 277CA tells the submitter, and there is nothing to adjudicate. Its item is marked
//! ([`mark_rejected`]: the STC statuses under `rejected_by_277ca` in its JSON) and
//! recorded in `claim_rejects` instead of the queue, in the interchange's transaction
//! like everything else of it; the accepted claims of the same set are queued as
//! usual.

use crate::clock::Stamp;
use crate::route::{EligibilityFile, RequestRouting};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use x12_837::ack277::{Ack277, Ack277Error, Ack277Options, ClaimAck, ClaimNumbers, Status};
use x12_837::Claim;
use x12_core::schema::LoopRef;
use x12_core::{Issue, Scope, TransactionSet};

/// The counter of payer claim control numbers in the `counters` table.
pub const COUNTER: &str = "payer_claim_number";

/// Why a 277CA could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClaimAckError {
    /// The store could not hand out a number.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The 277CA builder refused the set.
    #[error("277CA: {0}")]
    Build(#[from] Ack277Error),
    /// The duplicate check shared by the gateways failed.
    #[error("shared duplicate check: {0}")]
    Shared(String),
}

/// Payer claim control numbers from the store: `YYMMDD` and a seven-digit (or longer)
/// counter that never goes back. Used inside the interchange's open transaction.
pub struct StoreClaimNumbers<'c> {
    conn: &'c Connection,
    prefix: String,
    /// The first error met (the trait cannot return one); checked after the build.
    error: Option<rusqlite::Error>,
}

impl<'c> StoreClaimNumbers<'c> {
    /// Numbers dated `yymmdd`, counted in `conn`'s `counters` table.
    pub fn new(conn: &'c Connection, yymmdd: &str) -> Self {
        StoreClaimNumbers {
            conn,
            prefix: yymmdd.to_string(),
            error: None,
        }
    }

    /// The next counter value, stored.
    pub fn next_value(conn: &Connection) -> rusqlite::Result<i64> {
        // once per claim: cached statements, not parsed again each time
        let cur: Option<i64> = conn
            .prepare_cached("SELECT value FROM counters WHERE name = ?1")?
            .query_row(params![COUNTER], |r| r.get(0))
            .optional()?;
        let next = cur.unwrap_or(0).max(0) + 1;
        conn.prepare_cached(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        )?
        .execute(params![COUNTER, next])?;
        Ok(next)
    }

    /// The first error met, if any.
    pub fn into_error(self) -> Option<rusqlite::Error> {
        self.error
    }
}

impl ClaimNumbers for StoreClaimNumbers<'_> {
    fn next_number(&mut self, _claim: &Claim<'_>) -> String {
        if self.error.is_some() {
            return String::new();
        }
        match Self::next_value(self.conn) {
            Ok(n) => format!("{}{n:07}", self.prefix),
            Err(e) => {
                self.error = Some(e);
                String::new()
            }
        }
    }
}

/// A built 277CA waiting for its group's 999.
#[derive(Debug, Clone)]
pub struct Pending {
    /// ST02 of the 837 set it answers.
    pub st02: String,
    /// The 277CA.
    pub ack: Ack277,
    /// Fingerprints of the claims it accepts, recorded ([`remember`]) when the group is.
    pub fingerprints: Vec<String>,
}

/// The key of a claim item's JSON naming the 277CA statuses that rejected the claim
/// (`["A3:54"]`); an item carrying it goes to no vendor ([`super::answer::disposition`]).
pub const REJECTED_KEY: &str = "rejected_by_277ca";

impl Pending {
    /// For each claim of the set, in claim order (the order of the set's routings):
    /// `None` when the 277CA accepts it, else the STC statuses that reject it
    /// (`A3:54`, `A8:109:IL`...).
    pub fn rejections(&self) -> Vec<Option<Vec<String>>> {
        self.ack
            .providers
            .iter()
            .flat_map(|p| &p.claims)
            .map(|c| {
                (!c.accepted).then(|| {
                    c.statuses
                        .iter()
                        .map(|s| match &s.entity {
                            Some(e) => format!("{}:{}:{e}", s.category, s.code),
                            None => format!("{}:{}", s.category, s.code),
                        })
                        .collect()
                })
            })
            .collect()
    }
}

/// Marks a claim item as rejected by its 277CA (`statuses`, see [`Pending::rejections`]):
/// it is then recorded in `claim_rejects`, never queued.
pub fn mark_rejected(item: &mut super::items::NewItem, statuses: &[String]) {
    if let Some(obj) = item.item.as_object_mut() {
        obj.insert(REJECTED_KEY.into(), statuses.into());
    }
}

/// Whether a claim item was marked by [`mark_rejected`].
pub fn is_rejected(item: &super::items::NewItem) -> bool {
    item.item.get(REJECTED_KEY).is_some()
}

/// The shared duplicate check of [`Edits::shared`]: claims a fingerprint; `true` when
/// another file holds it, the error's text when the check failed.
pub type SharedCheck<'a> = dyn Fn(&str) -> Result<bool, String> + 'a;

/// What the claim edits of [`build`] read besides the set.
pub struct Edits<'a> {
    /// The partner that sent the set (duplicates are looked for among its claims).
    pub partner: &'a str,
    /// Member eligibility, when the configuration names a file.
    pub eligibility: Option<&'a EligibilityFile>,
    /// The 277CAs built earlier in the same group, not recorded yet.
    pub earlier: &'a [Pending],
    /// The duplicate check shared by every gateway (`store = "nats"`): claims a
    /// fingerprint for this interchange; `true` when another file holds it.
    pub shared: Option<&'a SharedCheck<'a>>,
}

/// Whether an 837 set with `issues` is accepted with errors (999 `E`) rather than
/// rejected when its partner accepts the SNIP `levels` with errors: only when `root`
/// (the set read with its guide) is an 837 and every error of those levels concerns a
/// claim, so the 277CA rejects the claims that carry it (see the module docs). Errors
/// of other levels reject the set whatever this says.
pub fn accepts_with_errors(levels: &[u8], root: Option<LoopRef<'_>>, issues: &[Issue]) -> bool {
    let Some(root) = root else {
        return false;
    };
    if levels.is_empty() || x12_837::kind_of(root.guide.version.as_bytes()).is_none() {
        return false;
    }
    issues
        .iter()
        .filter(|i| i.is_error() && i.scope == Scope::Set && levels.contains(&i.snip))
        .all(|i| x12_837::ack277::concerns_a_claim(root, i))
}

/// Records the fingerprints of accepted claims (inside the interchange's transaction).
pub fn remember(
    conn: &Connection,
    partner: &str,
    interchange_id: i64,
    fingerprints: &[String],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO claim_fingerprints (partner, fingerprint, interchange_id, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let now = super::store::now_ms();
    for f in fingerprints {
        stmt.execute(params![partner, f, interchange_id, now])?;
    }
    Ok(())
}

fn known(conn: &Connection, partner: &str, fingerprint: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM claim_fingerprints WHERE partner = ?1 AND fingerprint = ?2")?
        .query_row(params![partner, fingerprint], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// An amount with its insignificant zeros dropped (`150.00` and `150` are one amount).
fn amount(v: &str) -> &str {
    let v = v.trim();
    if v.contains('.') {
        v.trim_end_matches('0').trim_end_matches('.')
    } else {
        v
    }
}

/// The duplicate-claim fingerprint of `claim` (see the module docs): hex SHA-256.
pub fn fingerprint(claim: &Claim<'_>, ack: &ClaimAck) -> String {
    let mut h = Sha256::new();
    let mut field = |v: &str| {
        h.update(v.as_bytes());
        h.update([0x1f]);
    };
    field(claim.billing_provider().map_or("", |p| p.id()));
    field(claim.subscriber().map_or("", |p| p.id()));
    field(&ack.service_period.0);
    field(&ack.service_period.1);
    field(amount(claim.total_charge()));
    for line in claim.lines() {
        field("LX");
        field(line.procedure_qualifier());
        field(line.procedure_code());
        field(line.revenue_code());
        for m in line.modifiers() {
            field(m);
        }
        field(amount(line.charge()));
        field(line.service_date().unwrap_or(""));
    }
    format!("{:x}", h.finalize())
}

/// A 277CA of an accepted group, ready to be recorded after the 999s.
#[derive(Debug, Clone)]
pub struct Ready {
    /// GS02 of the 837 group.
    pub gs02: String,
    /// GS03 of the 837 group.
    pub gs03: String,
    /// GS06 of the 837 group.
    pub gs06: String,
    /// ST02 of the 837 set.
    pub st02: String,
    /// The 277CA.
    pub ack: Ack277,
}

/// Builds the 277CA of one accepted 837 set: `issues` are the validator's, the
/// provider findings of `routings` (one per claim, in claim order) and, with an
/// eligibility file, the eligibility edit are added; the claims on a `reject` route are
/// rejected with A3:116 and duplicates with A3:54. `received_ms` is when the file was
/// taken (DTP*050).
pub fn build(
    conn: &Connection,
    set: &TransactionSet,
    root: LoopRef<'_>,
    issues: &[Issue],
    routings: &[RequestRouting],
    received_ms: i64,
    edits: &Edits<'_>,
) -> Result<Pending, ClaimAckError> {
    let mut found = issues.to_vec();
    for r in routings {
        for f in &r.provider_findings {
            found.push(f.issue(set, root.tree, root.guide));
        }
    }
    if let Some(e) = edits.eligibility {
        found.extend(crate::route::snip7::eligibility_issues(
            set, root.tree, root.guide, e,
        ));
    }
    let now = Stamp::now();
    let mut opts = Ack277Options::dated(&now.ccyymmdd(), &now.hhmm());
    opts.receipt_date = Stamp::from_unix(received_ms.div_euclid(1000)).ccyymmdd();
    let mut numbers = StoreClaimNumbers::new(conn, &now.yymmdd());
    let built = Ack277::build(root, &found, &opts, &mut numbers);
    if let Some(e) = numbers.into_error() {
        return Err(e.into());
    }
    let mut ack = built?;
    let rejected_routes: Vec<bool> = routings
        .iter()
        .map(|r| {
            r.claim_route
                .as_ref()
                .is_some_and(|c| c.action.name() == "reject")
        })
        .collect();
    // claims(root) and the 277CA's claims are in the same (document) order
    let mut i = 0;
    let mut claims = x12_837::claims(root);
    let mut fingerprints: Vec<String> = Vec::new();
    for p in &mut ack.providers {
        for c in &mut p.claims {
            let claim = claims.next();
            if rejected_routes.get(i).copied().unwrap_or(false) {
                c.accepted = false;
                c.payer_claim_number = None;
                c.statuses = vec![Status {
                    category: "A3",
                    code: "116",
                    entity: None,
                }];
            }
            i += 1;
            let Some(claim) = claim.filter(|_| c.accepted) else {
                continue;
            };
            let f = fingerprint(&claim, c);
            let duplicate = fingerprints.contains(&f)
                || edits.earlier.iter().any(|p| p.fingerprints.contains(&f))
                || known(conn, edits.partner, &f)?
                || match edits.shared {
                    Some(claim) => claim(&f).map_err(ClaimAckError::Shared)?,
                    None => false,
                };
            if duplicate {
                c.accepted = false;
                c.payer_claim_number = None;
                c.statuses = vec![Status {
                    category: "A3",
                    code: "54",
                    entity: None,
                }];
            } else {
                fingerprints.push(f);
            }
        }
    }
    Ok(Pending {
        st02: String::from_utf8_lossy(set.control_number()).into_owned(),
        ack,
        fingerprints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_persist_and_never_repeat() {
        let dir = std::env::temp_dir().join(format!("gatewayd-claimnum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);
        let a = {
            let c = super::super::store::open(&path).unwrap();
            StoreClaimNumbers::next_value(&c).unwrap()
        };
        let c = super::super::store::open(&path).unwrap();
        let b = StoreClaimNumbers::next_value(&c).unwrap();
        assert_eq!((a, b), (1, 2));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `accepts_with_errors` for each set of `file` (under the repository's fixtures)
    /// with `extra` added to its issues.
    fn verdicts(file: &str, levels: &[u8], extra: &[Issue]) -> Vec<bool> {
        let path = format!("{}/../fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
        let data = std::fs::read(path).unwrap();
        let validator = crate::guides::validator();
        let mut tree = x12_core::schema::LoopTree::default();
        let mut out = Vec::new();
        for item in x12_core::Reader::new(&data[..]) {
            if let x12_core::Item::Transaction(set) = item.unwrap() {
                let (guide, mut issues) = validator.check_set(&set, &mut tree);
                issues.extend(extra.iter().cloned());
                let root = guide.map(|g| LoopRef::root(&set, &tree, g));
                out.push(accepts_with_errors(levels, root, &issues));
            }
        }
        out
    }

    /// A SNIP `snip` error at set position `position` (IK3), element 1 invalid.
    fn error_at(snip: u8, position: u32, segment: &str) -> Issue {
        let mut i = Issue::error(x12_core::Code::CodeSet, Scope::Set, "test").snip(snip);
        i.ik3 = Some(x12_core::Ik3 {
            segment_id: segment.into(),
            position,
            loop_id: None,
            code: "8",
        });
        i
    }

    #[test]
    fn only_errors_claims_carry_are_accepted_with_errors() {
        let f = "ack277/two-providers.x12";
        // clean: nothing to reject
        assert_eq!(verdicts(f, &[3, 4, 5], &[]), [true]);
        // the first claim's HI (set position 20), its billing provider's PRV (7)
        assert_eq!(verdicts(f, &[3, 4, 5], &[error_at(5, 20, "HI")]), [true]);
        assert_eq!(verdicts(f, &[3, 4, 5], &[error_at(5, 7, "PRV")]), [true]);
        // the submitter's PER (4, loop 1000A): no claim carries it
        assert_eq!(verdicts(f, &[3, 4, 5], &[error_at(5, 4, "PER")]), [false]);
        // no position
        let mut loose = error_at(5, 20, "HI");
        loose.ik3 = None;
        assert_eq!(verdicts(f, &[3, 4, 5], &[loose]), [false]);
        // the setting off
        assert_eq!(verdicts(f, &[], &[error_at(5, 20, "HI")]), [false]);
        // an error of a level not listed is the 999's to reject, whatever this says
        assert_eq!(
            verdicts(
                f,
                &[3, 4, 5],
                &[error_at(5, 20, "HI"), error_at(2, 4, "PER")]
            ),
            [true]
        );
        // a 278 set: no 277CA follows it
        assert_eq!(
            verdicts(
                "valid/278-request.x12",
                &[3, 4, 5],
                &[error_at(5, 8, "NM1")]
            ),
            [false]
        );
    }
}
