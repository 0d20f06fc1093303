//! `cargo xtask bench workloads`: the pipelines of design §5 (`Chain`, `FanIn`, `Tree`) run end
//! to end by our worker and by Python Luigi 3.8.1's, in one run on one machine.
//!
//! Each run is a real process: the `workloads` example of `luigi-cli` (release build) or
//! `python -m luigi --module luigi_workloads` (the Python twin, `xtask/data/luigi_workloads.py`,
//! same families, parameters and outputs, hence the same task ids), with `--workers 2`, either
//! with the in-process scheduler (`local`) or against a fresh `luigid` of the same
//! implementation (`luigid`). For every run we record the wall time, the CPU time and the peak
//! RSS of the worker process (from `wait4`), check the exit code and the number of files
//! written, then run the same command again on the complete pipeline (the re-check: completion
//! checks only). Outputs go under `/dev/shm` when it exists, so the file system's journal does
//! not dominate no-op tasks; logs go through a pipe of which only the tail is kept, for errors.
//!
//! Python gets the smaller sizes only (`--python-n`, `--python-luigid-n`): at Tree 10k it
//! already needs minutes. Against `luigid` every task costs two HTTP round trips, so our sizes
//! there stop at 100k by default (`--luigid-n`). Each of our local-scheduler sizes runs
//! `--repeat` times (3) and the run with the median wall time is reported. When the local sizes
//! include 100k and 1M, the same run also times the file system alone creating that many
//! files in one directory (with `LocalTarget`, as the tasks do, but no scheduler or worker), so the growth of our pipelines can be read against the
//! growth of what they cannot avoid doing.
//! Results go to the terminal and, between markers (one section per shape, so one shape can be
//! measured again alone with `--shapes`), to `docs/benchmarks.md` with the command.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::bench::{Server, build, free_port, start, today, write_section};

/// The Python twin of the workloads, run with `--module luigi_workloads`.
const PYTHON_WORKLOADS: &str = include_str!("../data/luigi_workloads.py");
/// Exit codes for both implementations: Luigi's recommended ones (ours are the default), so a
/// failed Python run does not exit 0.
const WORKER_CFG: &str = "[core]\nno_lock = true\n[retcode]\nalready_running = 10\nmissing_data = 20\n\
                          not_run = 25\ntask_failed = 30\nscheduling_error = 35\nunhandled_exception = 40\n";
const SHAPES: [&str; 3] = ["Chain", "FanIn", "Tree"];
const DEPTH: usize = 10;

struct Options {
    shapes: Vec<String>,
    sizes: Vec<usize>,
    luigid_sizes: Vec<usize>,
    python_sizes: Vec<usize>,
    python_luigid_sizes: Vec<usize>,
    /// Python's `Chain` is quadratic (its scheduler ranks every task on every `get_work`, and a
    /// chain has one runnable task at a time): unless `--python-n` is given, it stops here.
    python_chain_max: usize,
    modes: Vec<Mode>,
    workers: usize,
    /// Runs of each of our local-scheduler sizes; the one with the median wall time is reported
    /// (single runs of a 30 s pipeline on a shared 2-core VM vary by 15%, which is more than the
    /// growth target's margin).
    repeat: usize,
    python: bool,
    write: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Local,
    Luigid,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Luigid => "luigid",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Implementation {
    Ours,
    Python,
}

impl Implementation {
    fn name(self) -> &'static str {
        match self {
            Implementation::Ours => "luigi-rs",
            Implementation::Python => "Python Luigi 3.8.1",
        }
    }
}

/// One pipeline run and its re-check.
struct Measurement {
    shape: String,
    n: usize,
    tasks: usize,
    mode: Mode,
    implementation: Implementation,
    wall: Duration,
    cpu: Duration,
    peak_rss: u64,
    recheck: Duration,
}

