//! `luigi deps-tree` (Python's `luigi-deps-tree`): a task and everything it requires as a tree
//! in the terminal, with each task's significant parameters and whether it is complete.
//!
//! [`print_tree`] writes what Luigi writes, byte for byte: an empty line, then one line per
//! task, `└─--` before the last requirement of a task and `|---` before the others, `|   `
//! and four spaces continuing the branches, and `[<Class>-<params> (<status>)]` where
//! `<params>` is the Python `repr` of the dict of significant, non-private parameters in
//! declaration order, and `<status>` is `COMPLETE` in green or `PENDING` in blue (ANSI
//! escapes, always, as Luigi does). [`node_label`] builds one such label.
//!
//! A task required by several tasks is printed again, with its whole subtree, under each of
//! them, as Luigi does. On DAGs with many shared dependencies that output grows exponentially
//! (a chain of 40 diamonds would print 2^40 lines), so [`print_tree`] takes a line limit and
//! ends with a note when it stops early; the command line defaults to [`DEFAULT_MAX_LINES`]
//! and `--max-lines 0` lifts the limit. Below the limit the output is Luigi's.
//!
//! Two more differences, both where Luigi does needless work or fails: `complete()` runs once
//! per distinct task and its answer is reused where the task appears again (Luigi asks
//! again at every appearance, which for remote targets means another round trip), and a task
//! that requires one of its own ancestors is printed once more, marked `(cycle)`, without its
//! requirements (Luigi recurses until Python's recursion limit). The walk uses an explicit
//! stack, so deep chains do not overflow the call stack either.
//!
//! The class name is the task family after its last dot (`etl.Clean` prints `Clean`), which is
//! Python's class name unless a task sets its family to something other than
//! `namespace.StructName`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};

use clap::Parser;
use luigi_core::param::python_repr;
use luigi_core::{BoxError, TaskId, TaskRef};

/// How many task lines `luigi deps-tree` prints by default before it stops.
pub const DEFAULT_MAX_LINES: usize = 100_000;

/// Luigi's escape sequences: bright green, bright blue, reset.
const GREEN: &str = "\x1b[92m";
const BLUE: &str = "\x1b[94m";
const RESET: &str = "\x1b[0m";

/// Why `luigi deps-tree` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The output could not be written (a closed pipe, a full disk).
    #[error("cannot write the dependency tree: {0}")]
    Write(#[from] io::Error),
    /// A task's `complete()` failed, for example because its target's storage was unreachable.
    #[error("cannot tell whether {task} is complete: {source}")]
    Complete {
        /// The task, as `Family(param=value, ...)`.
        task: String,
        /// What `complete()` returned.
        source: BoxError,
    },
}

/// The flags of `luigi deps-tree` besides the task and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "deps-tree", about = "Prints a task and its dependencies as a tree, with their completion status")]
pub struct DepsTreeArgs {
    /// Stop after this many task lines; 0 prints the whole tree however long (shared
    /// dependencies are repeated under every task that requires them).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_LINES)]
    pub max_lines: usize,
}

impl Default for DepsTreeArgs {
    fn default() -> Self {
        DepsTreeArgs { max_lines: DEFAULT_MAX_LINES }
    }
}

/// What [`print_tree`] printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeSummary {
    /// The number of task lines.
    pub lines: usize,
    /// Whether it stopped at the line limit with tasks left to print.
    pub truncated: bool,
}

/// `luigi deps-tree`: prints the tree under `root` to `out`, within `args.max_lines`.
pub fn run(root: &TaskRef, args: &DepsTreeArgs, out: &mut dyn Write) -> Result<TreeSummary, Error> {
    let summary = print_tree(root, (args.max_lines > 0).then_some(args.max_lines), out)?;
    out.flush()?;
    Ok(summary)
}

/// One pending line of the tree: a task, how deep it is, and whether it is the last
/// requirement of its parent.
struct Frame {
    task: TaskRef,
    depth: usize,
    last: bool,
}

