//! The guide tables x12-core itself needs: the 999 it writes (005010X231A1), so every
//! acknowledgment can be checked by the same engine that produced it.

use crate::schema::{parse_guide, Guide};
use crate::validate::Validator;
use std::sync::{Arc, LazyLock};

static ACK999: LazyLock<Arc<Guide>> =
    LazyLock::new(
        || match parse_guide("999.guide", include_str!("../guides/999.guide")) {
            Ok(g) => Arc::new(g),
            // bundled data, parsed by this crate's tests: a failure is a build defect
            Err(e) => panic!("bundled 999 guide table is malformed: {e}"),
        },
    );

/// The 999 (005010X231A1) table.
pub fn ack999() -> Arc<Guide> {
    ACK999.clone()
}

impl Validator {
    /// A validator that knows x12-core's own guides (the 999).
    ///
    /// ```
    /// let v = x12_core::Validator::with_core_guides();
    /// assert_eq!(v.guides().count(), 1);
    /// ```
    pub fn with_core_guides() -> Self {
        Validator::new().with_guide(ack999(), None)
    }
}
