//! Shape checks for the external code sets HIPAA guides cite (SNIP 5): NPI check
//! digit, ICD-10-CM/PCS, HCPCS/CPT, CDT, NUCC taxonomy, US states, ZIP codes, place of
//! service. These check form, not membership: the full lists are licensed and change
//! quarterly; a deployment that holds them can add membership checks on top.
//!
//! Sources: NPI check digit, `shared/X12-NOTES.md` ("NPI check digit": Luhn over the
//! prefix 80840 and the first nine digits); code shapes from CMS's public descriptions
//! of ICD-10-CM (letter, digit, then up to five alphanumerics, no dot in X12), ICD-10-PCS
//! (seven alphanumerics), HCPCS Level II (letter + four digits) and CPT (five digits or
//! four digits + F/T/U), CDT (D + four digits), NUCC taxonomy (ten characters ending in
//! X), USPS state and territory codes, CMS place-of-service codes.

/// Whether `npi` is ten digits with a valid check digit.
///
/// ```
/// use x12_core::codesets::npi_valid;
/// assert!(npi_valid(b"1234567893"));
/// assert!(!npi_valid(b"1234567890"));
/// assert!(!npi_valid(b"123456789"));
/// ```
pub fn npi_valid(npi: &[u8]) -> bool {
    if npi.len() != 10 || !npi.iter().all(u8::is_ascii_digit) {
        return false;
    }
    // Luhn over "80840" + first nine digits; the constant prefix contributes 24.
    let mut sum = 24u32;
    for (i, d) in npi[..9].iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    let check = (10 - sum % 10) % 10;
    check == u32::from(npi[9] - b'0')
}

