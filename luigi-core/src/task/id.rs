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
//! worker and the scheduler keep.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use md5::{Digest, Md5};

use crate::pyjson;

/// A map keyed by task id, with a hasher much cheaper than std's SipHash (foldhash, seeded
/// per process). The worker and the scheduler keep several of these with an entry per task.
pub type IdMap<V> = std::collections::HashMap<TaskId, V, foldhash::fast::RandomState>;

/// A set of task ids; see [`IdMap`].
pub type IdSet = std::collections::HashSet<TaskId, foldhash::fast::RandomState>;

/// A task id, e.g. `Chain_data_5_3f1e0a2b9c`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(Arc<str>);

impl TaskId {
    /// Wraps an id computed elsewhere (for example received from a scheduler).
    pub fn new(id: impl Into<Arc<str>>) -> TaskId {
        TaskId(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Borrow<str> for TaskId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TaskId {
    fn from(id: &str) -> TaskId {
        TaskId(id.into())
    }
}

impl From<String> for TaskId {
    fn from(id: String) -> TaskId {
        TaskId(id.into())
    }
}

impl serde::Serialize for TaskId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(TaskId(id.as_ref().into()))
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
    TaskId(id.into())
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
    fn pretty_id_sorts_by_name() {
        assert_eq!(pretty_id("A", [("n", "1"), ("b", "x")]), "A(b=x, n=1)");
        assert_eq!(task_repr("A", [("n", "1"), ("b", "x")]), "A(n=1, b=x)");
        assert_eq!(pretty_id("Plain", []), "Plain()");
    }
}
