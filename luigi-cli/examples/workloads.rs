//! The benchmark workloads of design §5, twins of `luigi_workloads.py` (same families, parameter
//! names and types, and output paths, so task ids match and Rust and Python workers can share
//! one scheduler on the same pipeline):
//!
//! - `Chain --n N`: `Chain(n)` requires `Chain(n-1)` ... `Chain(1)`; N tasks, N files.
//! - `FanIn --n N`: a wrapper requiring `Leaf(0..N)`; N+1 tasks, N files.
//! - `Tree --n N [--depth D]`: D layers of width W = max(1, N/D); `Node(layer, i)` requires
//!   `Node(layer-1, j)` for j in {i, i+1, i+W/2 (even i only)} mod W; a wrapper requires the top
//!   layer. W*D+1 tasks, W*D files.
//!
//! Every task writes one tiny file under `--root`. Run, for example:
//! `cargo run --release -p luigi-cli --example workloads -- Tree --n 100000 --root DIR --local-scheduler --workers 2`
//!
//! Like the `luigi` and `luigid` binaries it runs on mimalloc, as we advise for any pipeline
//! binary with hundreds of thousands of tasks: glibc's malloc was an eighth of a million-task
//! run, and its cost per allocation grew with the heap.

use std::io::Write;

use luigi_core::prelude::*;

fn touch(target: &LocalTarget, text: &str) -> Result<(), BoxError> {
    let mut out = target.open_write()?;
    out.write_all(text.as_bytes())?;
    out.commit()?;
    Ok(())
}

/// A linear chain of tasks.
#[derive(Task, Clone, Debug)]
struct Chain {
    root: String,
    n: i64,
}

impl Task for Chain {
    type Requires = Option<Chain>;
    type Output = LocalTarget;

    fn requires(&self) -> Option<Chain> {
        (self.n > 1).then(|| Chain { root: self.root.clone(), n: self.n - 1 })
    }

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/chain/{}.txt", self.root, self.n))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        touch(&self.output(), &format!("c{}\n", self.n))
    }
}

/// One independent task.
#[derive(Task, Clone, Debug)]
struct Leaf {
    root: String,
    i: i64,
}

impl Task for Leaf {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/leaf/{}.txt", self.root, self.i))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        touch(&self.output(), &format!("l{}\n", self.i))
    }
}

/// A wrapper requiring `n` leaves.
#[derive(Task, Clone, Debug)]
#[task(wrapper)]
struct FanIn {
    root: String,
    n: i64,
}

impl Task for FanIn {
    type Requires = Vec<Leaf>;
    type Output = ();

    fn requires(&self) -> Vec<Leaf> {
        (0..self.n).map(|i| Leaf { root: self.root.clone(), i }).collect()
    }

    fn output(&self) {}
}

/// A node of the layered DAG.
#[derive(Task, Clone, Debug)]
struct Node {
    root: String,
    width: i64,
    layer: i64,
    i: i64,
}

impl Task for Node {
    type Requires = Vec<Node>;
    type Output = LocalTarget;

    fn requires(&self) -> Vec<Node> {
        if self.layer == 0 {
            return Vec::new();
        }
        let w = self.width;
        let mut js = vec![self.i, (self.i + 1) % w];
        if self.i % 2 == 0 {
            js.push((self.i + w / 2) % w);
        }
        js.sort_unstable();
        js.dedup();
        js.into_iter().map(|j| Node { root: self.root.clone(), width: w, layer: self.layer - 1, i: j }).collect()
    }

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/node/{}_{}.txt", self.root, self.layer, self.i))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        touch(&self.output(), &format!("n{}_{}\n", self.layer, self.i))
    }
}

/// A wrapper requiring the top layer of a `depth`-layer DAG of about `n` nodes.
#[derive(Task, Clone, Debug)]
#[task(wrapper)]
struct Tree {
    root: String,
    n: i64,
    #[param(default = 10)]
    depth: i64,
}

impl Task for Tree {
    type Requires = Vec<Node>;
    type Output = ();

    fn requires(&self) -> Vec<Node> {
        let width = (self.n / self.depth.max(1)).max(1);
        (0..width).map(|i| Node { root: self.root.clone(), width, layer: self.depth - 1, i }).collect()
    }

    fn output(&self) {}
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
