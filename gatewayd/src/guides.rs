//! The guide tables the gateway and the `x12` tool validate against.

use x12_core::Validator;

/// A validator that knows every guide this build ships.
pub fn validator() -> Validator {
    Validator::new()
}
