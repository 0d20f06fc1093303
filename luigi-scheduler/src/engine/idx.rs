//! Small index collections the engine's records use: task and worker handles, a set of
//! handles that stays a vector while small, and a total order for `f64` keys.
//!
//! Tasks and workers live in slabs and refer to each other by `u32` handles, which keeps a
//! task record small (design §5: under 1 KiB per task) and makes the reverse indices cheap.
//! Most per-task sets (workers, stakeholders, dependents) hold one or two members, so
//! [`IdxSet`] is a vector until it grows past a threshold and a hash set after, keeping both
//! the common case compact and the rare huge fan-in (one task required by a million others)
//! free of quadratic removals.
//!
//! The task slab itself is a [`Slots`]: fixed-size chunks rather than one vector, so that
//! growing it never copies the records already stored. A vector of a million ~450-byte
//! records doubles by copying hundreds of megabytes into freshly faulted memory, which stalled
//! every request for as long as it took and cost a 1M-task run about 5% of its time.

use std::cmp::Ordering;
use std::collections::HashSet;

use smallvec::SmallVec;

/// A task's slot in the engine's task slab.
pub(crate) type TaskIdx = u32;
/// A worker's slot in the engine's worker slab.
pub(crate) type WorkerIdx = u32;

/// Above this many members an [`IdxSet`] switches from a vector to a hash set.
const SMALL_LIMIT: usize = 16;

/// A set of `u32` handles: an inline vector when small, a boxed hash set when large.
/// Iteration order is insertion order while small and unspecified once large.
#[derive(Debug, Clone)]
pub(crate) enum IdxSet {
    /// Up to [`SMALL_LIMIT`] members, the first few stored inline.
    Small(SmallVec<[u32; 4]>),
    /// Many members. Boxed so that the common small case keeps the enum at 32 bytes (a bare
    /// `HashSet` is 48); large sets are rare, so the extra allocation does not matter.
    #[allow(clippy::box_collection)]
    Large(Box<HashSet<u32, foldhash::fast::RandomState>>),
}

impl Default for IdxSet {
    fn default() -> Self {
        IdxSet::Small(SmallVec::new())
    }
}

impl IdxSet {
    pub(crate) fn len(&self) -> usize {
        match self {
            IdxSet::Small(items) => items.len(),
            IdxSet::Large(items) => items.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn contains(&self, item: u32) -> bool {
        match self {
            IdxSet::Small(items) => items.contains(&item),
            IdxSet::Large(items) => items.contains(&item),
        }
    }

    /// Adds `item`; returns whether it was new.
    pub(crate) fn insert(&mut self, item: u32) -> bool {
        match self {
            IdxSet::Small(items) => {
                if items.contains(&item) {
                    return false;
                }
                if items.len() < SMALL_LIMIT {
                    items.push(item);
                } else {
                    let mut large: HashSet<u32, foldhash::fast::RandomState> = items.drain(..).collect();
                    large.insert(item);
                    *self = IdxSet::Large(Box::new(large));
                }
                true
            }
            IdxSet::Large(items) => items.insert(item),
        }
    }

    /// Removes `item`; returns whether it was present.
    pub(crate) fn remove(&mut self, item: u32) -> bool {
        match self {
            IdxSet::Small(items) => match items.iter().position(|x| *x == item) {
                Some(pos) => {
                    items.remove(pos);
                    true
                }
                None => false,
            },
            IdxSet::Large(items) => {
                let removed = items.remove(&item);
                if removed && items.is_empty() {
                    *self = IdxSet::default();
                }
                removed
            }
        }
    }

    /// The members, copied out so the caller may mutate the owner while walking them.
    pub(crate) fn to_vec(&self) -> Vec<u32> {
        self.iter().collect()
    }

    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            IdxSet::Small(items) => Box::new(items.iter().copied()),
            IdxSet::Large(items) => Box::new(items.iter().copied()),
        }
    }
}

/// An `f64` with a total order (`total_cmp`), for sort and heap keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrdF64(pub(crate) f64);

