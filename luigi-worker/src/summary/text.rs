//! The summary text, laid out exactly as Luigi 3.8.1 lays it out.
//!
//! The banner, `Scheduled N tasks of which:`, one `* <count> <phrase>:` heading per non-empty
//! category (the pending reasons indented under `were left pending, among these`), and under
//! each heading one line per task family, sorted by family and cut to `summary_length`
//! families with `...`. A family line takes the most compact of Luigi's shapes: `Family()`
//! for tasks without parameters, `Family(...)` when parameter names or the task text are too
//! long, a collapsed range `first...last` when one parameter runs through consecutive values
//! (as told by [`ParamInfo::next_in_enumeration`]), a value list cut with `...` after 30
//! (or 200) characters, or the tasks themselves (`X`, `X and Y`, `X ...`).
//!
//! Luigi works on Python values; this works on their string forms, which are in one-to-one
//! correspondence with them for every parameter type, so sets of values and "the next value"
//! mean the same. Lengths are counted in characters, as Python's `len` counts them, not in
//! UTF-8 bytes. Within a family, tasks are ordered by their text (`repr`); Luigi leaves ties
//! between equal texts (tasks differing only in insignificant parameters) in hash order, here
//! they keep the order they were first reported in.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use luigi_core::TaskRef;
use luigi_core::param::ParamInfo;

use super::{Category, ExecutionSummary};

const BANNER: &str = "===== Luigi Execution Summary =====";

/// The categories printed, in order, with the pending heading before its reasons.
const PRINTED: [Heading; 12] = [
    Heading::Category(Category::AlreadyDone),
    Heading::Category(Category::Completed),
    Heading::Category(Category::Failed),
    Heading::Category(Category::SchedulingError),
    Heading::Pending,
    Heading::Category(Category::StillPendingExt),
    Heading::Category(Category::RunByOtherWorker),
    Heading::Category(Category::UpstreamFailure),
    Heading::Category(Category::UpstreamMissingDependency),
    Heading::Category(Category::UpstreamRunByOtherWorker),
    Heading::Category(Category::UpstreamSchedulingError),
    Heading::Category(Category::NotRun),
];

#[derive(Clone, Copy)]
enum Heading {
    /// `were left pending, among these`: both pending categories, no task lines.
    Pending,
    Category(Category),
}

impl ExecutionSummary {
    /// The summary as Luigi prints it (its `summary_text`): the body between two banners,
    /// starting and ending with a newline. `summary_length` is `[execution_summary]
    /// summary_length`: how many families each category lists; zero or less lists all.
    pub fn text(&self, summary_length: i64) -> String {
        let mut out = String::with_capacity(512);
        out.push('\n');
        out.push_str(BANNER);
        out.push_str("\n\n");
        self.write_body(&mut out, summary_length);
        out.push_str("\n\n");
        out.push_str(BANNER);
        out.push('\n');
        out
    }

    /// The text between the banners (Luigi's `_summary_format`).
    pub fn body(&self, summary_length: i64) -> String {
        let mut out = String::new();
        self.write_body(&mut out, summary_length);
        out
    }

    fn write_body(&self, out: &mut String, summary_length: i64) {
        let total = self.scheduled_count();
        if total == 0 {
            out.push_str("Did not schedule any tasks");
            return;
        }
        let limit = usize::try_from(summary_length).ok().filter(|limit| *limit > 0);
        let _ = writeln!(out, "Scheduled {total} tasks of which:");
        for heading in PRINTED {
            match heading {
                Heading::Pending => {
                    let count = self.count(Category::StillPendingExt) + self.count(Category::StillPendingNotExt);
                    if count > 0 {
                        let _ = writeln!(out, "* {count} were left pending, among these:");
                    }
                }
                Heading::Category(category) => self.write_category(out, category, limit),
            }
        }

        let others = self.other_workers();
        if !others.is_empty() {
            out.push_str("\nThe other workers were:\n");
            for (count, other) in others.iter().enumerate() {
                if count > 3 && count < others.len() - 1 {
                    let _ = write!(out, "    and {} other workers", others.len() - count);
                    break;
                }
                let _ = writeln!(out, "    - {} ran {} tasks", other.worker, other.tasks.len());
            }
            out.push('\n');
        }

        let not_run = self.count(Category::AlreadyDone)
            + self.count(Category::SchedulingError)
            + self.count(Category::StillPendingExt)
            + self.count(Category::StillPendingNotExt);
        if total == not_run {
            if others.is_empty() {
                out.push('\n');
            }
            out.push_str("Did not run any tasks");
        }
        out.push('\n');
        out.push_str(&self.one_line_summary());
    }

    fn write_category(&self, out: &mut String, category: Category, limit: Option<usize>) {
        let Some(phrase) = category.phrase() else { return };
        let mut families: BTreeMap<&'static str, Vec<&TaskRef>> = BTreeMap::new();
        for task in self.tasks(category) {
            families.entry(task.family()).or_default().push(task);
        }
        if families.is_empty() {
            return;
        }
        let count: usize = families.values().map(Vec::len).sum();
        let (heading_indent, prefix) = if category.is_pending_reason() { ("    ", "        ") } else { ("", "    ") };
        let _ = writeln!(out, "{heading_indent}* {count} {phrase}:");
        for (written, (family, tasks)) in families.into_iter().enumerate() {
            if written > 0 {
                out.push('\n');
            }
            out.push_str(prefix);
            if limit.is_some_and(|limit| written >= limit) {
                out.push_str("...");
                break;
            }
            write_family(out, family, &tasks);
        }
        out.push('\n');
    }
}

