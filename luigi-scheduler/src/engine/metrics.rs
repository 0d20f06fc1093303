//! The engine's metrics: Luigi's metrics-collector hooks as counters per task family.
//!
//! Luigi's Prometheus collector counts started, failed, disabled and done tasks and records
//! how long the last run of each family took; these are the same series with the same
//! names (`luigi_task_started_total`, ...), labelled by `family`. They are kept inside the
//! engine state (updated under its lock, so they cost a hash lookup per status change) and
//! rendered on demand for `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;

use luigi_core::status::TaskStatus;

use super::records::TaskRec;

/// Counters for one family.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct FamilyCounters {
    pub(crate) started: u64,
    pub(crate) failed: u64,
    pub(crate) disabled: u64,
    pub(crate) done: u64,
    /// Seconds the last successful run took (`updated - time_running`).
    pub(crate) execution_time: Option<f64>,
}

/// One exposed series: name, Prometheus type, and how to read it from a family's counters.
type Series = (&'static str, &'static str, fn(&FamilyCounters) -> Option<f64>);

/// All counters, by family.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    by_family: BTreeMap<String, FamilyCounters>,
}

impl Counters {
    fn family(&mut self, family: &str) -> &mut FamilyCounters {
        if !self.by_family.contains_key(family) {
            self.by_family.insert(family.to_owned(), FamilyCounters::default());
        }
        self.by_family.get_mut(family).expect("inserted above")
    }

    /// Luigi's `handle_task_started` (called from `get_work`).
    pub(crate) fn started(&mut self, task: &TaskRec) {
        self.family(&task.family).started += 1;
    }

    /// Luigi's `update_metrics`, called when a task's status changed.
    pub(crate) fn status_changed(&mut self, task: &TaskRec, now: f64) {
        match task.status {
            TaskStatus::Failed => self.family(&task.family).failed += 1,
            TaskStatus::Disabled => self.family(&task.family).disabled += 1,
            TaskStatus::Done => {
                let elapsed = task.time_running.map(|start| now - start);
                let counters = self.family(&task.family);
                counters.done += 1;
                if elapsed.is_some() {
                    counters.execution_time = elapsed;
                }
            }
            _ => {}
        }
    }

    /// The Prometheus text exposition of every counter.
    pub(crate) fn render(&self, extra_gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let series: [Series; 5] = [
            ("luigi_task_started_total", "counter", |c| Some(c.started as f64)),
            ("luigi_task_failed_total", "counter", |c| Some(c.failed as f64)),
            ("luigi_task_disabled_total", "counter", |c| Some(c.disabled as f64)),
            ("luigi_task_done_total", "counter", |c| Some(c.done as f64)),
            ("luigi_task_execution_time_seconds", "gauge", |c| c.execution_time),
        ];
        for (name, kind, value) in series {
            let _ = writeln!(out, "# HELP {name} {}", help(name));
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (family, counters) in &self.by_family {
                if let Some(value) = value(counters) {
                    let _ = writeln!(out, "{name}{{family=\"{}\"}} {}", escape_label(family), format_value(value));
                }
            }
        }
        for (name, help_text, value) in extra_gauges {
            let _ = writeln!(out, "# HELP {name} {help_text}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {}", format_value(*value));
        }
        out
    }
}

fn help(name: &str) -> &'static str {
    match name {
        "luigi_task_started_total" => "Tasks handed to a worker",
        "luigi_task_failed_total" => "Tasks that failed",
        "luigi_task_disabled_total" => "Tasks disabled",
        "luigi_task_done_total" => "Tasks done",
        _ => "Seconds the last successful run of the family took",
    }
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") }
}

/// Escapes a Prometheus label value (backslash, double quote, newline).
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_escaped_labels() {
        let mut counters = Counters::default();
        counters.family("A\"b").done = 2;
        counters.family("A\"b").execution_time = Some(1.5);
        let text = counters.render(&[("luigi_scheduler_tasks", "Tasks known", 3.0)]);
        assert!(text.contains("luigi_task_done_total{family=\"A\\\"b\"} 2\n"), "{text}");
        assert!(text.contains("luigi_task_execution_time_seconds{family=\"A\\\"b\"} 1.5\n"));
        assert!(text.contains("# TYPE luigi_task_started_total counter\n"));
        assert!(text.contains("luigi_scheduler_tasks 3\n"));
    }
}
