//! The HTML of the history pages: one self-contained document per page, with inline CSS and an inline
//! SVG chart, and no scripts or external assets (Luigi's pages load d3 and nvd3 from a CDN).
//!
//! Everything that came from the database or the request is written through [`Esc`] (HTML text and
//! attribute escaping) and, inside links, percent-encoded first ([`seg`], [`qv`]), so a parameter
//! value such as `<script>alert(1)</script>` is shown, never run. Rendering builds one `String` with
//! `fmt::Write`; writing into a `String` cannot fail, so those results are ignored.

use std::fmt::{self, Display, Write};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::query::{Execution, Family, Page, Paged, RunDetail, RunSummary};

/// Characters left as they are in a path segment or query value: RFC 3986's unreserved set.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// HTML-escapes text for element content and quoted attribute values.
pub(crate) struct Esc<'a>(pub(crate) &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// Percent-encodes a path segment (a family name or task id may contain `/`, `?`, `#`, spaces...).
pub(crate) fn seg(s: &str) -> impl Display + '_ {
    utf8_percent_encode(s, UNRESERVED)
}

/// Percent-encodes a query-string value.
pub(crate) fn qv(s: &str) -> impl Display + '_ {
    utf8_percent_encode(s, UNRESERVED)
}

/// Where a list page lives, for its pagination and JSON links.
#[derive(Debug, Clone)]
pub(crate) struct Nav {
    /// The page's path, already percent-encoded.
    pub(crate) path: String,
    /// Query parameters to keep on every link (`data=` for `by_params`), unencoded.
    pub(crate) keep: Vec<(&'static str, String)>,
}

impl Nav {
    pub(crate) fn new(path: String) -> Nav {
        Nav { path, keep: Vec::new() }
    }

    /// The link to page `page` of size `per_page`, as HTML or JSON.
    fn href(&self, page: u32, per_page: u32, json: bool) -> String {
        let mut out = self.path.clone();
        let mut sep = '?';
        for (key, value) in &self.keep {
            let _ = write!(out, "{sep}{key}={}", qv(value));
            sep = '&';
        }
        if page != 1 {
            let _ = write!(out, "{sep}page={page}");
            sep = '&';
        }
        if per_page != super::query::DEFAULT_PER_PAGE {
            let _ = write!(out, "{sep}per_page={per_page}");
            sep = '&';
        }
        if json {
            let _ = write!(out, "{sep}format=json");
        }
        out
    }

    /// Newer/older links and the JSON link.
    fn pager<T>(&self, list: &Paged<T>, out: &mut String) {
        let Page { page, per_page } = list.page;
        out.push_str("<nav class=\"pager\">");
        if page > 1 {
            let _ = write!(out, "<a href=\"{}\">&larr; previous</a>", Esc(&self.href(page - 1, per_page, false)));
        }
        let _ = write!(out, "<span>page {page}</span>");
        if list.has_more {
            let _ = write!(out, "<a href=\"{}\">next &rarr;</a>", Esc(&self.href(page + 1, per_page, false)));
        }
        let _ = write!(out, "<a class=\"json\" href=\"{}\">JSON</a></nav>", Esc(&self.href(page, per_page, true)));
    }
}

const CSS: &str = "\
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--accent:#2f5fb3}\
*{box-sizing:border-box}\
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}\
header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:baseline}\
header b{font-size:16px}header a{color:#c9d6f2;text-decoration:none}header a:hover{color:#fff}\
main{max-width:1200px;margin:0 auto;padding:20px 24px 40px}\
h1{font-size:20px;margin:4px 0 16px}h2{font-size:16px;margin:24px 0 8px}\
a{color:var(--accent)}\
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}\
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line)}\
thead th{background:#eef1f6;font-weight:600}\
td{overflow-wrap:anywhere}\
table.kv{width:auto;min-width:40%}table.kv th{width:10em;background:#fafbfc}\
table.params{border:0;width:auto;background:transparent}table.params th,table.params td{border:0;padding:0 8px 0 0;\
font-weight:normal}table.params th{color:var(--muted)}\
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}\
.muted{color:var(--muted)}\
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#e4e7ec}\
.s-DONE{background:#dcf3e2;color:#1e6b34}.s-FAILED{background:#fbe0df;color:#9b1c1c}\
.s-RUNNING{background:#dde8fb;color:#1f4d9b}.s-PENDING{background:#fdf1d6;color:#8a5a00}\
nav.pager{display:flex;gap:16px;margin:12px 0;align-items:center}nav.pager .json{margin-left:auto}\
.empty{padding:24px;background:#fff;border:1px solid var(--line);color:var(--muted)}\
ul.families{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:8px}\
ul.families li{background:#fff;border:1px solid var(--line);padding:8px 12px}\
svg.chart{background:#fff;border:1px solid var(--line);width:100%;height:auto}\
";

/// A complete page.
pub(crate) fn layout(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + CSS.len() + 512);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Luigi task history</title><style>{CSS}</style></head><body>\
         <header><b>Luigi task history</b><a href=\"/history\">Last 24 hours</a>\
         <a href=\"/tasklist\">Task families</a><a href=\"/\">Scheduler</a></header><main>{body}</main></body></html>\n",
        Esc(title)
    );
    out
}

