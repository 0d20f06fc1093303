//! The `tracing` layer that routes events like Python's `logging` module would.
//!
//! An event's target is its logger name, with `::` read as `.` (so `luigi_worker::remote` is
//! the logger `luigi_worker.remote`, a child of `luigi_worker`; Luigi's own events use the
//! targets `luigi-interface` and `luigi.server`, as in Python). The logger's effective level is
//! its own or its nearest configured ancestor's; a passing event goes to the handlers of the
//! logger and, while `propagate` holds, of each ancestor up to the root, each handler applying
//! its own level and format. An event that meets no handler at all goes to stderr as its bare
//! message when it is a warning or worse, like Python's last-resort handler.
//!
//! Level decisions depend only on a callsite's target and level, so they are answered once per
//! callsite through `register_callsite` (disabled events then cost nothing). A passing event
//! is formatted in per-thread buffers reused from event to event, and the clock (with the local
//! time zone) is read only when some handler's format shows the time: at `DEBUG` a worker logs
//! several lines per task, and those allocations and zone lookups were a large share of the
//! logging's cost in a million-task run. `RUST_LOG`, when
//! given, replaces the loggers' levels by its own directives; handler levels still apply.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};

use super::format::{Format, Record, append_field};
use super::spec::{Destination, Spec, WARNING, python_level};

enum Sink {
    Stderr,
    Stdout,
    File(Mutex<File>),
    Null,
}

struct Handler {
    level: i64,
    format: Format,
    sink: Sink,
}

struct Logger {
    level: i64,
    handlers: Vec<usize>,
    propagate: bool,
    disabled: bool,
}

/// The installed routing: handlers with their open files, and the logger tree.
pub(crate) struct Router {
    handlers: Vec<Handler>,
    root: Logger,
    loggers: HashMap<String, Logger>,
    override_levels: Option<Targets>,
    start: Instant,
    pid: u32,
    /// Whether any handler's format shows the time or the time since start (only then are the
    /// clocks read per event).
    needs_clock: bool,
}

thread_local! {
    /// Per-thread buffers for an event's message and a rendered line, reused from event to
    /// event: a busy worker logs a few lines per task, millions in a large run.
    static SCRATCH: RefCell<(Message, String)> = RefCell::new((Message::default(), String::new()));
}

impl Router {
    /// Opens the handlers' files (creating them; `w` truncates) and builds the logger tree.
    pub(crate) fn new(spec: Spec, override_levels: Option<Targets>) -> Result<Router, super::Error> {
        let mut handlers = Vec::with_capacity(spec.handlers.len());
        for handler in spec.handlers {
            let sink = match handler.destination {
                Destination::Stderr => Sink::Stderr,
                Destination::Stdout => Sink::Stdout,
                Destination::Null => Sink::Null,
                Destination::File { path, append } => {
                    let mut options = std::fs::OpenOptions::new();
                    options.create(true);
                    if append {
                        options.append(true);
                    } else {
                        options.write(true).truncate(true);
                    }
                    let file = options.open(&path).map_err(|source| super::Error::Open {
                        handler: handler.name,
                        path,
                        source,
                    })?;
                    Sink::File(Mutex::new(file))
                }
            };
            handlers.push(Handler { level: handler.level, format: handler.format, sink });
        }
        let mut root = None;
        let mut loggers = HashMap::new();
        for spec in spec.loggers {
            let logger = Logger {
                level: spec.level,
                handlers: spec.handlers,
                propagate: spec.propagate,
                disabled: spec.disabled,
            };
            if spec.name.is_empty() {
                root = Some(logger);
            } else {
                loggers.insert(spec.name, logger);
            }
        }
        let root = root.unwrap_or(Logger { level: WARNING, handlers: Vec::new(), propagate: true, disabled: false });
        let needs_clock = handlers.iter().any(|handler| handler.format.uses_clock());
        Ok(Router {
            handlers,
            root,
            loggers,
            override_levels,
            start: Instant::now(),
            pid: std::process::id(),
            needs_clock,
        })
    }

