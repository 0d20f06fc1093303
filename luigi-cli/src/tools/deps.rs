//! `luigi deps` (Python's `luigi-deps`): every task on a dependency path from a root task up to
//! the tasks of an upstream family, with the outputs each one produces.
//!
//! [`find_deps`] selects the tasks and [`write_deps`] prints them; [`run`] does both for the
//! command line with the flags of [`DepsArgs`]. The typical use is to find everything to
//! delete before re-running a fixed upstream task and what depends on it.
//!
//! Luigi enumerates every path from the root with a depth-first search and collects the tasks
//! on the paths that end at the upstream family, which takes exponential time on DAGs with
//! many shared dependencies (a chain of diamonds). On a DAG the same set is "reachable from
//! the root *and* able to reach a task of the family", which [`find_deps`] computes in linear
//! time: one traversal down from the root, then one up the reversed edges from the tasks of the
//! family. The two differ only when requirements form a cycle, which Luigi cannot run anyway:
//! then Luigi keeps only tasks on cycle-free paths, and this keeps every task on a path.
//!
//! Python prints a `set`, in an order that changes from run to run (string hashing is
//! randomised per process). The tasks here come in depth-first order from the root, requirements
//! in the order `requires()` returns them, which is stable and reads top-down.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{self, Write};

use clap::Parser;
use luigi_core::config::Configuration;
use luigi_core::{TaskId, TaskRef};

