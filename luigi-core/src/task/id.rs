//! Task identity: the task id string, `repr` and the scheduler's display name.
//!
//! A task id is `{family}_{summary}_{hash10}` (inventory §3.2): `hash10` is the first ten
//! hex digits of the md5 of the significant public parameters as compact, sorted,
//! ASCII-escaped JSON ([`crate::pyjson`]); `summary` is the first 16 code points of the
//! values of the first three parameter names in code-point order, joined with `_`, with
//! every character outside `[A-Za-z0-9_]` replaced by `_`. The family is not part of the
//! hashed text. Ids are byte-identical to Python Luigi's, which is what lets Rust and
//! Python workers share one scheduler.
//!
//! [`TaskId`] is a cheap-to-clone shared string because ids are copied into every map the
//! worker and the scheduler keep. It carries the string's hash, computed once when the id is
//! made: a map keyed by ids then never reads the string to hash it, neither on insert and lookup
//! nor when it grows and re-hashes every key. With a million tasks those strings no longer fit
//! in any cache, and re-reading them was a cost that grew faster than the task count. For the
//! same reason two ids compare equal without reading the strings when they share one
//! allocation. The price is that a map keyed by ids is looked up with an id, not a `&str`
//! (`TaskId` does not implement `Borrow<str>`, whose hash would have to be the string's).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock};

use md5::{Digest, Md5};

use crate::pyjson;

/// A map keyed by task id, with a hasher much cheaper than std's SipHash (foldhash, seeded
/// per process). The worker and the scheduler keep several of these with an entry per task.
pub type IdMap<V> = std::collections::HashMap<TaskId, V, foldhash::fast::RandomState>;

/// A set of task ids; see [`IdMap`].
pub type IdSet = std::collections::HashSet<TaskId, foldhash::fast::RandomState>;

/// The hash function of id strings: foldhash's quality variant, seeded once per process, so
/// that ids chosen to collide (a scheduler takes ids from the network) cannot be predicted.
static ID_HASHER: LazyLock<foldhash::quality::RandomState> = LazyLock::new(foldhash::quality::RandomState::default);

/// A task id, e.g. `Chain_data_5_3f1e0a2b9c`: a shared string and its hash.
///
/// Equality and order are the string's; [`Hash`] feeds only the stored hash to the hasher.
#[derive(Clone)]
pub struct TaskId {
    hash: u64,
    text: Arc<str>,
}