/// One family's line after its indentation: `- <n> ...`.
fn write_family(out: &mut String, family: &str, tasks: &[&TaskRef]) {
    let mut sorted: Vec<(String, &TaskRef)> = tasks.iter().map(|task| (task.repr(), *task)).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let n = sorted.len();
    let _ = write!(out, "- {n} ");
    let Some((first_repr, first)) = sorted.first() else { return };
    let infos = first.param_infos();
    if infos.is_empty() {
        let _ = write!(out, "{family}()");
        return;
    }
    let names_len: usize = infos.iter().map(|info| info.name.chars().count()).sum();
    let repr_len = first_repr.chars().count();
    if names_len > 60 || repr_len > 200 || (n == 2 && infos.len() > 1 && (names_len > 40 || repr_len > 100)) {
        let _ = write!(out, "{family}(...)");
        return;
    }

    let values: Vec<Vec<String>> = sorted.iter().map(|(_, task)| task.serialize_params()).collect();
    let column =
        |param: usize| -> Vec<&str> { values.iter().map(|row| row.get(param).map_or("", String::as_str)).collect() };
    if let [info] = infos {
        let column = column(0);
        let attributes = distinct(&column);
        let _ = write!(out, "{family}({}=", info.name);
        match ranging(&attributes, info) {
            Some((first, last)) if attributes.len() > 3 => {
                let _ = write!(out, "{first}...{last})");
            }
            _ => {
                write_value_list(out, &column);
                out.push(')');
            }
        }
        return;
    }

    let columns: Vec<Vec<&str>> = (0..infos.len()).map(column).collect();
    let attributes: Vec<Vec<&str>> = columns.iter().map(|column| distinct(column)).collect();
    let mut varying = attributes.iter().enumerate().filter(|(_, values)| values.len() > 1).map(|(param, _)| param);
    if let (Some(param), None) = (varying.next(), varying.next())
        && attributes[param].len() > 2
        && let Some((first, last)) = ranging(&attributes[param], &infos[param])
    {
        let _ = write!(out, "{family}(");
        for (idx, info) in infos.iter().enumerate() {
            if idx > 0 {
                out.push_str(", ");
            }
            if idx == param {
                let _ = write!(out, "{}={first}...{last}", info.name);
            } else {
                let _ = write!(out, "{}={}", info.name, columns[idx][0]);
            }
        }
        out.push(')');
        return;
    }
    match sorted.as_slice() {
        [(only, _)] => out.push_str(only),
        [(a, _), (b, _)] => {
            let _ = write!(out, "{a} and {b}");
        }
        _ => {
            let _ = write!(out, "{first_repr} ...");
        }
    }
}

/// The distinct values of a column, in order of first appearance.
fn distinct<'a>(column: &[&'a str]) -> Vec<&'a str> {
    let mut seen = HashSet::with_capacity(column.len());
    column.iter().copied().filter(|value| seen.insert(*value)).collect()
}

/// Luigi's `_ranging_attributes`: when the values are exactly one unbroken run
/// `first, next(first), ..., last`, returns `(first, last)`.
///
/// The run is detected as Luigi does, with set differences: exactly one value is nobody's
/// successor (the first) and exactly one successor is not a value (the one after the last).
/// A value without a successor (the type does not enumerate) counts as a successor outside
/// the set, which is what Luigi's `None` amounts to.
fn ranging<'a>(attributes: &[&'a str], info: &ParamInfo) -> Option<(&'a str, &'a str)> {
    let values: HashSet<&str> = attributes.iter().copied().collect();
    let nexts: Vec<Option<String>> =
        attributes.iter().map(|value| (info.next_in_enumeration)(value, &info.options)).collect();
    let successors: HashSet<Option<&str>> = nexts.iter().map(Option::as_deref).collect();
    let mut firsts = attributes.iter().copied().filter(|value| !successors.contains(&Some(*value)));
    let first = firsts.next()?;
    if firsts.next().is_some() {
        return None;
    }
    let mut beyond = successors.iter().filter(|next| next.is_none_or(|next| !values.contains(next)));
    let after_last = *beyond.next()?;
    if beyond.next().is_some() {
        return None;
    }
    let last = attributes.iter().zip(&nexts).find(|(_, next)| next.as_deref() == after_last)?.0;
    Some((first, last))
}

/// Luigi's `_get_str_one_parameter`: the values joined with commas, cut with `...` once the
/// text reaches 30 characters (after at least three values, and not just before the last
/// one) or passes 200.
fn write_value_list(out: &mut String, column: &[&str]) {
    let n = column.len();
    let mut chars = 0;
    for (count, value) in column.iter().enumerate() {
        if (chars >= 30 && count > 2 && count != n - 1) || chars > 200 {
            out.push_str("...");
            break;
        }
        out.push_str(value);
        chars += value.chars().count();
        if count + 1 < n {
            out.push(',');
            chars += 1;
        }
    }
}