/// Why `luigi deps` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The output could not be written (a closed pipe, a full disk).
    #[error("cannot write the dependency list: {0}")]
    Write(#[from] io::Error),
    /// The `[upstream] family` option could not be read from the configuration.
    #[error("cannot read [upstream] family from the configuration: {0}")]
    Config(#[from] luigi_core::config::Error),
}

/// The flags of `luigi deps` besides the task and its parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Parser)]
#[command(name = "deps", about = "Prints the tasks on the dependency paths from a task up to an upstream task family")]
pub struct DepsArgs {
    /// Only tasks on a path from the task up to a task of this family (Luigi's
    /// `--upstream-family`, also read from `[upstream] family`); all dependencies when omitted.
    #[arg(long, value_name = "FAMILY")]
    pub upstream_family: Option<String>,
}

impl DepsArgs {
    /// The upstream family: the flag, else `[upstream] family` from the configuration, as
    /// Luigi's `upstream` config class resolves it.
    pub fn resolve_upstream_family(&self, config: &Configuration) -> Result<Option<String>, Error> {
        match &self.upstream_family {
            Some(family) => Ok(Some(family.clone())),
            None => Ok(config.get_str("upstream", "family")?),
        }
    }
}

/// The tasks on any dependency path from `root` to a task whose family is `upstream_family`,
/// both ends included; with `None`, `root` and everything it depends on, directly or not.
///
/// Each task appears once, in depth-first order from `root` (see the module documentation for
/// how this relates to Luigi's unordered set). `deps()` is called once per distinct task.
pub fn find_deps(root: &TaskRef, upstream_family: Option<&str>) -> Vec<TaskRef> {
    let graph = Graph::walk(root, upstream_family.is_some());
    let Some(family) = upstream_family else {
        return graph.tasks;
    };
    let on_path = graph.reaching(|task| task.family() == family);
    graph.tasks.into_iter().zip(on_path).filter_map(|(task, keep)| keep.then_some(task)).collect()
}

/// Prints each task as Luigi does: `   TASK: <repr>`, then one line per output target with the
/// target's [description](luigi_core::target::Target::describe) (`[FileSystem] <path>`...).
pub fn write_deps(tasks: &[TaskRef], out: &mut dyn Write) -> io::Result<()> {
    for task in tasks {
        writeln!(out, "   TASK: {}", task.repr())?;
        for target in task.output_targets() {
            writeln!(out, "                       : {}", target.describe())?;
        }
    }
    Ok(())
}

/// `luigi deps`: finds the tasks from `root` up to `args.upstream_family` and prints them to
/// `out`. Use [`DepsArgs::resolve_upstream_family`] first to honour `[upstream] family`.
pub fn run(root: &TaskRef, args: &DepsArgs, out: &mut dyn Write) -> Result<(), Error> {
    let tasks = find_deps(root, args.upstream_family.as_deref());
    write_deps(&tasks, out)?;
    Ok(out.flush()?)
}

/// The tasks reachable from a root, numbered in depth-first order, with the edges between
/// them when asked for.
struct Graph {
    /// The tasks; a task's number is its index here.
    tasks: Vec<TaskRef>,
    /// For each task, the tasks that require it (only filled when edges were asked for).
    dependents: Vec<Vec<usize>>,
}

impl Graph {
    /// Walks the requirements from `root` with an explicit stack (deep chains must not overflow
    /// the call stack), visiting requirements in `requires()` order.
    fn walk(root: &TaskRef, with_edges: bool) -> Graph {
        let mut index: HashMap<TaskId, usize> = HashMap::new();
        let mut tasks = Vec::new();
        // Edges are recorded by id because a requirement has no number until it is visited.
        let mut edges: Vec<(usize, TaskId)> = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(task) = stack.pop() {
            let number = match index.entry(task.id().clone()) {
                Entry::Occupied(_) => continue,
                Entry::Vacant(slot) => *slot.insert(tasks.len()),
            };
            let deps = task.deps();
            tasks.push(task);
            if with_edges {
                edges.extend(deps.iter().map(|dep| (number, dep.id().clone())));
            }
            // Reversed so that the first requirement is popped, and printed, first.
            stack.extend(deps.into_iter().rev().filter(|dep| !index.contains_key(dep.id())));
        }
        let mut dependents = vec![Vec::new(); if with_edges { tasks.len() } else { 0 }];
        for (parent, child) in edges {
            // Every requirement was pushed and so visited: the lookup cannot fail.
            if let Some(&child) = index.get(&child) {
                dependents[child].push(parent);
            }
        }
        Graph { tasks, dependents }
    }

    /// For each task, whether it can reach (or is) a task matching `goal`.
    fn reaching(&self, goal: impl Fn(&TaskRef) -> bool) -> Vec<bool> {
        let mut marked = vec![false; self.tasks.len()];
        let mut stack = Vec::new();
        for (number, task) in self.tasks.iter().enumerate() {
            if goal(task) {
                marked[number] = true;
                stack.push(number);
            }
        }
        while let Some(number) = stack.pop() {
            for &parent in &self.dependents[number] {
                if !marked[parent] {
                    marked[parent] = true;
                    stack.push(parent);
                }
            }
        }
        marked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use luigi_core::prelude::*;
    use luigi_core::target::MockTarget;

    /// A node of a test DAG: `edges` lists `(from, to)` pairs over node numbers.
    #[derive(Task, Clone, Debug)]
    #[task(namespace = "deps_unit")]
    struct Node {
        n: i64,
        #[param(default = "")]
        graph: String,
    }

    impl Node {
        fn children(&self) -> Vec<Node> {
            self.graph
                .split(',')
                .filter_map(|edge| edge.split_once('>'))
                .filter(|(from, _)| from.parse() == Ok(self.n))
                .filter_map(|(_, to)| to.parse().ok())
                .map(|n| Node { n, graph: self.graph.clone() })
                .collect()
        }
    }

    impl Task for Node {
        type Requires = Vec<Node>;
        type Output = Vec<MockTarget>;
        fn requires(&self) -> Vec<Node> {
            self.children()
        }
        fn output(&self) -> Vec<MockTarget> {
            (0..self.n % 3).map(|i| MockTarget::new(format!("/deps_unit/{}/{i}", self.n))).collect()
        }
    }

    /// A task of another family, reachable from `Node 100` in [`mixed`].
    #[derive(Task, Clone, Debug)]
    #[task(namespace = "deps_unit")]
    struct Goal {
        n: i64,
    }

    impl Task for Goal {
        type Requires = ();
        type Output = ();
        fn requires(&self) {}
        fn output(&self) {}
    }

    fn numbers(tasks: &[TaskRef]) -> Vec<i64> {
        tasks.iter().filter_map(|t| t.downcast_ref::<Node>()).map(|node| node.n).collect()
    }

    fn root(graph: &str) -> TaskRef {
        TaskRef::new(Node { n: 0, graph: graph.to_owned() })
    }

    #[test]
    fn all_dependencies_in_depth_first_order_once_each() {
        // 0 requires 1 and 2; both require 3 (a diamond); 3 requires 4; 2 also requires 4.
        let root = root("0>1,0>2,1>3,2>3,3>4,2>4");
        assert_eq!(numbers(&find_deps(&root, None)), [0, 1, 3, 4, 2]);
    }

    #[test]
    fn only_tasks_on_paths_to_the_family() {
        let root = root("0>1,0>2,1>3,2>3,3>4,2>4");
        let family = Node::family();
        assert_eq!(family, "deps_unit.Node");
        // Every node is of the family, so everything reachable is on a path.
        assert_eq!(numbers(&find_deps(&root, Some(family))), [0, 1, 3, 4, 2]);
        assert!(find_deps(&root, Some("Node")).is_empty(), "families compare in full");
        assert!(find_deps(&root, Some("nope")).is_empty());
    }

    #[test]
    fn a_leaf_without_requirements() {
        let root = root("");
        assert_eq!(numbers(&find_deps(&root, None)), [0]);
        assert_eq!(numbers(&find_deps(&root, Some("deps_unit.Node"))), [0]);
    }

    /// `Mixed 0` requires `Mixed 1` and `Mixed 2`; `Mixed 1` requires `Goal 1`; `Mixed 2`
    /// requires `Mixed 3`, a dead end; `Goal 1` requires nothing.
    #[derive(Task, Clone, Debug)]
    #[task(namespace = "deps_unit")]
    struct Mixed {
        n: i64,
    }

    impl Task for Mixed {
        type Requires = (Vec<Mixed>, Vec<Goal>);
        type Output = ();
        fn requires(&self) -> Self::Requires {
            match self.n {
                0 => (vec![Mixed { n: 1 }, Mixed { n: 2 }], vec![]),
                1 => (vec![], vec![Goal { n: 1 }]),
                2 => (vec![Mixed { n: 3 }], vec![]),
                _ => (vec![], vec![]),
            }
        }
        fn output(&self) {}
    }

    #[test]
    fn dead_ends_are_left_out() {
        let root = TaskRef::new(Mixed { n: 0 });
        let names = |tasks: Vec<TaskRef>| tasks.iter().map(|t| t.repr()).collect::<Vec<_>>();
        assert_eq!(
            names(find_deps(&root, Some("deps_unit.Goal"))),
            ["deps_unit.Mixed(n=0)", "deps_unit.Mixed(n=1)", "deps_unit.Goal(n=1)"]
        );
        assert_eq!(names(find_deps(&root, Some("deps_unit.Mixed"))).len(), 4, "every Mixed is on a path to itself");
        assert_eq!(names(find_deps(&root, None)).len(), 5);
    }

    #[test]
    fn cycles_terminate() {
        // 0 > 1 > 2 > 1: Luigi itself would never finish scheduling this, but the tool must.
        let root = root("0>1,1>2,2>1");
        assert_eq!(numbers(&find_deps(&root, None)), [0, 1, 2]);
        assert_eq!(numbers(&find_deps(&root, Some("deps_unit.Node"))), [0, 1, 2]);
    }

    #[test]
    fn a_chain_of_diamonds_is_linear_not_exponential() {
        // 2^60 paths from the root to the last node: Luigi's path enumeration never finishes.
        let edges: Vec<String> = (0..60)
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
        let root = root(&edges.join(","));
        assert_eq!(find_deps(&root, Some("deps_unit.Node")).len(), 181);
    }

    /// `Chain n` requires `Chain n-1`, down to 0.
    #[derive(Task, Clone, Debug)]
    #[task(namespace = "deps_unit")]
    struct Chain {
        n: i64,
    }

    impl Task for Chain {
        type Requires = Option<Chain>;
        type Output = ();
        fn requires(&self) -> Option<Chain> {
            (self.n > 0).then(|| Chain { n: self.n - 1 })
        }
        fn output(&self) {}
    }

    #[test]
    fn a_deep_chain_does_not_overflow_the_stack() {
        let root = TaskRef::new(Chain { n: 100_000 });
        let tasks = find_deps(&root, Some("deps_unit.Chain"));
        assert_eq!(tasks.len(), 100_001);
        assert_eq!(tasks.last().map(|t| t.repr()).as_deref(), Some("deps_unit.Chain(n=0)"));
    }

    #[test]
    fn prints_luigis_lines() {
        let root = root("0>5,5>4");
        let mut out = Vec::new();
        run(&root, &DepsArgs::default(), &mut out).unwrap();
        let expected = "   TASK: deps_unit.Node(n=0, graph=0>5,5>4)\n\
                        \x20  TASK: deps_unit.Node(n=5, graph=0>5,5>4)\n\
                        \x20                      : [FileSystem] /deps_unit/5/0\n\
                        \x20                      : [FileSystem] /deps_unit/5/1\n\
                        \x20  TASK: deps_unit.Node(n=4, graph=0>5,5>4)\n\
                        \x20                      : [FileSystem] /deps_unit/4/0\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn the_family_comes_from_the_flag_then_the_configuration() {
        use clap::Parser;
        use luigi_core::config::{Discovery, Syntax};
        let args = DepsArgs::try_parse_from(["deps", "--upstream-family", "A"]).unwrap();
        assert_eq!(args.upstream_family.as_deref(), Some("A"));
        let mut config = Configuration::empty(Syntax::Cfg, Discovery::system());
        config.read_str("[upstream]\nfamily = B\n", std::path::Path::new("luigi.cfg")).unwrap();
        assert_eq!(args.resolve_upstream_family(&config).unwrap().as_deref(), Some("A"));
        assert_eq!(DepsArgs::default().resolve_upstream_family(&config).unwrap().as_deref(), Some("B"));
        let empty = Configuration::empty(Syntax::Cfg, Discovery::system());
        assert_eq!(DepsArgs::default().resolve_upstream_family(&empty).unwrap(), None);
    }
}