fn status(out: &mut String, status: Option<&str>) {
    match status {
        Some(s) => {
            // The class is only ever one of the four known names, so unknown text cannot reach it.
            let class = match s {
                "DONE" | "FAILED" | "RUNNING" | "PENDING" => s,
                _ => "other",
            };
            let _ = write!(out, "<span class=\"status s-{class}\">{}</span>", Esc(s));
        }
        None => out.push_str("<span class=\"muted\">–</span>"),
    }
}

fn opt(s: &Option<String>) -> Esc<'_> {
    Esc(s.as_deref().unwrap_or(""))
}

fn params_cell(out: &mut String, params: &[(String, Option<String>)]) {
    if params.is_empty() {
        return;
    }
    out.push_str("<table class=\"params\">");
    for (name, value) in params {
        let _ = write!(out, "<tr><th>{}</th><td class=\"mono\">{}</td></tr>", Esc(name), opt(value));
    }
    out.push_str("</table>");
}

/// A list of runs (`/history`, `by_name`, `by_params`).
pub(crate) fn runs(title: &str, intro: &str, list: &Paged<RunSummary>, nav: &Nav) -> String {
    let mut body = String::new();
    let _ = write!(body, "<h1>{}</h1>", Esc(title));
    if !intro.is_empty() {
        let _ = write!(body, "<p class=\"muted\">{}</p>", Esc(intro));
    }
    if list.items.is_empty() && list.page.page == 1 {
        body.push_str("<div class=\"empty\">No runs recorded.</div>");
        return layout(title, &body);
    }
    body.push_str(
        "<table><thead><tr><th>Name</th><th>Host</th><th>Last action</th><th>Status</th><th>Parameters</th></tr>\
         </thead><tbody>",
    );
    for run in &list.items {
        let name = run.name.as_deref().unwrap_or("(unnamed)");
        let _ = write!(body, "<tr><td><a href=\"/history/by_id/{}\">{}</a>", run.id, Esc(name));
        if let Some(task_id) = &run.task_id {
            let _ = write!(body, "<div class=\"mono muted\">{}</div>", Esc(task_id));
        }
        let _ = write!(body, "</td><td>{}</td><td>", opt(&run.host));
        if let Some(ts) = run.last_action {
            let _ = write!(body, "{ts}");
        }
        body.push_str("</td><td>");
        status(&mut body, run.status.as_deref());
        body.push_str("</td><td>");
        params_cell(&mut body, &run.parameters);
        body.push_str("</td></tr>");
    }
    body.push_str("</tbody></table>");
    nav.pager(list, &mut body);
    layout(title, &body)
}