/// Prints the tree under `root` as Luigi does (see the module documentation), stopping after
/// `max_lines` task lines if given.
pub fn print_tree(root: &TaskRef, max_lines: Option<usize>, out: &mut dyn Write) -> Result<TreeSummary, Error> {
    let mut stack = vec![Frame { task: root.clone(), depth: 0, last: true }];
    // The branch columns left of the current line: one 4-byte segment per ancestor.
    let mut indent = String::new();
    // The ids of the current line's ancestors, in order and as a set, to spot cycles.
    let mut path: Vec<TaskId> = Vec::new();
    let mut on_path: HashSet<TaskId> = HashSet::new();
    let mut complete: HashMap<TaskId, bool> = HashMap::new();
    let mut line = String::new();
    let mut summary = TreeSummary { lines: 0, truncated: false };
    while let Some(Frame { task, depth, last }) = stack.pop() {
        if max_lines.is_some_and(|max| summary.lines >= max) {
            summary.truncated = true;
            write!(
                out,
                "\n... stopped after {} lines: dependencies shared by several tasks are printed again under \
                 each of them; pass --max-lines 0 to print the whole tree",
                summary.lines
            )?;
            break;
        }
        for id in path.drain(depth..) {
            on_path.remove(&id);
        }
        indent.truncate(depth * 4);
        let is_complete = match complete.get(task.id()) {
            Some(&done) => done,
            None => {
                let done = task.complete().map_err(|source| Error::Complete { task: task.repr(), source })?;
                complete.insert(task.id().clone(), done);
                done
            }
        };
        let cycle = on_path.contains(task.id());
        line.clear();
        line.push('\n');
        line.push_str(&indent);
        line.push_str(if last { "└─--" } else { "|---" });
        line.push_str(&node_label(&task, is_complete));
        if cycle {
            line.push_str(" (cycle)");
        }
        out.write_all(line.as_bytes())?;
        summary.lines += 1;
        if cycle {
            continue;
        }
        indent.push_str(if last { "    " } else { "|   " });
        path.push(task.id().clone());
        on_path.insert(task.id().clone());
        let deps = task.deps();
        let count = deps.len();
        // Reversed so that the first requirement is popped, and printed, first.
        for (position, dep) in deps.into_iter().enumerate().rev() {
            stack.push(Frame { task: dep, depth: depth + 1, last: position + 1 == count });
        }
    }
    out.write_all(b"\n")?;
    Ok(summary)
}

/// `[<Class>-<params> (<status>)]` for one task, as Luigi prints it: `<Class>` is the family
/// after its last dot, `<params>` the Python dict `repr` of the significant, non-private
/// parameters (Luigi's `to_str_params(only_significant=True)`), `<status>` a coloured
/// `COMPLETE` or `PENDING`.
pub fn node_label(task: &TaskRef, complete: bool) -> String {
    let family = task.family();
    let class = family.rsplit('.').next().unwrap_or(family);
    let mut label = String::with_capacity(64);
    label.push('[');
    label.push_str(class);
    label.push_str("-{");
    for (position, (name, value)) in task.str_params(true, false).into_iter().enumerate() {
        if position > 0 {
            label.push_str(", ");
        }
        label.push_str(&python_repr(name));
        label.push_str(": ");
        label.push_str(&python_repr(&value));
    }
    let (colour, status) = if complete { (GREEN, "COMPLETE") } else { (BLUE, "PENDING") };
    let _ = write!(label, "}} ({colour}{status}{RESET})]");
    label
}

#[cfg(test)]
mod tests {
    use super::*;
    use luigi_core::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static COMPLETE_CALLS: AtomicUsize = AtomicUsize::new(0);

    /// Node `n` of a DAG described by `graph` (`from>to` pairs); complete when `n` is even.
    #[derive(Task, Clone, Debug)]
    #[task(namespace = "tree.unit")]
    struct Node {
        n: i64,
        graph: String,
        #[param(significant = false, default = 0)]
        noise: i64,
        #[param(visibility = "private", default = "p")]
        private: String,
        #[param(visibility = "hidden", default = "h")]
        hidden: String,
    }

