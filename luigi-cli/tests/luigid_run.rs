//! `luigid::run_with` end to end inside this process, with a scripted scheduler: serving on a
//! free port and on a UNIX socket, the pid file's life cycle, `--state-path`, the test clock,
//! start-up errors, and the shutdown hook. Real signals and `--background` are covered by the
//! process-level test in `luigid_process.rs`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use luigi_cli::luigid::{self, Error, LuigidArgs, LuigidServices, RunHooks};
use luigi_core::config::{Configuration, Discovery, Syntax};
use luigi_core::rpc::{Method, SchedulerApi, ScriptedScheduler};
use luigi_scheduler::server::BoundAddr;
use serde_json::json;

fn args(extra: &[&str]) -> LuigidArgs {
    use clap::Parser;
    LuigidArgs::try_parse_from(std::iter::once("luigid").chain(extra.iter().copied())).expect("valid flags")
}

fn config(text: &str) -> Configuration {
    let mut config = Configuration::empty(Syntax::Cfg, Discovery::system());
    config.read_str(&format!("[core]\nno_configure_logging = true\n{text}"), Path::new("luigi.cfg")).expect("cfg");
    config
}

/// A running `run_with` on another thread.
struct Running {
    addrs: Vec<BoundAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), Error>>>,
    saved: Arc<Mutex<Vec<String>>>,
    script: Arc<ScriptedScheduler>,
}

impl Running {
    fn start(args: LuigidArgs, config: Configuration) -> Running {
        let script = Arc::new(ScriptedScheduler::new());
        let saved = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (api, saved_by_hook) = (Arc::clone(&script), Arc::clone(&saved));
        let thread = std::thread::spawn(move || {
            let hooks = RunHooks {
                on_ready: Some(Box::new(move |addrs: &[BoundAddr]| {
                    let _ = ready_tx.send(addrs.to_vec());
                })),
                shutdown: Some(Box::pin(async move {
                    let _ = stopped.await;
                })),
                config: Some(config),
            };
            luigid::run_with(
                args,
                move |context| {
                    let state_path = context.config.get_str("scheduler", "state_path")?.unwrap_or_default();
                    // The scheduler may run background tasks on the server's runtime.
                    context.runtime.spawn(async {});
                    let api: Arc<dyn SchedulerApi> = api;
                    let mut services = LuigidServices::new(api);
                    services.on_shutdown = Some(Box::new(move || {
                        saved_by_hook.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(state_path);
                        Ok(())
                    }));
                    Ok(services)
                },
                hooks,
            )
        });
        let addrs = ready_rx.recv_timeout(Duration::from_secs(20)).expect("luigid became ready");
        Running { addrs, stop: Some(stop), thread: Some(thread), saved, script }
    }

    fn stop(mut self) -> (Result<(), Error>, Vec<String>) {
        let _ = self.stop.take().expect("running").send(());
        let result = self.thread.take().expect("running").join().expect("the luigid thread");
        let saved = self.saved.lock().expect("not poisoned").clone();
        (result, saved)
    }
}

/// `POST /api/ping` over TCP or a UNIX socket; returns status line and body.
fn ping(addr: &BoundAddr) -> (String, String) {
    let request = b"POST /api/ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 33\r\n\r\ndata=%7B%22worker%22%3A%22w%22%7D";
    let mut reply = Vec::new();
    match addr {
        BoundAddr::Tcp(addr) => {
            let mut stream = std::net::TcpStream::connect(addr).expect("connect");
            stream.write_all(request).expect("write");
            stream.read_to_end(&mut reply).expect("read");
        }
        BoundAddr::Unix(path) => {
            let mut stream = std::os::unix::net::UnixStream::connect(path).expect("connect");
            stream.write_all(request).expect("write");
            stream.read_to_end(&mut reply).expect("read");
        }
    }
    let text = String::from_utf8(reply).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete reply");
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

#[test]
fn serves_on_a_free_port_and_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("luigid.pid");
    let state = dir.path().join("state.json");
    let running = Running::start(
        args(&[
            "--address",
            "127.0.0.1",
            "--port",
            "0",
            "--pidfile",
            pidfile.to_str().unwrap(),
            "--state-path",
            state.to_str().unwrap(),
        ]),
        config(""),
    );
    assert_eq!(running.addrs.len(), 1);
    assert!(matches!(running.addrs[0], BoundAddr::Tcp(addr) if addr.ip().is_loopback() && addr.port() != 0));
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap().trim(), std::process::id().to_string());
    running.script.push_reply(Method::Ping, json!({"rpc_messages": []}));
    let (status, body) = ping(&running.addrs[0]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, r#"{"response": {"rpc_messages": []}}"#);
    assert_eq!(running.script.calls(), [(Method::Ping, json!({"worker": "w"}))]);

    let (result, saved) = running.stop();
    result.expect("a clean exit");
    assert_eq!(saved, [state.to_string_lossy().into_owned()], "on_shutdown ran with --state-path applied");
    assert!(!pidfile.exists(), "the pid file is removed on a clean exit");
}