impl Measurement {
    fn rate(&self) -> f64 {
        self.tasks as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

fn sizes(value: &str) -> anyhow::Result<Vec<usize>> {
    if value.is_empty() || value == "none" {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|n| {
            let n = n.trim().to_ascii_lowercase();
            let (digits, scale) = match n.strip_suffix('m') {
                Some(d) => (d, 1_000_000),
                None => n.strip_suffix('k').map_or((n.as_str(), 1), |d| (d, 1000)),
            };
            Ok(digits.parse::<usize>().with_context(|| format!("bad size {n:?}"))? * scale)
        })
        .collect()
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        shapes: SHAPES.map(str::to_owned).to_vec(),
        sizes: vec![1000, 10_000, 100_000, 1_000_000],
        luigid_sizes: vec![1000, 10_000, 100_000],
        python_sizes: vec![1000, 10_000],
        python_luigid_sizes: vec![1000],
        python_chain_max: 1000,
        modes: vec![Mode::Local, Mode::Luigid],
        workers: 2,
        repeat: 3,
        python: true,
        write: true,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--shapes" => {
                options.shapes = value()?.split(',').map(str::to_owned).collect();
                if let Some(bad) = options.shapes.iter().find(|s| !SHAPES.contains(&s.as_str())) {
                    bail!("unknown shape {bad}; the shapes are {}", SHAPES.join(", "));
                }
            }
            "--n" => options.sizes = sizes(value()?)?,
            "--luigid-n" => options.luigid_sizes = sizes(value()?)?,
            "--python-n" => {
                options.python_sizes = sizes(value()?)?;
                options.python_chain_max = usize::MAX;
            }
            "--python-luigid-n" => options.python_luigid_sizes = sizes(value()?)?,
            "--modes" => {
                options.modes = value()?
                    .split(',')
                    .map(|m| match m {
                        "local" => Ok(Mode::Local),
                        "luigid" => Ok(Mode::Luigid),
                        other => bail!("unknown mode {other}; the modes are local and luigid"),
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            "--workers" => options.workers = value()?.parse().context("--workers takes a number")?,
            "--repeat" => options.repeat = value()?.parse::<usize>().context("--repeat takes a number")?.max(1),
            "--no-python" => options.python = false,
            "--no-write" => options.write = false,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

/// The number of tasks (and files, one fewer for the wrappers) of a shape at size `n`.
fn task_count(shape: &str, n: usize) -> (usize, usize) {
    match shape {
        "Chain" => (n, n),
        "FanIn" => (n + 1, n),
        _ => {
            let nodes = (n / DEPTH).max(1) * DEPTH;
            (nodes + 1, nodes)
        }
    }
}

/// Where outputs go: tmpfs when there is one.
fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && std::fs::metadata(shm).is_ok_and(|m| !m.permissions().readonly()) {
        shm.join(format!("luigi-rs-workloads-{}", std::process::id()))
    } else {
        std::env::temp_dir().join(format!("luigi-rs-workloads-{}", std::process::id()))
    }
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let binaries = build(&["--example", "workloads", "--bin", "luigid"])?;
    let ours = Binaries { worker: binaries.join("examples/workloads"), luigid: binaries.join("luigid") };
    let python = if options.python { Some(crate::python::interpreter()?) } else { None };
    let base = scratch();
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    std::fs::write(base.join("luigi.cfg"), WORKER_CFG)?;
    std::fs::write(base.join("luigi_workloads.py"), PYTHON_WORKLOADS)?;
    // One section per shape, written as soon as the shape is measured, so a long run keeps
    // what it finished and one shape can be measured again alone.
    let result = options.shapes.iter().try_for_each(|shape| {
        let results = measure_shape(shape, &options, &ours, python.as_deref(), &base)?;
        let baseline = file_system_baseline(&options, &base)?;
        let report = report(&results, baseline, &options, args, &base);
        println!("{report}");
        if options.write {
            write_section(&format!("workloads {shape}"), &format!("Workloads: {shape}"), &report)?;
        }
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&base);
    result
}

struct Binaries {
    worker: PathBuf,
    luigid: PathBuf,
}

fn measure_shape(
    shape: &str,
    options: &Options,
    ours: &Binaries,
    python: Option<&Path>,
    base: &Path,
) -> anyhow::Result<Vec<Measurement>> {
    let mut results = Vec::new();
    for &mode in &options.modes {
        let our_sizes = if mode == Mode::Local { &options.sizes } else { &options.luigid_sizes };
        // Repeated runs go in rounds over all sizes, not all runs of one size in a row: a shared
        // VM's speed drifts over minutes (by 2x and more within one session here), and the growth
        // ratio compares sizes, so every size should see the same spread of host conditions.
        let runs = if mode == Mode::Local { options.repeat } else { 1 };
        let mut by_size: Vec<Vec<Measurement>> = our_sizes.iter().map(|_| Vec::new()).collect();
        for _ in 0..runs {
            for (&n, repeated) in our_sizes.iter().zip(&mut by_size) {
                repeated.push(measure(shape, n, mode, Implementation::Ours, ours, python, base, options.workers)?);
            }
        }
        results.extend(by_size.into_iter().map(|repeated| median_by_key(repeated, |m| m.wall)));
        let Some(python) = python else { continue };
        let python_sizes = if mode == Mode::Local { &options.python_sizes } else { &options.python_luigid_sizes };
        for &n in python_sizes.iter().filter(|&&n| shape != "Chain" || n <= options.python_chain_max) {
            results.push(measure(shape, n, mode, Implementation::Python, ours, Some(python), base, options.workers)?);
        }
    }
    Ok(results)
}

#[allow(clippy::too_many_arguments)]
fn measure(
    shape: &str,
    n: usize,
    mode: Mode,
    implementation: Implementation,
    ours: &Binaries,
    python: Option<&Path>,
    base: &Path,
    workers: usize,
) -> anyhow::Result<Measurement> {
    let (tasks, files) = task_count(shape, n);
    eprintln!("{} {shape} n={n} ({tasks} tasks), {} scheduler", implementation.name(), mode.name());
    let root = base.join(format!("{shape}-{n}-{}-{}", mode.name(), implementation as u8));
    let mut command = match implementation {
        Implementation::Ours => Command::new(&ours.worker),
        Implementation::Python => {
            let mut command = Command::new(python.context("no Python interpreter")?);
            command.args(["-m", "luigi", "--module", "luigi_workloads"]).env("PYTHONPATH", base);
            command
        }
    };
    command.current_dir(base).arg(shape).arg("--n").arg(n.to_string()).arg("--root").arg(&root);
    command.args(["--workers", &workers.to_string()]);
    let scheduler = match mode {
        Mode::Local => {
            command.arg("--local-scheduler");
            None
        }
        Mode::Luigid => {
            let dir = base.join(format!("luigid-{shape}-{n}-{}", implementation as u8));
            std::fs::create_dir_all(&dir)?;
            let server = match implementation {
                Implementation::Ours => Server::Ours(ours.luigid.clone()),
                Implementation::Python => {
                    Server::Python(python.context("no Python interpreter")?.with_file_name("luigid"))
                }
            };
            let port = free_port()?;
            let running = start(&server, &dir, port, false)?;
            command.args(["--scheduler-host", "127.0.0.1", "--scheduler-port", &port.to_string()]);
            Some(running)
        }
    };
    let first = timed(&mut command)?;
    let written = count_files(&root);
    if written != files {
        bail!(
            "{} {shape} n={n} wrote {written} files, not {files}; its log ends:\n{}",
            implementation.name(),
            first.tail
        );
    }
    let recheck = timed(&mut command)?;
    drop(scheduler);
    let _ = std::fs::remove_dir_all(&root);
    let measurement = Measurement {
        shape: shape.to_owned(),
        n,
        tasks,
        mode,
        implementation,
        wall: first.wall,
        cpu: first.cpu,
        peak_rss: first.peak_rss,
        recheck: recheck.wall,
    };
    eprintln!(
        "  {:.2} s ({:.0} tasks/s), CPU {:.2} s, peak RSS {:.0} MiB, re-check {:.2} s",
        measurement.wall.as_secs_f64(),
        measurement.rate(),
        measurement.cpu.as_secs_f64(),
        measurement.peak_rss as f64 / 1048576.0,
        measurement.recheck.as_secs_f64()
    );
    Ok(measurement)
}

/// A finished process: its wall and CPU time, peak RSS and the tail of its output.
struct Timed {
    wall: Duration,
    cpu: Duration,
    peak_rss: u64,
    tail: String,
}

/// How much of a run's output is kept for error messages.
const TAIL: usize = 16 * 1024;

/// Runs `command` to completion (it must exit 0) and measures it with `wait4`.
fn timed(command: &mut Command) -> anyhow::Result<Timed> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let mut stderr = child.stderr.take().context("no stderr pipe")?;
    let reader = std::thread::spawn(move || {
        let mut tail = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(read) = stderr.read(&mut buf) {
            if read == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..read]);
            if tail.len() > 2 * TAIL {
                tail.drain(..tail.len() - TAIL);
            }
        }
        String::from_utf8_lossy(&tail[tail.len().saturating_sub(TAIL)..]).into_owned()
    });
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: `usage` is a plain C struct that wait4 fills in; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, not yet reaped (we never call `child.wait`), and the
    // pointers are to live locals.
    let reaped = loop {
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break reaped;
    };
    let wall = started.elapsed();
    if reaped != pid {
        bail!("waiting for {command:?}: {}", std::io::Error::last_os_error());
    }
    let tail = reader.join().unwrap_or_default();
    let status = std::process::ExitStatus::from_raw(status);
    if !status.success() {
        bail!("{command:?} failed ({status}); its log ends:\n{tail}");
    }
    let seconds = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    Ok(Timed {
        wall,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        // ru_maxrss is in KiB on Linux.
        peak_rss: usage.ru_maxrss as u64 * 1024,
        tail,
    })
}

/// The middle element of a non-empty list, by `key` (the upper one of an even count).
fn median_by_key<T, K: Ord>(mut items: Vec<T>, key: impl FnMut(&T) -> K) -> T {
    items.sort_by_key(key);
    items.swap_remove(items.len() / 2)
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => count_files(&entry.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

/// The time the file system alone takes to create `n` files the way a task writes its output
/// (a completeness check, then `LocalTarget`'s atomic write), all in one directory, from one thread:
/// the part of every local run that no scheduler or worker can make faster. Each run uses a
/// fresh directory.
fn files_alone(n: usize, run: usize, base: &Path) -> anyhow::Result<Duration> {
    use std::io::Write;

    use luigi_core::target::{FileSystemTarget, LocalTarget, Target};

    let dir = base.join(format!("files-alone-{n}-{run}"));
    std::fs::create_dir_all(&dir)?;
    let started = Instant::now();
    for i in 0..n {
        // What a workload task does to the file system: its completeness check (a stat), then
        // its atomic write through the same `LocalTarget` (on Linux a nameless file linked in).
        let target = LocalTarget::new(dir.join(format!("{i}.txt")));
        if !target.exists()? {
            let mut out = target.open_write()?;
            out.write_all(b"done\n")?;
            out.commit()?;
        }
    }
    let elapsed = started.elapsed();
    std::fs::remove_dir_all(&dir)?;
    Ok(elapsed)
}

/// [`files_alone`] at 100k and 1M (medians of `--repeat` rounds, each timing both sizes, for
/// the reason runs go in rounds in `measure_shape`), when the local runs include both sizes.
fn file_system_baseline(options: &Options, base: &Path) -> anyhow::Result<Option<(Duration, Duration)>> {
    let both = options.sizes.contains(&100_000) && options.sizes.contains(&1_000_000);
    if !both || !options.modes.contains(&Mode::Local) {
        return Ok(None);
    }
    let (mut small, mut large) = (Vec::new(), Vec::new());
    for run in 0..options.repeat.max(1) {
        small.push(files_alone(100_000, run, base)?);
        large.push(files_alone(1_000_000, run, base)?);
    }
    Ok(Some((median_by_key(small, |t| *t), median_by_key(large, |t| *t))))
}

fn report(
    results: &[Measurement],
    baseline: Option<(Duration, Duration)>,
    options: &Options,
    args: &[String],
    base: &Path,
) -> String {
    let mut out = String::new();
    let command = format!("cargo xtask bench workloads {}", args.join(" "));
    out.push_str(&format!(
        "Command: `{}` (`--workers {}`, outputs under `{}`; our local-scheduler rows are the median of {} runs), \
         {} on {} cores.\n\n",
        command.trim(),
        options.workers,
        base.parent().unwrap_or(base).display(),
        options.repeat,
        today(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    out.push_str(
        "| shape | N | tasks | scheduler | implementation | wall s | tasks/s | CPU s | peak RSS MiB | re-check s |\n",
    );
    out.push_str("|---|---:|---:|---|---|---:|---:|---:|---:|---:|\n");
    for m in results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2} |\n",
            m.shape,
            m.n,
            m.tasks,
            m.mode.name(),
            m.implementation.name(),
            m.wall.as_secs_f64(),
            m.rate(),
            m.cpu.as_secs_f64(),
            m.peak_rss as f64 / 1048576.0,
            m.recheck.as_secs_f64()
        ));
    }
    let find = |shape: &str, n: usize, mode: Mode, implementation: Implementation| {
        results.iter().find(|m| m.shape == shape && m.n == n && m.mode == mode && m.implementation == implementation)
    };
    let mut lines = Vec::new();
    for shape in &options.shapes {
        for mode in [Mode::Local, Mode::Luigid] {
            for n in [1000, 10_000] {
                if let (Some(ours), Some(python)) =
                    (find(shape, n, mode, Implementation::Ours), find(shape, n, mode, Implementation::Python))
                {
                    lines.push(format!(
                        "- {shape} N={n}, {} scheduler: {:.0}x Python Luigi's tasks/s.",
                        mode.name(),
                        ours.rate() / python.rate().max(1e-9)
                    ));
                }
            }
            if let (Some(small), Some(big)) =
                (find(shape, 100_000, mode, Implementation::Ours), find(shape, 1_000_000, mode, Implementation::Ours))
            {
                lines.push(format!(
                    "- {shape}, {} scheduler: time(1M)/time(100k) = {:.1}; 1M tasks in {:.1} s, peak RSS {:.0} MiB.",
                    mode.name(),
                    big.wall.as_secs_f64() / small.wall.as_secs_f64().max(1e-9),
                    big.wall.as_secs_f64(),
                    big.peak_rss as f64 / 1048576.0
                ));
                if let (Mode::Local, Some((small, big))) = (mode, baseline) {
                    lines.push(format!(
                        "- The file system alone (100k and 1M files checked, then written as a task's `LocalTarget` \
                         writes them, into one directory by one thread, no scheduler or worker, same run): {:.2} s and {:.2} s, time(1M)/time(100k) = {:.1}.",
                        small.as_secs_f64(),
                        big.as_secs_f64(),
                        big.as_secs_f64() / small.as_secs_f64().max(1e-9)
                    ));
                }
            }
        }
    }
    if !lines.is_empty() {
        out.push('\n');
        out.push_str(&lines.join("\n"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_suffixes() {
        assert_eq!(sizes("1k,10K,2m,7").unwrap(), vec![1000, 10_000, 2_000_000, 7]);
        assert!(sizes("ten").is_err());
        assert!(sizes("none").unwrap().is_empty());
    }

    #[test]
    fn task_counts_match_the_shapes() {
        assert_eq!(task_count("Chain", 1000), (1000, 1000));
        assert_eq!(task_count("FanIn", 1000), (1001, 1000));
        assert_eq!(task_count("Tree", 10_000), (10_001, 10_000));
        assert_eq!(task_count("Tree", 5), (11, 10));
    }
}
