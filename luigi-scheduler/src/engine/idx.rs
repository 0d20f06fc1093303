//! Small index collections the engine's records use: task and worker handles, a set of
//! handles that stays a vector while small, and a total order for `f64` keys.
//!
//! Tasks and workers live in slabs and refer to each other by `u32` handles, which keeps a
//! task record small (design §5: under 1 KiB per task) and makes the reverse indices cheap.
//! Most per-task sets (workers, stakeholders, dependents) hold one or two members, so
//! [`IdxSet`] is a vector until it grows past a threshold and a hash set after, keeping both
//! the common case compact and the rare huge fan-in (one task required by a million others)
//! free of quadratic removals.

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
    Large(Box<HashSet<u32>>),
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
                    let mut large: HashSet<u32> = items.drain(..).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

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