#[test]
fn serves_on_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("luigid.sock");
    let running = Running::start(
        args(&["--unix-socket", socket.to_str().unwrap()]),
        config("[luigid]\nunix_socket_mode = 660\n"),
    );
    assert_eq!(running.addrs, [BoundAddr::Unix(socket.clone())]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o660);
    running.script.push_reply(Method::Ping, json!({"rpc_messages": []}));
    assert_eq!(ping(&running.addrs[0]).0, "HTTP/1.1 200 OK");
    let (result, saved) = running.stop();
    result.expect("a clean exit");
    assert_eq!(saved.len(), 1);
    assert!(!socket.exists(), "the socket file is removed on exit");
}

#[test]
fn the_test_clock_route_exists_only_with_the_flag() {
    let clock_request = b"POST /_testing/clock HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
        Content-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"time\": 42.5}";
    for (flags, expected) in [(&["--test-clock"][..], "HTTP/1.1 200 OK"), (&[][..], "HTTP/1.1 404 Not Found")] {
        let mut all = vec!["--address", "127.0.0.1", "--port", "0"];
        all.extend_from_slice(flags);
        let running = Running::start(args(&all), config(""));
        let BoundAddr::Tcp(addr) = running.addrs[0] else { panic!("TCP expected") };
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(clock_request).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with(expected), "{flags:?}: {reply}");
        if flags.is_empty() {
            assert!(!reply.contains("42.5"));
        } else {
            assert!(reply.ends_with(r#"{"time":42.5}"#), "{reply}");
        }
        running.stop().0.expect("a clean exit");
    }
}

#[test]
fn start_up_errors() {
    let dir = tempfile::tempdir().unwrap();
    let no_api = |_: &luigid::LuigidContext| -> anyhow::Result<LuigidServices> {
        panic!("must fail before building the scheduler")
    };
    let run = |flags: &[&str], text: &str| {
        luigid::run_with(args(flags), no_api, RunHooks { config: Some(config(text)), ..RunHooks::default() })
    };

    // A live process in the pid file (pid 1 always exists).
    let pidfile: PathBuf = dir.path().join("busy.pid");
    std::fs::write(&pidfile, "1\n").unwrap();
    let err = run(&["--pidfile", pidfile.to_str().unwrap()], "").unwrap_err();
    assert!(matches!(err, Error::AlreadyRunning { pid: 1, .. }), "{err}");

    // A port that is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let err = run(&["--address", "127.0.0.1", "--port", &port], "").unwrap_err();
    assert!(err.to_string().contains("cannot listen on 127.0.0.1"), "{err}");

    // Bad server configuration.
    let err = run(&[], "[luigid]\nmax_body_size = -1\n").unwrap_err();
    assert!(err.to_string().contains("max_body_size"), "{err}");

    // --background in a threaded process.
    let err = run(&["--background", "--logdir", dir.path().to_str().unwrap()], "").unwrap_err();
    assert!(err.to_string().contains("before any thread"), "{err}");

    // make_api failing.
    let err = luigid::run_with(
        args(&["--address", "127.0.0.1", "--port", "0"]),
        |_| Err(anyhow::anyhow!("the state file is corrupt")),
        RunHooks { config: Some(config("")), ..RunHooks::default() },
    )
    .unwrap_err();
    assert!(err.to_string().contains("the state file is corrupt"), "{err}");
}