    /// The logger `name` (dotted) and its ancestors, nearest first, ending with the root;
    /// only loggers that were configured appear.
    fn chain<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Logger> + 'a {
        let mut next = Some(name);
        std::iter::from_fn(move || {
            while let Some(current) = next {
                next = current.rfind('.').map(|dot| &current[..dot]);
                if let Some(logger) = self.loggers.get(current) {
                    return Some(logger);
                }
            }
            None
        })
        .chain(std::iter::once(&self.root))
    }

    /// Whether an event of `levelno` on logger `name` passes the loggers (not yet handlers).
    pub(crate) fn logger_enabled(&self, name: &str, levelno: i64, target: &str, level: &tracing::Level) -> bool {
        if self.loggers.get(name).is_some_and(|logger| logger.disabled) {
            return false;
        }
        if let Some(targets) = &self.override_levels {
            return targets.would_enable(target, level);
        }
        let effective = self.chain(name).map(|logger| logger.level).find(|level| *level != 0).unwrap_or(0);
        levelno >= effective
    }

    /// Formats `record` for every handler it reaches and writes it.
    #[cfg(test)]
    pub(crate) fn emit(&self, record: &Record<'_>) {
        self.emit_with(record, &mut String::new());
    }

    /// [`Router::emit`], rendering lines in `line` (a reusable buffer).
    fn emit_with(&self, record: &Record<'_>, line: &mut String) {
        let mut found = 0;
        for logger in self.chain(record.name) {
            for &idx in &logger.handlers {
                let Some(handler) = self.handlers.get(idx) else { continue };
                found += 1;
                if record.levelno >= handler.level {
                    line.clear();
                    handler.format.render_into(record, line);
                    line.push('\n');
                    write_sink(&handler.sink, line);
                }
            }
            if !logger.propagate {
                break;
            }
        }
        if found == 0 && record.levelno >= WARNING {
            write_sink(&Sink::Stderr, &format!("{}\n", record.message));
        }
    }

    fn enabled_by_metadata(&self, metadata: &Metadata<'_>) -> bool {
        let name = logger_name(metadata.target());
        let (levelno, _) = python_level(*metadata.level());
        self.logger_enabled(&name, levelno, metadata.target(), metadata.level())
    }
}

fn write_sink(sink: &Sink, text: &str) {
    match sink {
        Sink::Stderr => super::output::write_stream(false, text),
        Sink::Stdout => super::output::write_stream(true, text),
        Sink::File(file) => {
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let _ = file.write_all(text.as_bytes());
        }
        Sink::Null => {}
    }
}

/// The Python logger name of a `tracing` target.
pub(crate) fn logger_name(target: &str) -> std::borrow::Cow<'_, str> {
    if target.contains("::") { target.replace("::", ".").into() } else { target.into() }
}

/// Collects an event's message and its other fields (`key=value`).
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            append_field(&mut self.fields, field.name(), &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            use std::fmt::Write as _;
            let _ = write!(self.text, "{value:?}");
        } else if !field.name().starts_with("log.") {
            append_field(&mut self.fields, field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for Router {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if !metadata.is_event() || self.enabled_by_metadata(metadata) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        !metadata.is_event() || self.enabled_by_metadata(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // A `Display` that logs while being formatted finds the buffers taken and uses its own.
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                let (message, line) = &mut *scratch;
                self.route(event, message, line);
            }
            Err(_) => self.route(event, &mut Message::default(), &mut String::new()),
        });
    }
}