impl TaskId {
    /// Wraps an id computed elsewhere (for example received from a scheduler).
    pub fn new(id: impl Into<Arc<str>>) -> TaskId {
        let text: Arc<str> = id.into();
        TaskId { hash: ID_HASHER.hash_one(&*text), text }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for TaskId {
    fn eq(&self, other: &TaskId) -> bool {
        self.hash == other.hash && (Arc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for TaskId {}

impl Hash for TaskId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for TaskId {
    fn partial_cmp(&self, other: &TaskId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TaskId {
    fn cmp(&self, other: &TaskId) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl From<&str> for TaskId {
    fn from(id: &str) -> TaskId {
        TaskId::new(id)
    }
}

impl From<String> for TaskId {
    fn from(id: String) -> TaskId {
        TaskId::new(id)
    }
}

impl serde::Serialize for TaskId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(TaskId::new(id.as_ref()))
    }
}

/// Number of hex digits of the md5 kept in a task id.
const HASH_LEN: usize = 10;
/// Number of parameters whose values make up the readable summary.
const SUMMARY_PARAMS: usize = 3;
/// Number of code points of each value kept in the summary.
const SUMMARY_VALUE_CHARS: usize = 16;

/// Computes a task id from a family and the significant public parameters (Luigi's
/// `task_id_str`). The order of `params` does not matter.
pub fn task_id_str<'a>(family: &str, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> TaskId {
    let mut params: Vec<(&str, &str)> = params.into_iter().collect();
    params.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let hashed = pyjson::dumps_sorted_str_map(params.iter().copied());
    let digest = Md5::digest(hashed.as_bytes());
    let mut id = String::with_capacity(family.len() + 2 + SUMMARY_PARAMS * (SUMMARY_VALUE_CHARS + 1) + HASH_LEN);
    id.push_str(family);
    id.push('_');
    for (idx, (_, value)) in params.iter().take(SUMMARY_PARAMS).enumerate() {
        if idx > 0 {
            id.push('_');
        }
        for ch in value.chars().take(SUMMARY_VALUE_CHARS) {
            id.push(if ch.is_ascii_alphanumeric() || ch == '_' { ch } else { '_' });
        }
    }
    id.push('_');
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in digest.iter().take(HASH_LEN / 2) {
        id.push(HEX[usize::from(byte >> 4)] as char);
        id.push(HEX[usize::from(byte & 0xf)] as char);
    }
    TaskId::new(id)
}

/// Luigi's `repr(task)`: `Family(p1=v1, p2=v2)` over the given parameters in the given order.
pub fn task_repr<'a>(family: &str, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::with_capacity(family.len() + 16);
    out.push_str(family);
    out.push('(');
    for (idx, (name, value)) in params.into_iter().enumerate() {
        if idx > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out.push(')');
    out
}

/// The scheduler's display name (`pretty_id`): `Family(k=v, ...)` over the public
/// parameters sorted by name.
pub fn pretty_id<'a>(family: &str, public_params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut params: Vec<(&str, &str)> = public_params.into_iter().collect();
    params.sort_unstable_by(|a, b| a.0.cmp(b.0));
    task_repr(family, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_from_the_inventory() {
        assert_eq!(task_id_str("Plain", []).as_str(), "Plain__99914b932b");
        assert_eq!(
            task_id_str("my_namespace.MyTask", [("my_param", "hello")]).as_str(),
            "my_namespace.MyTask_hello_890907e7ce"
        );
        assert_eq!(task_id_str("F", [("B", "1"), ("a", "2"), ("_", "3"), ("Z", "4")]).as_str(), "F_1_4_3_5edd85ec43");
        assert_eq!(task_id_str("F", [("x", "a\"b\\c\n\t\u{1}\u{7f}/😀é")]).as_str(), "F_a_b_c________7e78631eb1");
        assert_eq!(task_id_str("Fam", [("x", "")]).as_str(), "Fam__8d47fdd09e");
        assert_eq!(
            task_id_str(
                "LongP",
                [("a", "a very long parameter value here!"), ("b", "b-b.b/b"), ("c", "ccc"), ("d", "ddd")]
            )
            .as_str(),
            "LongP_a_very_long_para_b_b_b_b_ccc_d4d7bd0fd4"
        );
    }

    #[test]
    fn ids_from_separate_allocations_are_one_key() {
        use std::hash::BuildHasher;
        let made = task_id_str("Chain", [("root", "/data"), ("n", "5")]);
        let received = TaskId::from(made.as_str().to_owned());
        assert_eq!(made, received);
        let hasher = foldhash::fast::RandomState::default();
        assert_eq!(hasher.hash_one(&made), hasher.hash_one(&received));
        let mut map = IdMap::default();
        map.insert(made.clone(), 1);
        assert_eq!(map.get(&received), Some(&1));
        assert_ne!(made, TaskId::from("Chain_5__data_0000000000"));
        assert!(TaskId::from("a") < TaskId::from("b") && TaskId::from("b") < TaskId::from("ba"));
    }

    #[test]
    fn pretty_id_sorts_by_name() {
        assert_eq!(pretty_id("A", [("n", "1"), ("b", "x")]), "A(b=x, n=1)");
        assert_eq!(task_repr("A", [("n", "1"), ("b", "x")]), "A(n=1, b=x)");
        assert_eq!(pretty_id("Plain", []), "Plain()");
    }
}
