//! `cargo xtask bench rpc`: `luigid` throughput, latency and memory, ours against Python
//! Luigi 3.8.1's, in one run on one machine.
//!
//! For each server: start it on loopback with durable state (our SQLite state database; Python
//! luigid's pickle path, which it only writes at shutdown), then
//! 1. `add_task`: `--connections` keep-alive connections, one per simulated worker, announce
//!    `--tasks` tasks with exactly the arguments a Python worker sends, in two halves;
//! 2. memory: the server's RSS growth over the second half divided by its tasks (what one more
//!    task costs, without the fixed costs a total would spread over them), and its RSS at the end;
//! 3. `get_work`: every connection loops `get_work` then `add_task(DONE)` for what it got, as
//!    a worker does, for `--seconds`.
//!
//! Python luigid gets fewer tasks by default (`--python-tasks`): its `get_work` sorts every
//! pending task on every call, so at our task count it would take hours. Rates are per
//! request either way. Results go to the terminal and, between markers, to
//! `docs/benchmarks.md`, with the command that produced them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::loadgen::{Connection, Stats, form_body, string_field};

struct Options {
    tasks: usize,
    python_tasks: usize,
    connections: usize,
    seconds: u64,
    python: bool,
    write: bool,
    /// Run our luigid without a state database (to separate HTTP/engine cost from disk cost).
    no_state: bool,
    /// Measure this luigid binary instead of building one (to compare two builds).
    luigid: Option<PathBuf>,
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("rpc") => rpc(&args[1..]),
        Some("workloads") => crate::workloads::run(&args[1..]),
        _ => bail!("usage: cargo xtask bench rpc|workloads [options]; see cargo xtask --help"),
    }
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        tasks: 100_000,
        python_tasks: 10_000,
        connections: 64,
        seconds: 10,
        python: true,
        write: true,
        no_state: false,
        luigid: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || -> anyhow::Result<usize> {
            iter.next()
                .with_context(|| format!("{arg} needs a value"))?
                .parse()
                .with_context(|| format!("{arg} takes a number"))
        };
        match arg.as_str() {
            "--tasks" => options.tasks = value()?,
            "--python-tasks" => options.python_tasks = value()?,
            "--connections" => options.connections = value()?.max(1),
            "--seconds" => options.seconds = value()? as u64,
            "--no-python" => options.python = false,
            "--no-write" => options.write = false,
            "--no-state" => options.no_state = true,
            "--luigid" => options.luigid = Some(iter.next().context("--luigid needs a path")?.into()),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

/// One server's results.
struct Measurement {
    name: &'static str,
    tasks: usize,
    add: Stats,
    work: Stats,
    /// RSS growth per task over the second half of the announced tasks.
    bytes_per_task: f64,
    /// The server's RSS once every task is announced.
    rss_after: u64,
    /// The server's CPU time (user + system, all threads) per request, in microseconds, over
    /// both phases: less noisy than the rates on a machine the generator shares.
    cpu_us_per_request: f64,
}

pub(crate) enum Server {
    Ours(PathBuf),
    Python(PathBuf),
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

fn target_dir() -> anyhow::Result<PathBuf> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(workspace_root())
        .output()
        .context("running cargo metadata")?;
    let metadata: Value = serde_json::from_slice(&output.stdout).context("reading cargo metadata")?;
    Ok(PathBuf::from(metadata["target_directory"].as_str().context("no target_directory in cargo metadata")?))
}

/// Builds release binaries of `luigi-cli` (`--bin`/`--example` arguments) and returns the
/// directory they land in.
pub(crate) fn build(what: &[&str]) -> anyhow::Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "-p", "luigi-cli"])
        .args(what)
        .current_dir(workspace_root())
        .status()
        .context("building luigi-cli")?;
    if !status.success() {
        bail!("building {} failed", what.join(" "));
    }
    Ok(target_dir()?.join("release"))
}

fn rpc(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let ours = match &options.luigid {
        Some(path) => path.clone(),
        None => build(&["--bin", "luigid"])?.join("luigid"),
    };
    let mut results = vec![measure(Server::Ours(ours), options.tasks, &options)?];
    if options.python {
        let python = crate::python::interpreter()?;
        let luigid = python.parent().context("python has no directory")?.join("luigid");
        results.push(measure(Server::Python(luigid), options.python_tasks, &options)?);
    }
    let report = report(&results, &options, args);
    println!("{report}");
    if options.write {
        write_section("rpc", "luigid RPC", &report)?;
    }
    Ok(())
}

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// CPU time used so far by process `pid` (user + system, all threads), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    // Fields 14 and 15 of /proc/PID/stat, counted after the parenthesised command name.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / clock_ticks_per_second())
        })
        .unwrap_or(0.0)
}

