//! The live progress display of a run on a terminal: how many tasks are done, running, pending
//! and failed, and which tasks are running now.
//!
//! A thread polls the worker's [`Worker::progress`] snapshot ten times a second and redraws one
//! `indicatif` progress bar under the log lines. Log output reaches the terminal through
//! `crate::logging::output`, which suspends the bar for each line, so lines print above it
//! rather than through it. What the display says is computed by pure functions
//! ([`status_line`], [`running_lines`], [`render`]) so it can be tested without a terminal.
//!
//! The display is shown only when all of these hold: it is enabled (`[progress] enabled`, on
//! by default; `--no-progress` turns it off), stderr is a terminal (so piped and redirected runs,
//! CI logs and files get plain log lines and no escape codes), and log output is ours or there
//! is none — a subscriber installed by the embedding program would write through the bar.
//! Output a task prints itself with `println!` is not routed and may briefly disturb the
//! display until its next redraw.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use luigi_core::Config;
use luigi_worker::{Progress, Worker};

/// `[progress]`: the live progress display on a terminal.
#[derive(Config, Clone, Debug, PartialEq)]
#[config(section = "progress")]
pub struct ProgressConfig {
    /// Show a live progress display when stderr is a terminal
    #[param(default = true, explicit)]
    pub enabled: bool,
    /// How many running tasks the progress display lists
    #[param(default = 3)]
    pub tasks: i64,
}

impl Default for ProgressConfig {
    fn default() -> Self {
        ProgressConfig { enabled: true, tasks: 3 }
    }
}

/// How a run shows its progress ([`crate::BuildOptions::progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressOptions {
    /// Show the display (when stderr is a terminal and log output allows it).
    pub enabled: bool,
    /// How many running tasks to list under the counts.
    pub tasks: usize,
}

impl Default for ProgressOptions {
    fn default() -> Self {
        ProgressOptions::from(&ProgressConfig::default())
    }
}

impl From<&ProgressConfig> for ProgressOptions {
    fn from(config: &ProgressConfig) -> Self {
        ProgressOptions { enabled: config.enabled, tasks: usize::try_from(config.tasks).unwrap_or(0) }
    }
}

/// Which part of a run the worker is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Walking the graph and reporting tasks to the scheduler.
    Scheduling,
    /// Running tasks.
    Running,
}

/// The counts line: `3 done, 2 running, 5 pending, 1 failed (40 already complete)`, or while
/// scheduling, `scheduling: 120 tasks (40 already complete)`.
pub fn status_line(phase: Phase, progress: &Progress) -> String {
    let mut extra = Vec::new();
    if progress.already_done > 0 {
        extra.push(format!("{} already complete", progress.already_done));
    }
    if progress.missing_external > 0 {
        extra.push(format!("{} missing external", progress.missing_external));
    }
    let extra = if extra.is_empty() { String::new() } else { format!(" ({})", extra.join(", ")) };
    match phase {
        Phase::Scheduling => {
            let noun = if progress.scheduled == 1 { "task" } else { "tasks" };
            format!("scheduling: {} {noun}{extra}", progress.scheduled)
        }
        Phase::Running => {
            // The worker counts a running task as pending until it finishes.
            let pending = progress.pending.saturating_sub(progress.running.len());
            let waiting = match progress.waiting {
                0 => String::new(),
                n => format!(" ({n} waiting for requirements)"),
            };
            format!(
                "{} done, {} running{waiting}, {pending} pending, {} failed{extra}",
                progress.done,
                progress.running.len(),
                progress.failed
            )
        }
    }
}

/// Up to `max` running tasks, oldest first, each cut to `width` columns, and a last line
/// counting the others.
pub fn running_lines(progress: &Progress, max: usize, width: usize) -> Vec<String> {
    let mut lines: Vec<String> =
        progress.running.iter().take(max).map(|task| truncate(&format!("  running {task}"), width)).collect();
    if max > 0 && progress.running.len() > max {
        lines.push(truncate(&format!("  ... and {} more", progress.running.len() - max), width));
    }
    lines
}

/// The whole message under the spinner: the counts line, then the running tasks.
pub fn render(phase: Phase, progress: &Progress, tasks: usize, width: usize) -> String {
    // The spinner and elapsed time take the first columns of the counts line.
    let mut text = truncate(&status_line(phase, progress), width.saturating_sub(8));
    if phase == Phase::Running {
        for line in running_lines(progress, tasks, width) {
            text.push('\n');
            text.push_str(&line);
        }
    }
    text
}

/// Cuts `text` to `width` characters, ending with `...` when cut (a line longer than the
/// terminal would wrap, and the display would lose track of its height).
fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let keep = width.saturating_sub(3);
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(&"...."[..width.min(3)]);
    out
}

/// The terminal's width in columns (80 when unknown).
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills the winsize struct we pass; a failure leaves it zeroed.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 { usize::from(size.ws_col) } else { 80 }
}