/// One run (`by_id`, `by_task_id`).
pub(crate) fn run(run: &RunDetail, nav: &Nav) -> String {
    let name = run.name.as_deref().unwrap_or("(unnamed)");
    let title = format!("{name} — run {}", run.id);
    let mut body = String::new();
    let _ =
        write!(body, "<h1>{}</h1><table class=\"kv\"><tbody><tr><th>Run id</th><td>{}</td></tr>", Esc(&title), run.id);
    body.push_str("<tr><th>Task id</th><td class=\"mono\">");
    if let Some(task_id) = &run.task_id {
        let _ = write!(body, "<a href=\"/history/by_task_id/{}\">{}</a>", seg(task_id), Esc(task_id));
    }
    let _ = write!(body, "</td></tr><tr><th>Name</th><td>{}</td></tr>", Esc(name));
    let _ = write!(body, "<tr><th>Host</th><td>{}</td></tr>", opt(&run.host));
    if let Some(name) = &run.name {
        let _ = write!(
            body,
            "<tr><th>More</th><td><a href=\"/history/by_name/{0}\">All “{1}” runs</a> · \
             <a href=\"/tasklist/{0}\">Execution times</a></td></tr>",
            seg(name),
            Esc(name)
        );
    }
    body.push_str("</tbody></table><h2>Parameters</h2>");
    if run.parameters.is_empty() {
        body.push_str("<div class=\"empty\">No parameters.</div>");
    } else {
        body.push_str("<table><thead><tr><th>Name</th><th>Value</th></tr></thead><tbody>");
        for (k, v) in &run.parameters {
            let _ = write!(body, "<tr><td>{}</td><td class=\"mono\">{}</td></tr>", Esc(k), opt(v));
        }
        body.push_str("</tbody></table>");
        if run.parameters_truncated {
            let _ =
                write!(body, "<p class=\"muted\">Only the first {} parameters are shown.</p>", run.parameters.len());
        }
    }
    body.push_str("<h2>Events</h2>");
    if run.events.items.is_empty() && run.events.page.page == 1 {
        body.push_str("<div class=\"empty\">No events.</div>");
    } else {
        body.push_str("<table><thead><tr><th>Status</th><th>Time</th></tr></thead><tbody>");
        for event in &run.events.items {
            body.push_str("<tr><td>");
            status(&mut body, event.name.as_deref());
            let _ = write!(body, "</td><td>{}</td></tr>", event.ts);
        }
        body.push_str("</tbody></table>");
        nav.pager(&run.events, &mut body);
    }
    layout(&title, &body)
}

/// The family menu (`/tasklist`).
pub(crate) fn families(list: &Paged<Family>, nav: &Nav) -> String {
    let title = "Task families";
    let mut body = String::from("<h1>Task families</h1>");
    if list.items.is_empty() && list.page.page == 1 {
        body.push_str("<div class=\"empty\">No runs recorded.</div>");
        return layout(title, &body);
    }
    body.push_str("<ul class=\"families\">");
    for family in &list.items {
        let _ = write!(
            body,
            "<li><a href=\"/tasklist/{0}\">{1}</a> <span class=\"muted\">· <a href=\"/history/by_name/{0}\">{2} run{3}</a>\
             </span></li>",
            seg(&family.name),
            Esc(&family.name),
            family.runs,
            if family.runs == 1 { "" } else { "s" }
        );
    }
    body.push_str("</ul>");
    nav.pager(list, &mut body);
    layout(title, &body)
}

/// `1h 02m 03s`, `2m 05s`, `3.25s`.
pub(crate) fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "–".to_owned();
    }
    if secs < 60.0 {
        return format!("{secs:.2}s");
    }
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 { format!("{h}h {m:02}m {s:02}s") } else { format!("{m}m {s:02}s") }
}