/// The kernel's clock tick (`getconf CLK_TCK`), 100 where it cannot be asked.
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM first so both servers shut down as in production, then make sure.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(server: &Server, dir: &Path, port: u16, no_state: bool) -> anyhow::Result<Running> {
    let log = std::fs::File::create(dir.join("server.log"))?;
    let (program, state) = match server {
        Server::Ours(bin) => (bin.clone(), dir.join("state.db")),
        Server::Python(bin) => (bin.clone(), dir.join("state.pickle")),
    };
    let mut command = Command::new(&program);
    command.args(["--address", "127.0.0.1", "--port", &port.to_string()]);
    if no_state {
        // An empty state_path (from luigi.cfg in the working directory) turns persistence off.
        std::fs::write(dir.join("luigi.cfg"), "[scheduler]\nstate_path =\n")?;
    } else {
        command.arg("--state-path").arg(&state);
    }
    let child = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let running = Running { child };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(running);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{} did not start listening; see {}", program.display(), dir.join("server.log").display())
}

fn task_request(worker: &str, i: usize) -> Value {
    json!({
        "task_id": format!("Bench_{i}_9f2c3a1b7e"), "status": "PENDING", "runnable": true, "deps": [], "new_deps": null,
        "expl": null, "resources": {}, "priority": 0, "family": "Bench", "module": "bench",
        "params": {"i": i.to_string()}, "param_visibilities": {"i": 0}, "accepts_messages": false,
        "assistant": false, "tracking_url": null, "worker": worker, "batchable": false, "batch_id": null,
        "retry_policy_dict": {"retry_count": null, "disable_hard_timeout": null, "disable_window": null}, "owners": []
    })
}

/// Runs `client(c)` for each of `connections` connections at once; returns every request's
/// latency.
async fn on_each_connection<F, Fut>(connections: usize, client: F) -> anyhow::Result<Vec<u32>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<u32>>> + Send + 'static,
{
    let handles: Vec<_> = (0..connections).map(|c| tokio::spawn(client(c))).collect();
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await??);
    }
    Ok(all)
}

/// Announces tasks `range` over `connections` keep-alive connections, as workers do; returns
/// every request's latency.
async fn announce(port: u16, connections: usize, range: std::ops::Range<usize>) -> anyhow::Result<Vec<u32>> {
    on_each_connection(connections, |c| {
        let range = range.clone();
        async move {
            let mut conn = Connection::open(port).await?;
            let worker = format!("bench-worker-{c}");
            // Encode the request once and splice in the task number, so the generator spends
            // microseconds per request, not the server's share of the core.
            let template = form_body(&task_request(&worker, 0).to_string());
            let (before, after) = template.split_once("Bench_0_").context("task id in the template")?;
            let (before_param, after_param) = after.split_once("%220%22").context("parameter in the template")?;
            for i in (range.start + c..range.end).step_by(connections) {
                let body = format!("{before}Bench_{i}_{before_param}%22{i}%22{after_param}");
                conn.post("add_task", &body).await?;
            }
            anyhow::Ok(conn.latencies)
        }
    })
    .await
}