/// Whether a display would be shown now for `options`.
pub fn should_show(options: &ProgressOptions) -> bool {
    options.enabled
        && std::io::stderr().is_terminal()
        && (crate::logging::is_ours() || !tracing::dispatcher::has_been_set())
}

/// A display running on its own thread; [`Display::finish`] removes it.
pub(crate) struct Display<'scope> {
    stop: mpsc::Sender<()>,
    thread: ScopedJoinHandle<'scope, ()>,
}

impl<'scope> Display<'scope> {
    /// Starts drawing `worker`'s progress, if [`should_show`] says so. `running` tells the
    /// scheduling phase from the running one.
    pub(crate) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        worker: &'env Worker,
        options: &ProgressOptions,
        running: &'env AtomicBool,
    ) -> Option<Display<'scope>> {
        if !should_show(options) {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>3} {msg}") {
            bar.set_style(style.tick_strings(&["|", "/", "-", "\\", " "]));
        }
        crate::logging::output::set_progress_bar(Some(bar.clone()));
        let tasks = options.tasks;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = scope.spawn(move || {
            loop {
                let phase = if running.load(Ordering::SeqCst) { Phase::Running } else { Phase::Scheduling };
                bar.set_message(render(phase, &worker.progress(), tasks, terminal_width()));
                bar.tick();
                match stopped.recv_timeout(Duration::from_millis(100)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => break,
                }
            }
            crate::logging::output::set_progress_bar(None);
            bar.finish_and_clear();
        });
        Some(Display { stop, thread })
    }

    /// Removes the display (before the summary is printed).
    pub(crate) fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use luigi_core::prelude::*;

    #[derive(Task, Clone, Debug)]
    struct Crunch {
        /// Which part.
        part: i64,
    }

    impl Task for Crunch {
        type Requires = ();
        type Output = ();
        fn requires(&self) {}
        fn output(&self) {}
        fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
            Ok(())
        }
    }

    fn snapshot(running: usize) -> Progress {
        Progress {
            scheduled: 20,
            already_done: 4,
            done: 6,
            failed: 1,
            pending: 9,
            missing_external: 0,
            running: (0..running).map(|part| TaskRef::new(Crunch { part: i64::try_from(part).unwrap() })).collect(),
            waiting: 0,
        }
    }

    #[test]
    fn the_counts_line() {
        assert_eq!(
            status_line(Phase::Running, &snapshot(2)),
            "6 done, 2 running, 7 pending, 1 failed (4 already complete)"
        );
        let mut progress = snapshot(0);
        progress.already_done = 0;
        progress.missing_external = 2;
        assert_eq!(
            status_line(Phase::Running, &progress),
            "6 done, 0 running, 9 pending, 1 failed (2 missing external)"
        );
        progress.missing_external = 0;
        assert_eq!(status_line(Phase::Running, &progress), "6 done, 0 running, 9 pending, 1 failed");
        let mut waiting = snapshot(2);
        waiting.waiting = 1;
        assert_eq!(
            status_line(Phase::Running, &waiting),
            "6 done, 2 running (1 waiting for requirements), 7 pending, 1 failed (4 already complete)"
        );
        assert_eq!(status_line(Phase::Scheduling, &snapshot(0)), "scheduling: 20 tasks (4 already complete)");
        let one = Progress { scheduled: 1, ..Progress::default() };
        assert_eq!(status_line(Phase::Scheduling, &one), "scheduling: 1 task");
    }

    #[test]
    fn running_tasks_are_listed_up_to_the_limit() {
        assert_eq!(running_lines(&snapshot(2), 3, 80), vec!["  running Crunch(part=0)", "  running Crunch(part=1)"]);
        assert_eq!(
            running_lines(&snapshot(5), 2, 80),
            vec!["  running Crunch(part=0)", "  running Crunch(part=1)", "  ... and 3 more"]
        );
        assert!(running_lines(&snapshot(5), 0, 80).is_empty());
        assert_eq!(running_lines(&snapshot(1), 3, 16), vec!["  running Cru..."]);
    }

    #[test]
    fn the_whole_message() {
        assert_eq!(
            render(Phase::Running, &snapshot(1), 3, 80),
            "6 done, 1 running, 8 pending, 1 failed (4 already complete)\n  running Crunch(part=0)"
        );
        // While scheduling, nothing runs yet: the counts line only.
        assert_eq!(render(Phase::Scheduling, &snapshot(1), 3, 80), "scheduling: 20 tasks (4 already complete)");
        // Lines never exceed the width (the counts line leaves room for the spinner and time).
        for line in render(Phase::Running, &snapshot(4), 3, 30).lines() {
            assert!(line.chars().count() <= 30, "{line}");
        }
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdefg", 6), "abc...");
        assert_eq!(truncate("abcdefg", 2), "..");
    }

    #[test]
    fn options_from_config() {
        let options = ProgressOptions::from(&ProgressConfig { enabled: false, tasks: -1 });
        assert_eq!(options, ProgressOptions { enabled: false, tasks: 0 });
        assert_eq!(ProgressOptions::default(), ProgressOptions { enabled: true, tasks: 3 });
    }
}
