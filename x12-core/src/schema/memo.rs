//! Placements remembered within one transaction set.
//!
//! Whether a segment has an exact place (id and qualifier) among the children of an
//! open loop depends only on that loop's definition and cursor, the segment id and its
//! qualifier value. An 837 meets the same few hundred of those situations claim after
//! claim, so the engine looks each one up here before searching the guide. Entries
//! hold the whole key and are compared exactly; they are valid for one walk (a
//! generation number, so nothing is cleared between sets).

/// Slots in the table (a power of two; direct-mapped, a collision replaces).
const SLOTS: usize = 512;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// Loop index, cursor and segment id index, 16 bits each.
    key: u64,
    value: u64,
    generation: u32,
    /// 1 + the child index found, 0 for none.
    child: u32,
}

/// The table of one [`super::LoopTree`]'s walks.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlaceMemo {
    generation: u32,
    slots: Vec<Entry>,
}

/// The key of a loop (definition index, cursor) and a segment id index, when each
/// fits in 16 bits.
#[inline]
pub(crate) fn key(loop_index: u32, cursor: u32, id: usize) -> Option<u64> {
    if loop_index > 0xFFFF || cursor > 0xFFFF || id > 0xFFFF {
        return None;
    }
    Some(u64::from(loop_index) << 32 | u64::from(cursor) << 16 | id as u64)
}

#[inline]
fn slot(key: u64, value: u64) -> usize {
    let h = (key ^ value.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 55) as usize & (SLOTS - 1)
}

impl PlaceMemo {
    /// Starts a walk: what earlier walks remembered no longer counts (they may have
    /// used another guide).
    pub(crate) fn begin(&mut self) {
        if self.slots.is_empty() {
            self.slots = vec![Entry::default(); SLOTS];
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.fill(Entry::default());
            self.generation = 1;
        }
    }

    /// The exact place remembered for `key` (see [`key`]) and qualifier value
    /// `value`: `Some(found)` when known, where `found` is the child index the search
    /// found, or `None` for no exact place.
    #[inline]
    pub(crate) fn get(&self, key: u64, value: u64) -> Option<Option<u32>> {
        let e = self.slots.get(slot(key, value))?;
        if e.generation != self.generation || e.key != key || e.value != value {
            return None;
        }
        Some(e.child.checked_sub(1))
    }

    /// Remembers what the search found.
    #[inline]
    pub(crate) fn put(&mut self, key: u64, value: u64, found: Option<u32>) {
        let generation = self.generation;
        let child = match found {
            Some(c) if c < u32::MAX => c + 1,
            Some(_) => return,
            None => 0,
        };
        if let Some(e) = self.slots.get_mut(slot(key, value)) {
            *e = Entry {
                key,
                value,
                generation,
                child,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exactly_and_forgets_between_walks() {
        let mut m = PlaceMemo::default();
        m.begin();
        let a = key(2, 3, 4).unwrap();
        let b = key(2, 4, 4).unwrap();
        assert_eq!(m.get(a, 7), None);
        m.put(a, 7, Some(9));
        m.put(b, 7, None);
        assert_eq!(m.get(a, 7), Some(Some(9)));
        assert_eq!(m.get(b, 7), Some(None));
        assert_eq!(m.get(a, 8), None);
        assert_eq!(m.get(key(2, 3, 5).unwrap(), 7), None);
        m.begin();
        assert_eq!(m.get(a, 7), None);
        assert_eq!(key(0x1_0000, 0, 0), None);
    }

    #[test]
    fn a_new_generation_after_wrapping_starts_empty() {
        let mut m = PlaceMemo::default();
        m.begin();
        let a = key(1, 0, 0).unwrap();
        m.put(a, 0, Some(2));
        m.generation = u32::MAX;
        m.put(a, 0, Some(2));
        m.begin();
        assert_eq!(m.generation, 1);
        assert_eq!(m.get(a, 0), None);
    }
}