impl Router {
    /// Turns `event` into a Python-like record and emits it, using `message` and `line` as
    /// buffers.
    fn route(&self, event: &Event<'_>, message: &mut Message, line: &mut String) {
        let metadata = event.metadata();
        message.text.clear();
        message.fields.clear();
        event.record(message);
        if !message.fields.is_empty() {
            if !message.text.is_empty() {
                message.text.push(' ');
            }
            message.text.push_str(&message.fields);
        }
        let name = logger_name(metadata.target());
        let (levelno, levelname) = python_level(*metadata.level());
        let thread = std::thread::current();
        let thread_name: Cow<'_, str> = match thread.name() {
            Some("main") => Cow::Borrowed("MainThread"),
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("Thread-{:?}", thread.id())),
        };
        // SAFETY: pthread_self has no preconditions; it is what Python's `thread` attribute is.
        let thread_id = unsafe { libc::pthread_self() } as u64;
        let record = Record {
            name: &name,
            levelno,
            levelname,
            message: &message.text,
            time: self.needs_clock.then(chrono::Local::now),
            relative_ms: if self.needs_clock { self.start.elapsed().as_secs_f64() * 1000.0 } else { 0.0 },
            process: self.pid,
            thread: thread_id,
            thread_name: &thread_name,
            file: metadata.file(),
            line: metadata.line(),
        };
        self.emit_with(&record, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::spec::{HandlerSpec, LoggerSpec};

    fn file_handler(path: &std::path::Path, level: i64, format: &str) -> HandlerSpec {
        HandlerSpec {
            name: "f".into(),
            level,
            format: Format::parse(format, "%", None).unwrap(),
            destination: Destination::File { path: path.to_owned(), append: true },
        }
    }

    fn record<'a>(name: &'a str, levelno: i64, message: &'a str) -> Record<'a> {
        Record {
            name,
            levelno,
            levelname: python_level(match levelno {
                10 => tracing::Level::DEBUG,
                20 => tracing::Level::INFO,
                30 => tracing::Level::WARN,
                _ => tracing::Level::ERROR,
            })
            .1,
            message,
            time: None,
            relative_ms: 0.0,
            process: 1,
            thread: 1,
            thread_name: "MainThread",
            file: None,
            line: None,
        }
    }

    #[test]
    fn levels_handlers_and_propagation_follow_python() {
        let dir = tempfile::tempdir().unwrap();
        let (all, iface) = (dir.path().join("all.log"), dir.path().join("iface.log"));
        let spec = Spec {
            handlers: vec![
                file_handler(&all, 0, "root %(name)s %(message)s"),
                file_handler(&iface, 20, "iface %(message)s"),
            ],
            loggers: vec![
                LoggerSpec { handlers: vec![0], ..LoggerSpec::root(WARNING) },
                LoggerSpec {
                    name: "luigi-interface".into(),
                    level: 10,
                    handlers: vec![1],
                    propagate: true,
                    disabled: false,
                },
                LoggerSpec { name: "quiet".into(), level: 10, handlers: vec![], propagate: false, disabled: false },
                LoggerSpec { name: "off".into(), level: 10, handlers: vec![0], propagate: true, disabled: true },
            ],
        };
        let router = Router::new(spec, None).unwrap();
        let enabled = |name: &str, levelno: i64| router.logger_enabled(name, levelno, name, &tracing::Level::INFO);
        assert!(enabled("luigi-interface", 10));
        assert!(!enabled("luigi_worker.remote", 20));
        assert!(enabled("luigi_worker.remote", 30));
        assert!(!enabled("off", 40));
        for (name, levelno, message) in [
            ("luigi-interface", 10, "debug"),
            ("luigi-interface", 20, "info"),
            ("luigi_worker.remote", 30, "warn"),
            ("quiet", 20, "q"),
        ] {
            router.emit(&record(name, levelno, message));
        }
        // The debug line passes the logger but not the INFO handler; both propagate to root.
        assert_eq!(std::fs::read_to_string(&iface).unwrap(), "iface info\n");
        assert_eq!(
            std::fs::read_to_string(&all).unwrap(),
            "root luigi-interface debug\nroot luigi-interface info\nroot luigi_worker.remote warn\n"
        );
    }

    #[test]
    fn rust_log_replaces_logger_levels() {
        let spec = Spec::default_console(40);
        let router = Router::new(spec, Some("luigi_worker=debug,info".parse().unwrap())).unwrap();
        assert!(router.logger_enabled("luigi_worker.remote", 10, "luigi_worker::remote", &tracing::Level::DEBUG));
        assert!(router.logger_enabled("luigi-interface", 20, "luigi-interface", &tracing::Level::INFO));
        assert!(!router.logger_enabled("luigi-interface", 10, "luigi-interface", &tracing::Level::DEBUG));
    }

    #[test]
    fn targets_become_dotted_logger_names() {
        assert_eq!(logger_name("luigi_worker::remote"), "luigi_worker.remote");
        assert_eq!(logger_name("luigi-interface"), "luigi-interface");
    }
}