fn measure(server: Server, tasks: usize, options: &Options) -> anyhow::Result<Measurement> {
    let name = match server {
        Server::Ours(_) => "luigi-rs luigid",
        Server::Python(_) => "Python luigid 3.8.1",
    };
    eprintln!("measuring {name} with {tasks} tasks and {} connections", options.connections);
    let dir = std::env::temp_dir().join(format!("luigi-rs-bench-{}-{}", std::process::id(), name.replace(' ', "_")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let running = start(&server, &dir, port, options.no_state)?;
    let pid = running.child.id();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let connections = options.connections;
    let cpu_before = cpu_seconds(pid);

    // Tasks are announced in two halves with the server's RSS read between them: the growth
    // over the second half is what each further task costs, without the fixed costs (SQLite's
    // page cache, allocator arenas, connection buffers) that weigh on a total at 100k tasks.
    let half = tasks / 2;
    let started = Instant::now();
    let mut add_latencies = runtime.block_on(announce(port, connections, 0..half))?;
    let rss_half = rss_bytes(pid);
    add_latencies.extend(runtime.block_on(announce(port, connections, half..tasks))?);
    let add = Stats::from_latencies(add_latencies, started.elapsed());
    let rss_after = rss_bytes(pid);

    let seconds = options.seconds;
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let work_latencies = runtime.block_on(on_each_connection(connections, |c| async move {
        let mut conn = Connection::open(port).await?;
        let worker = format!("bench-worker-{c}");
        let ask =
            form_body(&json!({"host": "bench", "assistant": false, "current_tasks": [], "worker": worker}).to_string());
        let mut done = task_request(&worker, 0);
        done["task_id"] = json!("TASK_ID_SLOT");
        done["status"] = json!("DONE");
        done["runnable"] = Value::Null;
        done["expl"] = json!("null");
        let template = form_body(&done.to_string());
        let (before, after) = template.split_once("TASK_ID_SLOT").context("task id in the template")?;
        while Instant::now() < deadline {
            let reply = conn.post("get_work", &ask).await?;
            // Ids here are letters, digits and underscores: no form encoding needed.
            let Some(task_id) = string_field(&reply, "task_id") else { break };
            let body = format!("{before}{task_id}{after}");
            conn.post("add_task", &body).await?;
        }
        anyhow::Ok(conn.latencies)
    }))?;
    let work = Stats::from_latencies(work_latencies, started.elapsed());
    let cpu = cpu_seconds(pid) - cpu_before;
    let cpu_us_per_request = cpu * 1e6 / (add.requests + work.requests).max(1) as f64;
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
    let bytes_per_task = rss_after.saturating_sub(rss_half) as f64 / (tasks - half).max(1) as f64;
    Ok(Measurement { name, tasks, add, work, bytes_per_task, rss_after, cpu_us_per_request })
}

fn report(results: &[Measurement], options: &Options, args: &[String]) -> String {
    let mut out = String::new();
    let command = format!("cargo xtask bench rpc {}", args.join(" "));
    out.push_str(&format!(
        "Command: `{}` ({} connections, `get_work` phase {} s), {} on {} cores.\n\n",
        command.trim(),
        options.connections,
        options.seconds,
        today(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    out.push_str("| server | tasks | add_task req/s | add_task p50 / p99 ms | get_work+done req/s | get_work p50 / p99 ms | memory per task | RSS after the tasks | server CPU per request |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for m in results {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} / {:.2} | {:.0} | {:.2} / {:.2} | {:.0} B | {:.0} MiB | {:.1} µs |\n",
            m.name,
            m.tasks,
            m.add.rate(),
            m.add.p50_ms,
            m.add.p99_ms,
            m.work.rate(),
            m.work.p50_ms,
            m.work.p99_ms,
            m.bytes_per_task,
            m.rss_after as f64 / 1048576.0,
            m.cpu_us_per_request
        ));
    }
    if let [ours, python] = results {
        out.push_str(&format!(
            "\nRatios (ours / Python): add_task {:.1}x, get_work {:.1}x, memory per task {:.2}x.\n",
            ours.add.rate() / python.add.rate().max(1e-9),
            ours.work.rate() / python.work.rate().max(1e-9),
            ours.bytes_per_task / python.bytes_per_task.max(1e-9)
        ));
    }
    out
}

/// Today's date (UTC) from the system clock, without a date library.
pub(crate) fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Replaces the section between `<!-- xtask bench NAME: start -->` and its end marker in
/// `docs/benchmarks.md` (appending it under `heading` the first time).
pub(crate) fn write_section(name: &str, heading: &str, report: &str) -> anyhow::Result<()> {
    let start = format!("<!-- xtask bench {name}: start -->");
    let end = format!("<!-- xtask bench {name}: end -->");
    let path = workspace_root().join("docs/benchmarks.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let section = format!("{start}\n{report}{end}");
    let updated = match (text.find(&start), text.find(&end)) {
        (Some(s), Some(e)) if e > s => format!("{}{}{}", &text[..s], section, &text[e + end.len()..]),
        _ => format!("{text}\n## {heading}\n\n{section}\n"),
    };
    std::fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