impl PartialEq for OrdF64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A task's place in the order `get_work` hands tasks out: highest priority first, then the
/// oldest, then the one that entered its status first (Python's stable sort over a dict in
/// insertion order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    /// Negated priority, so that ascending order is descending priority.
    pub(crate) neg_priority: OrdF64,
    /// When the task was first added.
    pub(crate) time: OrdF64,
    /// When the task entered its current status (a global counter).
    pub(crate) status_seq: u64,
    /// The task, to make keys unique.
    pub(crate) task: TaskIdx,
}

/// Slots per [`Slots`] chunk (a power of two: indexing is a shift and a mask).
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A slab of optional records addressed by `u32` handles, stored in chunks of [`CHUNK`]
/// slots that never move once allocated (see the module docs).
#[derive(Debug)]
pub(crate) struct Slots<T> {
    chunks: Vec<Vec<Option<T>>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Slots<T> {
    fn slot(&self, i: u32) -> Option<&Option<T>> {
        self.chunks.get((i >> CHUNK_BITS) as usize)?.get(i as usize & (CHUNK - 1))
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Option<T>> {
        self.chunks.get_mut((i >> CHUNK_BITS) as usize)?.get_mut(i as usize & (CHUNK - 1))
    }

    /// The record in slot `i`, if the slot exists and is occupied.
    pub(crate) fn get(&self, i: u32) -> Option<&T> {
        self.slot(i)?.as_ref()
    }

    /// The record in slot `i`, mutably.
    pub(crate) fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        self.slot_mut(i)?.as_mut()
    }

    /// Appends a slot holding `value` and returns its handle.
    pub(crate) fn push(&mut self, value: T) -> u32 {
        if self.chunks.last().is_none_or(|chunk| chunk.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(Some(value));
        }
        self.len += 1;
        // Handles are `u32` throughout the engine; four billion tasks do not fit in memory.
        (self.len - 1) as u32
    }

    /// Puts `value` into slot `i` (which must exist), returning what it held.
    pub(crate) fn replace(&mut self, i: u32, value: Option<T>) -> Option<T> {
        self.slot_mut(i).and_then(|slot| std::mem::replace(slot, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_span_chunks_without_moving_records() {
        let mut slots = Slots::default();
        for i in 0..(2 * CHUNK as u32 + 3) {
            assert_eq!(slots.push(i.to_string()), i);
        }
        let first_chunk = slots.get(0).map(|s| s.as_ptr());
        slots.push("more".to_owned());
        assert_eq!(slots.get(0).map(|s| s.as_ptr()), first_chunk, "earlier records stay put");
        let last = (2 * CHUNK) as u32 + 2;
        assert_eq!(slots.get(last).map(String::as_str), Some(last.to_string().as_str()));
        assert_eq!(slots.get(CHUNK as u32).map(String::as_str), Some(CHUNK.to_string().as_str()));
        assert_eq!(slots.replace(5, None).as_deref(), Some("5"));
        assert!(slots.get(5).is_none());
        assert!(slots.replace(5, Some("five".to_owned())).is_none());
        slots.get_mut(5).unwrap().push('!');
        assert_eq!(slots.get(5).map(String::as_str), Some("five!"));
        assert!(slots.get(u32::MAX).is_none() && slots.get(2 * CHUNK as u32 + 4).is_none());
    }

    #[test]
    fn idx_set_grows_and_shrinks() {
        let mut set = IdxSet::default();
        assert!(set.is_empty());
        for i in 0..40 {
            assert!(set.insert(i));
            assert!(!set.insert(i));
        }
        assert!(matches!(set, IdxSet::Large(_)));
        assert_eq!(set.len(), 40);
        for i in 0..40 {
            assert!(set.contains(i));
            assert!(set.remove(i));
        }
        assert!(set.is_empty() && matches!(set, IdxSet::Small(_)));
        assert!(!set.remove(3));
        set.insert(7);
        set.insert(5);
        assert_eq!(set.to_vec(), vec![7, 5], "small sets keep insertion order");
    }

    #[test]
    fn rank_orders_priority_then_age() {
        let rank = |p: f64, t: f64, s: u64| Rank { neg_priority: OrdF64(-p), time: OrdF64(t), status_seq: s, task: 0 };
        let mut ranks = [rank(0.0, 1.0, 1), rank(5.0, 9.0, 2), rank(0.0, 0.5, 3), rank(0.0, 1.0, 0)];
        ranks.sort();
        assert_eq!(ranks.map(|r| r.status_seq), [2, 3, 0, 1]);
    }
}
