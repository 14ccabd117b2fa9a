//! The guide tables the gateway and the `x12` tool validate against.

use x12_core::Validator;

/// A validator that knows every guide this build ships: the 999, the 837P, 837I and
/// 837D claims with the 277CA, and the 278 request and response.
pub fn validator() -> Validator {
    x12_278::register(x12_837::register(Validator::with_core_guides()))
}