fn chart(out: &mut String, list: &[Execution]) {
    let bars: Vec<(&Execution, f64)> =
        list.iter().rev().filter_map(|e| e.duration_secs().map(|d| (e, d.max(0.0)))).collect();
    if bars.is_empty() {
        return;
    }
    let max = bars.iter().map(|&(_, d)| d).fold(0.0_f64, f64::max).max(1e-6);
    let (width, height, top, left) = (960.0, 220.0, 24.0, 8.0);
    let step = (width - 2.0 * left) / bars.len() as f64;
    let bar = (step * 0.8).max(1.0);
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {width} {}\" role=\"img\" aria-label=\"Execution times, oldest on the left\">\
         <text x=\"{left}\" y=\"16\" font-size=\"12\" fill=\"#667085\">longest: {}</text>",
        height + top,
        duration(max)
    );
    for (i, &(e, d)) in bars.iter().enumerate() {
        let h = (d / max * height).max(1.0);
        let color = match e.outcome.as_deref() {
            Some("DONE") => "#3c9a4d",
            Some("FAILED") => "#c9302c",
            _ => "#98a2b3",
        };
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{} · {} · {}</title></rect>",
            left + i as f64 * step,
            top + height - h,
            e.started,
            duration(d),
            Esc(e.outcome.as_deref().unwrap_or("?"))
        );
    }
    out.push_str("</svg>");
}

/// A family's execution times (`/tasklist/{name}`).
pub(crate) fn timeline(name: &str, list: &Paged<Execution>, nav: &Nav) -> String {
    let title = format!("{name} — execution times");
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"muted\">Each row is one run of the task: from its RUNNING event to the run's next event. \
         <a href=\"/history/by_name/{}\">All runs</a></p>",
        Esc(&title),
        seg(name)
    );
    if list.items.is_empty() && list.page.page == 1 {
        body.push_str("<div class=\"empty\">No executions recorded.</div>");
        return layout(&title, &body);
    }
    chart(&mut body, &list.items);
    body.push_str(
        "<table><thead><tr><th>Started</th><th>Duration</th><th>Outcome</th><th>Run</th><th>Task id</th><th>Host</th>\
         </tr></thead><tbody>",
    );
    for e in &list.items {
        let _ = write!(body, "<tr><td>{}</td><td>", e.started);
        match e.duration_secs() {
            Some(d) => body.push_str(&duration(d)),
            None => body.push_str("<span class=\"muted\">still running</span>"),
        }
        body.push_str("</td><td>");
        status(&mut body, e.outcome.as_deref());
        let _ = write!(
            body,
            "</td><td><a href=\"/history/by_id/{0}\">{0}</a></td><td class=\"mono\">{1}</td><td>{2}</td></tr>",
            e.run_id,
            opt(&e.task_id),
            opt(&e.host)
        );
    }
    body.push_str("</tbody></table>");
    nav.pager(list, &mut body);
    layout(&title, &body)
}

/// An error page.
pub(crate) fn error(status: u16, message: &str) -> String {
    let mut body = String::new();
    let _ = write!(body, "<h1>{status}</h1><div class=\"empty\">{}</div>", Esc(message));
    layout(&status.to_string(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(Esc("<script>alert(1)</script>").to_string(), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(Esc("a&b \"c\" 'd'").to_string(), "a&amp;b &quot;c&quot; &#39;d&#39;");
        assert_eq!(Esc("plain ünïcode").to_string(), "plain ünïcode");
        assert_eq!(seg("a/b c?#%").to_string(), "a%2Fb%20c%3F%23%25");
        assert_eq!(seg("My.Task_1-x~").to_string(), "My.Task_1-x~");
    }

    #[test]
    fn links_keep_query_and_page() {
        let nav = Nav { path: "/history/by_params/F".to_owned(), keep: vec![("data", "{\"a\": \"&\"}".to_owned())] };
        assert_eq!(nav.href(1, 100, false), "/history/by_params/F?data=%7B%22a%22%3A%20%22%26%22%7D");
        assert_eq!(
            nav.href(2, 10, true),
            "/history/by_params/F?data=%7B%22a%22%3A%20%22%26%22%7D&page=2&per_page=10&format=json"
        );
        assert_eq!(Nav::new("/history".to_owned()).href(1, 100, true), "/history?format=json");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(3.254), "3.25s");
        assert_eq!(duration(125.0), "2m 05s");
        assert_eq!(duration(3723.0), "1h 02m 03s");
        assert_eq!(duration(-1.0), "–");
        assert_eq!(duration(f64::NAN), "–");
    }
}