/// ICD-10-CM shape, without the dot: a letter, a digit, then one to five letters or
/// digits (3–7 characters).
///
/// ```
/// use x12_core::codesets::icd10cm_shape;
/// assert!(icd10cm_shape(b"E119"));
/// assert!(icd10cm_shape(b"S72001A"));
/// assert!(!icd10cm_shape(b"E11.9"));
/// assert!(!icd10cm_shape(b"250"));
/// ```
pub fn icd10cm_shape(code: &[u8]) -> bool {
    (3..=7).contains(&code.len())
        && code[0].is_ascii_uppercase()
        && code[1].is_ascii_digit()
        && code[2..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// ICD-10-PCS shape: seven upper-case letters or digits (no I or O).
pub fn icd10pcs_shape(code: &[u8]) -> bool {
    code.len() == 7
        && code
            .iter()
            .all(|b| (b.is_ascii_uppercase() && *b != b'I' && *b != b'O') || b.is_ascii_digit())
}

/// HCPCS Level II (`E0260`) or CPT (`99213`, `0001F`, `0042T`, `0001U`) shape.
///
/// ```
/// use x12_core::codesets::hcpcs_shape;
/// assert!(hcpcs_shape(b"99213") && hcpcs_shape(b"E0260") && hcpcs_shape(b"0042T"));
/// assert!(!hcpcs_shape(b"9921") && !hcpcs_shape(b"e0260"));
/// ```
pub fn hcpcs_shape(code: &[u8]) -> bool {
    if code.len() != 5 {
        return false;
    }
    let digits4 = code[1..].iter().all(u8::is_ascii_digit);
    (code[0].is_ascii_uppercase() && digits4)
        || code.iter().all(u8::is_ascii_digit)
        || (code[..4].iter().all(u8::is_ascii_digit) && matches!(code[4], b'F' | b'T' | b'U'))
}

/// CDT dental procedure code shape: `D` and four digits.
pub fn cdt_shape(code: &[u8]) -> bool {
    code.len() == 5 && code[0] == b'D' && code[1..].iter().all(u8::is_ascii_digit)
}

/// NUCC health care provider taxonomy shape: ten characters, nine letters or digits
/// then `X` (`207Q00000X`).
pub fn taxonomy_shape(code: &[u8]) -> bool {
    code.len() == 10
        && code[..9]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && code[9] == b'X'
}

/// USPS codes of the states, DC, territories and military "states".
pub const STATES: [&str; 62] = [
    "AA", "AE", "AK", "AL", "AP", "AR", "AS", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "FM", "GA",
    "GU", "HI", "IA", "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MH", "MI", "MN", "MO",
    "MP", "MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "PR",
    "PW", "RI", "SC", "SD", "TN", "TX", "UM", "UT", "VA", "VI", "VT", "WA", "WI", "WV",
];

/// Bit `26 * (first - 'A') + (second - 'A')` set for each code of [`STATES`] and `WY`.
const STATE_BITS: [u64; 11] = {
    let mut bits = [0u64; 11];
    let mut i = 0;
    while i <= STATES.len() {
        let code = if i == STATES.len() {
            b"WY"
        } else {
            STATES[i].as_bytes()
        };
        let at = 26 * (code[0] - b'A') as usize + (code[1] - b'A') as usize;
        bits[at / 64] |= 1 << (at % 64);
        i += 1;
    }
    bits
};

/// Whether `code` is a USPS state, territory or military code (`WY` included).
///
/// ```
/// use x12_core::codesets::state;
/// assert!(state(b"NC") && state(b"WY") && state(b"AE"));
/// assert!(!state(b"XX") && !state(b"nc") && !state(b"N"));
/// ```
#[inline]
pub fn state(code: &[u8]) -> bool {
    let &[a, b] = code else {
        return false;
    };
    if !a.is_ascii_uppercase() || !b.is_ascii_uppercase() {
        return false;
    }
    let at = 26 * usize::from(a - b'A') + usize::from(b - b'A');
    STATE_BITS[at / 64] >> (at % 64) & 1 == 1
}

/// Whether `zip` is a US ZIP code: 5 or 9 digits.
pub fn zip(zip: &[u8]) -> bool {
    (zip.len() == 5 || zip.len() == 9) && zip.iter().all(u8::is_ascii_digit)
}

/// CMS place-of-service codes in use (two digits).
pub const PLACES_OF_SERVICE: [&str; 58] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "31", "32", "33", "34", "41",
    "42", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "65", "66",
    "71", "72", "81", "99", "35", "36", "37", "38", "39", "40",
];

/// Whether `code` is a CMS place-of-service code.
pub fn place_of_service(code: &[u8]) -> bool {
    code.len() == 2 && PLACES_OF_SERVICE.iter().any(|p| p.as_bytes() == code)
}

/// Checks `value` against the external code set `name` as guide tables cite it
/// (`{states}`, `{zip}`, `{icd10cm}`...). `None`: the set is unknown here (not checked);
/// `Some((ok, what))` otherwise.
pub fn check(name: &str, value: &[u8]) -> Option<(bool, &'static str)> {
    Some(match name {
        "states" => (state(value), "a US state or territory code"),
        "zip" => (zip(value), "a 5- or 9-digit ZIP code"),
        "icd10cm" => (
            icd10cm_shape(value),
            "an ICD-10-CM code (letter, digit, up to 5 more, no dot)",
        ),
        "icd10pcs" => (icd10pcs_shape(value), "an ICD-10-PCS code (7 characters)"),
        "hcpcs" => (hcpcs_shape(value), "a HCPCS or CPT code (5 characters)"),
        "cdt" => (cdt_shape(value), "a CDT code (D and 4 digits)"),
        "taxonomy" => (
            taxonomy_shape(value),
            "a NUCC taxonomy code (10 characters ending in X)",
        ),
        "pos" => (place_of_service(value), "a CMS place-of-service code"),
        "npi" => (npi_valid(value), "an NPI with a valid check digit"),
        "digits9" => (
            value.len() == 9 && value.iter().all(u8::is_ascii_digit),
            "exactly 9 digits",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_search() {
        let mut s = STATES.to_vec();
        s.sort_unstable();
        assert_eq!(s, STATES);
    }

    #[test]
    fn the_state_table_is_the_list() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let code = [a, b];
                let listed = &code == b"WY" || STATES.iter().any(|s| s.as_bytes() == code);
                assert_eq!(state(&code), listed, "{code:?}");
            }
        }
        assert!(!state(b"") && !state(b"NCX"));
    }

    #[test]
    fn npi_examples() {
        for ok in [&b"1234567893"[..], b"1003000126", b"1497758544"] {
            assert!(npi_valid(ok), "{ok:?}");
        }
        assert!(!npi_valid(b"123456789A"));
    }
}