    impl Task for Node {
        type Requires = Vec<Node>;
        type Output = ();
        fn requires(&self) -> Vec<Node> {
            self.graph
                .split(',')
                .filter_map(|edge| edge.split_once('>'))
                .filter(|(from, _)| from.parse() == Ok(self.n))
                .filter_map(|(_, to)| to.parse().ok())
                .map(|n| Node { n, ..self.clone() })
                .collect()
        }
        fn output(&self) {}
        fn complete(&self) -> Result<bool, BoxError> {
            if self.graph.starts_with("count") {
                COMPLETE_CALLS.fetch_add(1, Ordering::SeqCst);
            }
            if self.n < 0 {
                return Err("storage unreachable".into());
            }
            Ok(self.n % 2 == 0)
        }
    }

    fn node(n: i64, graph: &str) -> TaskRef {
        TaskRef::new(Node { n, graph: graph.to_owned(), noise: 0, private: "p".into(), hidden: "h".into() })
    }

    fn tree(root: &TaskRef, max_lines: Option<usize>) -> (String, TreeSummary) {
        let mut out = Vec::new();
        let summary = print_tree(root, max_lines, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), summary)
    }

    /// The output without colours, and with `graph` left out of the labels.
    fn plain(text: &str, graph: &str) -> String {
        text.replace(GREEN, "")
            .replace(BLUE, "")
            .replace(RESET, "")
            .replace(&format!(", 'graph': '{graph}'"), "")
            .replace(", 'hidden': 'h'", "")
    }

    #[test]
    fn labels_follow_luigi() {
        let task = node(3, "x'y");
        assert_eq!(
            node_label(&task, false),
            "[Node-{'n': '3', 'graph': \"x'y\", 'hidden': 'h'} (\x1b[94mPENDING\x1b[0m)]"
        );
        assert!(node_label(&task, true).ends_with("(\x1b[92mCOMPLETE\x1b[0m)]"));
    }

    #[test]
    fn connectors_and_indentation() {
        let graph = "1>2,1>3,2>4,2>5,3>6,6>7,6>8";
        let (text, summary) = tree(&node(1, graph), None);
        let expected = "\n\
            └─--[Node-{'n': '1'} (PENDING)]\n\
            \x20   |---[Node-{'n': '2'} (COMPLETE)]\n\
            \x20   |   |---[Node-{'n': '4'} (COMPLETE)]\n\
            \x20   |   └─--[Node-{'n': '5'} (PENDING)]\n\
            \x20   └─--[Node-{'n': '3'} (PENDING)]\n\
            \x20       └─--[Node-{'n': '6'} (COMPLETE)]\n\
            \x20           |---[Node-{'n': '7'} (PENDING)]\n\
            \x20           └─--[Node-{'n': '8'} (COMPLETE)]\n";
        assert_eq!(plain(&text, graph), expected);
        assert_eq!(summary, TreeSummary { lines: 8, truncated: false });
    }

    #[test]
    fn a_single_task() {
        let (text, summary) = tree(&node(2, ""), None);
        assert_eq!(plain(&text, ""), "\n└─--[Node-{'n': '2'} (COMPLETE)]\n");
        assert_eq!(summary.lines, 1);
    }

    #[test]
    fn shared_dependencies_are_repeated_and_completion_is_asked_once() {
        let graph = "count,1>2,1>3,2>4,3>4,4>5";
        let before = COMPLETE_CALLS.load(Ordering::SeqCst);
        let (text, _) = tree(&node(1, graph), None);
        assert_eq!(COMPLETE_CALLS.load(Ordering::SeqCst) - before, 5, "five distinct tasks");
        let expected = "\n\
            └─--[Node-{'n': '1'} (PENDING)]\n\
            \x20   |---[Node-{'n': '2'} (COMPLETE)]\n\
            \x20   |   └─--[Node-{'n': '4'} (COMPLETE)]\n\
            \x20   |       └─--[Node-{'n': '5'} (PENDING)]\n\
            \x20   └─--[Node-{'n': '3'} (PENDING)]\n\
            \x20       └─--[Node-{'n': '4'} (COMPLETE)]\n\
            \x20           └─--[Node-{'n': '5'} (PENDING)]\n";
        assert_eq!(plain(&text, graph), expected);
    }

    #[test]
    fn the_line_limit_stops_exponential_output() {
        // 30 diamonds in a row: 2^30 root-to-bottom paths, so Luigi would print billions of lines.
        let edges: Vec<String> = (0..30)
            .flat_map(|i| {
                let (top, left, right, bottom) = (i * 3, i * 3 + 1, i * 3 + 2, i * 3 + 3);
                [
                    format!("{top}>{left}"),
                    format!("{top}>{right}"),
                    format!("{left}>{bottom}"),
                    format!("{right}>{bottom}"),
                ]
            })
            .collect();
        let (text, summary) = tree(&node(0, &edges.join(",")), Some(1000));
        assert_eq!(summary, TreeSummary { lines: 1000, truncated: true });
        assert_eq!(text.matches("\n|").count() + text.matches("\n ").count() + text.matches("\n└").count(), 1000);
        assert!(text.ends_with("pass --max-lines 0 to print the whole tree\n"), "{}", &text[text.len() - 200..]);

        // Exactly at the limit with nothing left: not truncated, no note.
        let (text, summary) = tree(&node(1, "1>2"), Some(2));
        assert_eq!(summary, TreeSummary { lines: 2, truncated: false });
        assert!(!text.contains("stopped"));
    }

    #[test]
    fn cycles_are_marked_not_followed() {
        let graph = "1>2,2>3,3>1,3>4";
        let (text, summary) = tree(&node(1, graph), None);
        let expected = "\n\
            └─--[Node-{'n': '1'} (PENDING)]\n\
            \x20   └─--[Node-{'n': '2'} (COMPLETE)]\n\
            \x20       └─--[Node-{'n': '3'} (PENDING)]\n\
            \x20           |---[Node-{'n': '1'} (PENDING)] (cycle)\n\
            \x20           └─--[Node-{'n': '4'} (COMPLETE)]\n";
        assert_eq!(plain(&text, graph), expected);
        assert_eq!(summary.lines, 5);
        // A task twice among its parent's requirements is not a cycle.
        let (text, _) = tree(&node(1, "1>2,1>2"), None);
        assert_eq!(text.matches("(cycle)").count(), 0);
        assert_eq!(text.matches("'n': '2'").count(), 2);
    }

    #[test]
    fn a_failing_complete_is_an_error_naming_the_task() {
        let mut out = Vec::new();
        let err = print_tree(&node(1, "1>-1"), None, &mut out).unwrap_err();
        assert!(matches!(&err, Error::Complete { task, .. } if task.starts_with("tree.unit.Node(n=-1,")), "{err}");
        assert!(err.to_string().contains("storage unreachable"), "{err}");
    }

    #[test]
    fn max_lines_flag() {
        use clap::Parser;
        assert_eq!(DepsTreeArgs::try_parse_from(["deps-tree"]).unwrap(), DepsTreeArgs::default());
        assert_eq!(DepsTreeArgs::try_parse_from(["deps-tree", "--max-lines", "0"]).unwrap().max_lines, 0);
        assert!(DepsTreeArgs::try_parse_from(["deps-tree", "--max-lines", "-1"]).is_err());
        let mut out = Vec::new();
        let summary = run(&node(1, "1>2,2>3"), &DepsTreeArgs { max_lines: 0 }, &mut out).unwrap();
        assert_eq!(summary.lines, 3);
        let summary = run(&node(1, "1>2,2>3"), &DepsTreeArgs { max_lines: 1 }, &mut out).unwrap();
        assert_eq!(summary, TreeSummary { lines: 1, truncated: true });
    }
}
