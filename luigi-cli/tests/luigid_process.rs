//! `luigid` as a real process: signals, `--background`, `--pidfile`, `--logdir`, and config
//! discovery from the working directory.
//!
//! This test target has no libtest harness (`harness = false`), because `--background` forks,
//! which is only sound in a single-threaded process and libtest runs tests on threads. The
//! binary plays two roles: started with `LUIGID_TEST_CHILD=1` it *is* a luigid (the real
//! `luigi_cli::luigid::run` with a scripted scheduler); otherwise it runs the scenarios below,
//! each starting itself as such a child, and prints a `N passed, N failed` summary.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use luigi_cli::luigid::{self, LuigidServices};
use luigi_core::rpc::{Method, SchedulerApi, ScriptedScheduler};

fn main() {
    if std::env::var_os("LUIGID_TEST_CHILD").is_some() {
        child();
        return;
    }
    let filter: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let scenarios: [(&str, fn()); 4] = [
        ("foreground_sigterm", foreground_sigterm),
        ("background_unix_socket", background_unix_socket),
        ("background_start_failure", background_start_failure),
        ("background_refuses_a_live_pidfile", background_refuses_a_live_pidfile),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, scenario) in scenarios {
        if !filter.is_empty() && !filter.iter().any(|wanted| name.contains(wanted.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(scenario) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// The luigid side: `run` with the real command line and configuration discovery.
fn child() {
    use clap::Parser;
    let args = luigid::LuigidArgs::parse();
    let result = luigid::run(args, |context| {
        let state_path = context.config.get_str("scheduler", "state_path")?.unwrap_or_default();
        let script = ScriptedScheduler::new();
        for _ in 0..100 {
            script.push_reply(Method::Ping, serde_json::json!({"rpc_messages": []}));
        }
        let api: Arc<dyn SchedulerApi> = Arc::new(script);
        let mut services = LuigidServices::new(api);
        services.on_shutdown = Some(Box::new(move || {
            // In the background this goes to luigi-server-<date>.out.
            println!("saved state to {state_path}");
            std::io::stdout().flush()?;
            Ok(())
        }));
        Ok(services)
    });
    if let Err(err) = result {
        eprintln!("luigid: {err}");
        std::process::exit(2);
    }
}

/// A working directory with a `luigi.cfg` enabling CORS, so replies show that the file was
/// found the way Luigi finds it.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(
        dir.path().join("luigi.cfg"),
        "[cors]\nenabled = true\nallow_any_origin = true\n[scheduler]\nstate_path = from-luigi-cfg\n",
    )
    .expect("write luigi.cfg");
    dir
}

fn luigid(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args(args)
        .current_dir(dir)
        .env("LUIGID_TEST_CHILD", "1")
        .env_remove("LUIGI_CONFIG_PATH")
        .env_remove("LUIGI_CONFIG_PARSER")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}

/// Polls `condition` every 10 ms for up to 20 s.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    let mut status = None;
    wait_until("the process exits", || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status.expect("exited")
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn sigterm(pid: i32) {
    // SAFETY: signalling a child process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM {pid}");
}

fn http(stream: &mut (impl Read + Write), request: &str) -> String {
    stream.write_all(request.as_bytes()).expect("write");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    reply
}

const PING: &str = "POST /api/ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\nOrigin: http://ui\r\n\
    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 33\r\n\r\ndata=%7B%22worker%22%3A%22w%22%7D";

fn assert_ping_reply(reply: &str) {
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.to_ascii_lowercase().contains("access-control-allow-origin: *"), "luigi.cfg read: {reply}");
    assert!(reply.ends_with(r#"{"response": {"rpc_messages": []}}"#), "{reply}");
}

fn foreground_sigterm() {
    let dir = workdir();
    let logdir = dir.path().join("logs");
    let pidfile = dir.path().join("luigid.pid");
    let mut child = luigid(
        dir.path(),
        &["--address", "127.0.0.1", "--port", "0", "--logdir", "logs", "--pidfile", pidfile.to_str().unwrap()],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start luigid");
    let log = logdir.join("luigi-server.log");
    let mut port = None;
    wait_until("the log names the port", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        port = text.split("listening on http://127.0.0.1:").nth(1).and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|digits| digits.parse::<u16>().ok())
        });
        port.is_some()
    });
    let port = port.expect("a port");
    let pid = child.id() as i32;
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap().trim(), pid.to_string());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    assert_ping_reply(&http(&mut stream, PING));

    sigterm(pid);
    let status = wait_for_exit(&mut child);
    let Output { stdout, stderr, .. } = child.wait_with_output().expect("output");
    assert!(status.success(), "{status}: {}", String::from_utf8_lossy(&stderr));
    assert_eq!(String::from_utf8_lossy(&stdout), "saved state to from-luigi-cfg\n");
    assert!(!pidfile.exists(), "pid file removed");
    let text = std::fs::read_to_string(&log).expect("the log");
    let line = text.lines().find(|line| line.contains("Scheduler starting up")).expect("a start-up line");
    assert!(line.contains(&format!(" luigi.server[{pid}] INFO: ")), "Python's format: {line}");
    assert!(text.contains("received SIGTERM") && text.contains("Scheduler instance shutting down"), "{text}");
}

fn background_unix_socket() {
    let dir = workdir();
    let socket = dir.path().join("luigid.sock");
    let pidfile = dir.path().join("run/luigid.pid");
    let state = dir.path().join("state.json");
    let args = [
        "--background",
        "--unix-socket",
        socket.to_str().unwrap(),
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--logdir",
        "logs",
        "--state-path",
        state.to_str().unwrap(),
    ];
    let started = luigid(dir.path(), &args).output().expect("run luigid --background");
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    // The parent returned only once the daemon was serving.
    assert!(socket.exists());
    let pid: i32 = std::fs::read_to_string(&pidfile).expect("pid file").trim().parse().expect("a pid");
    assert!(alive(pid));
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    assert_ping_reply(&http(&mut stream, PING));

    // A second server with the same pid file refuses, on the terminal.
    let second = luigid(dir.path(), &args).output().expect("run a second luigid");
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains(&format!("already running (pid {pid}")), "{message}");

    sigterm(pid);
    wait_until("the daemon exits and cleans up", || !alive(pid) && !pidfile.exists() && !socket.exists());
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let out = std::fs::read_to_string(dir.path().join(format!("logs/luigi-server-{today}.out"))).expect("stdout file");
    assert_eq!(out, format!("saved state to {}\n", state.display()));
    let log = std::fs::read_to_string(dir.path().join("logs/luigi-server.log")).expect("the log");
    assert!(log.contains("Scheduler starting up") && log.contains("http+unix://"), "{log}");
}

fn background_start_failure() {
    let dir = workdir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("addr").port().to_string();
    let output = luigid(dir.path(), &["--background", "--logdir", "logs", "--address", "127.0.0.1", "--port", &port])
        .output()
        .expect("run luigid --background");
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("did not start") && message.contains("cannot listen on 127.0.0.1"), "{message}");
}

fn background_refuses_a_live_pidfile() {
    let dir = workdir();
    let pidfile: PathBuf = dir.path().join("luigid.pid");
    std::fs::write(&pidfile, "1").expect("write");
    let output = luigid(dir.path(), &["--background", "--logdir", "logs", "--pidfile", pidfile.to_str().unwrap()])
        .output()
        .expect("run luigid");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already running (pid 1"));
    assert!(!dir.path().join("logs").exists(), "refused before detaching");
}
