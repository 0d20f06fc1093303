//! Python `logging.Formatter` format strings, compiled once and rendered per log record.
//!
//! A `Format` is parsed from the `format` of a `fileConfig` `[formatter_x]` section or a
//! `dictConfig` formatter, in any of Python's three styles: `%` (`%(levelname)-8s`), `{`
//! (`{levelname:<8}`) and `$` (`${levelname}`). Parsing checks every attribute name and
//! conversion up front, so a typo is a configuration error at start-up rather than a broken
//! line at run time. `Record` holds what one `tracing` event offers; the attributes Python
//! records carry and a Rust event does not (`funcName`, `exc_info`, `stack_info`) are rejected
//! when the format is parsed.
//!
//! `asctime` is local time, `%Y-%m-%d %H:%M:%S,mmm` by default as in Python, or the formatter's
//! `datefmt` (a strftime string, checked when parsed).

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};

/// What a format string may name, and how its value is typed (for `%d` versus `%s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attr {
    Name,
    LevelName,
    LevelNo,
    Message,
    AscTime,
    Created,
    Msecs,
    RelativeCreated,
    Process,
    ProcessName,
    Thread,
    ThreadName,
    Module,
    FileName,
    PathName,
    LineNo,
}

impl Attr {
    fn from_name(name: &str) -> Result<Attr, String> {
        Ok(match name {
            "name" => Attr::Name,
            "levelname" => Attr::LevelName,
            "levelno" => Attr::LevelNo,
            "message" => Attr::Message,
            "asctime" => Attr::AscTime,
            "created" => Attr::Created,
            "msecs" => Attr::Msecs,
            "relativeCreated" => Attr::RelativeCreated,
            "process" => Attr::Process,
            "processName" => Attr::ProcessName,
            "thread" => Attr::Thread,
            "threadName" => Attr::ThreadName,
            "module" => Attr::Module,
            "filename" => Attr::FileName,
            "pathname" => Attr::PathName,
            "lineno" => Attr::LineNo,
            "funcName" | "exc_info" | "exc_text" | "stack_info" | "args" | "msg" | "taskName" => {
                return Err(format!("the log record attribute `{name}` is not available in luigi-rs"));
            }
            other => return Err(format!("unknown log record attribute `{other}`")),
        })
    }
}

/// A value of one attribute, before it is converted by the format spec.
enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
}

/// How a field is converted and padded.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    /// `s`, `r`, `d`, `i`, `f`, `e`, `x` or none (`{}` style without a type).
    kind: Option<char>,
    width: usize,
    precision: Option<usize>,
    /// `<`, `>` or `^`; `None` is the style's default (`%`: right; `{`: left for text,
    /// right for numbers).
    align: Option<char>,
    fill: char,
}

impl Spec {
    fn plain() -> Spec {
        Spec { kind: None, width: 0, precision: None, align: None, fill: ' ' }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field(Attr, Spec),
}

/// A compiled formatter: the format string and the date format.
#[derive(Debug, Clone)]
pub(crate) struct Format {
    pieces: Vec<Piece>,
    datefmt: Option<String>,
    uses_time: bool,
}

/// One log record, as Python's `LogRecord` would present it.
pub(crate) struct Record<'a> {
    pub(crate) name: &'a str,
    pub(crate) levelno: i64,
    pub(crate) levelname: &'a str,
    pub(crate) message: &'a str,
    /// When the event happened; `None` when no handler's format shows it (reading the local
    /// time zone is a large part of a plain line's cost), in which case a format that does
    /// show it reads the clock itself.
    pub(crate) time: Option<chrono::DateTime<chrono::Local>>,
    /// Milliseconds since logging was set up (Python: since the `logging` module was loaded).
    pub(crate) relative_ms: f64,
    pub(crate) process: u32,
    pub(crate) thread: u64,
    pub(crate) thread_name: &'a str,
    pub(crate) file: Option<&'a str>,
    pub(crate) line: Option<u32>,
}

impl Format {
    /// Parses `text` in `style` (`%`, `{` or `$`); `datefmt` is a strftime string.
    pub(crate) fn parse(text: &str, style: &str, datefmt: Option<&str>) -> Result<Format, String> {
        let pieces = match style {
            "%" => parse_percent(text)?,
            "{" => parse_brace(text)?,
            "$" => parse_dollar(text)?,
            other => return Err(format!("unknown format style `{other}` (Python allows %, {{ and $)")),
        };
        if let Some(datefmt) = datefmt
            && StrftimeItems::new(datefmt).any(|item| matches!(item, Item::Error))
        {
            return Err(format!("datefmt `{datefmt}` is not a valid strftime format"));
        }
        let uses_time = pieces.iter().any(|p| matches!(p, Piece::Field(Attr::AscTime, _)));
        Ok(Format { pieces, datefmt: datefmt.map(str::to_owned), uses_time })
    }

    /// Python's default formatter, `%(message)s`.
    pub(crate) fn message_only() -> Format {
        Format { pieces: vec![Piece::Field(Attr::Message, Spec::plain())], datefmt: None, uses_time: false }
    }

    /// Whether lines in this format show when the event happened (absolutely or since start).
    pub(crate) fn uses_clock(&self) -> bool {
        self.pieces.iter().any(|piece| {
            matches!(piece, Piece::Field(Attr::AscTime | Attr::Created | Attr::Msecs | Attr::RelativeCreated, _))
        })
    }

    /// The line for `record`, without the trailing newline.
    #[cfg(test)]
    pub(crate) fn render(&self, record: &Record<'_>) -> String {
        let mut out = String::with_capacity(record.message.len() + 64);
        self.render_into(record, &mut out);
        out
    }

    /// Appends the line for `record`, without the trailing newline, to `out`.
    pub(crate) fn render_into(&self, record: &Record<'_>, out: &mut String) {
        // Read only by a format that shows the time, so a plain one never looks up the zone.
        let time = || record.time.unwrap_or_else(chrono::Local::now);
        let asctime = if self.uses_time {
            let time = time();
            match &self.datefmt {
                Some(datefmt) => time.format(datefmt).to_string(),
                None => time.format("%Y-%m-%d %H:%M:%S,%3f").to_string(),
            }
        } else {
            String::new()
        };
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(attr, spec) => {
                    let module;
                    let value = match attr {
                        Attr::Name => Value::Str(record.name),
                        Attr::LevelName => Value::Str(record.levelname),
                        Attr::LevelNo => Value::Int(record.levelno),
                        Attr::Message => Value::Str(record.message),
                        Attr::AscTime => Value::Str(&asctime),
                        Attr::Created => Value::Float(time().timestamp_micros() as f64 / 1e6),
                        Attr::Msecs => Value::Float(f64::from(time().timestamp_subsec_millis())),
                        Attr::RelativeCreated => Value::Float(record.relative_ms),
                        Attr::Process => Value::Int(i64::from(record.process)),
                        Attr::ProcessName => Value::Str("MainProcess"),
                        Attr::Thread => Value::Int(i64::try_from(record.thread).unwrap_or(i64::MAX)),
                        Attr::ThreadName => Value::Str(record.thread_name),
                        Attr::PathName => Value::Str(record.file.unwrap_or("(unknown file)")),
                        Attr::FileName => Value::Str(record.file.map_or("(unknown file)", base_name)),
                        Attr::Module => {
                            module = record.file.map(base_name).map(|f| f.strip_suffix(".rs").unwrap_or(f));
                            Value::Str(module.unwrap_or("Unknown module"))
                        }
                        Attr::LineNo => Value::Int(record.line.map_or(0, i64::from)),
                    };
                    write_value(out, &value, spec);
                }
            }
        }
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn write_value(out: &mut String, value: &Value<'_>, spec: &Spec) {
    let numeric = !matches!(value, Value::Str(_));
    let text = match (spec.kind, value) {
        (Some('d' | 'i'), Value::Int(n)) => n.to_string(),
        (Some('d' | 'i'), Value::Float(f)) => format!("{}", f.trunc() as i64),
        (Some('x'), Value::Int(n)) => format!("{n:x}"),
        (Some('f' | 'F'), Value::Int(n)) => format!("{:.*}", spec.precision.unwrap_or(6), *n as f64),
        (Some('f' | 'F'), Value::Float(f)) => format!("{:.*}", spec.precision.unwrap_or(6), f),
        (Some('e'), Value::Int(n)) => format!("{:.*e}", spec.precision.unwrap_or(6), *n as f64),
        (Some('e'), Value::Float(f)) => format!("{:.*e}", spec.precision.unwrap_or(6), f),
        (Some('r'), Value::Str(s)) => format!("'{s}'"),
        (_, Value::Str(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => (*s).to_owned(),
        },
        (_, Value::Int(n)) => n.to_string(),
        (_, Value::Float(f)) => match spec.precision {
            Some(p) => format!("{f:.p$}"),
            None => python_float(*f),
        },
    };
    let len = text.chars().count();
    if len >= spec.width {
        out.push_str(&text);
        return;
    }
    let pad = spec.width - len;
    let align = spec.align.unwrap_or(if numeric { '>' } else { '<' });
    let fill = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(spec.fill, n));
    match align {
        '<' => {
            out.push_str(&text);
            fill(out, pad);
        }
        '^' => {
            fill(out, pad / 2);
            out.push_str(&text);
            fill(out, pad - pad / 2);
        }
        _ => {
            fill(out, pad);
            out.push_str(&text);
        }
    }
}

/// Python's `str(float)` for the values logging produces: always a decimal point.
fn python_float(f: f64) -> String {
    let text = format!("{f}");
    if text.contains(['.', 'e', 'n', 'i']) { text } else { format!("{text}.0") }
}

/// `%(name)[flags][width][.precision]type` fields and `%%`.
fn parse_percent(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            literal.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => literal.push('%'),
            Some('(') => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some(')') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("unclosed `%(` in format `{text}`")),
                    }
                }
                let attr = Attr::from_name(&name)?;
                let mut spec = Spec { align: Some('>'), ..Spec::plain() };
                while let Some(&flag) = chars.peek() {
                    match flag {
                        '-' => spec.align = Some('<'),
                        '0' => spec.fill = '0',
                        ' ' | '+' | '#' => {}
                        _ => break,
                    }
                    chars.next();
                }
                if spec.align == Some('<') {
                    spec.fill = ' ';
                }
                spec.width = take_number(&mut chars).unwrap_or(0);
                if chars.peek() == Some(&'.') {
                    chars.next();
                    spec.precision = Some(take_number(&mut chars).unwrap_or(0));
                }
                match chars.next() {
                    Some(kind @ ('s' | 'r' | 'a' | 'd' | 'i' | 'u' | 'f' | 'F' | 'e' | 'x')) => {
                        spec.kind = Some(match kind {
                            'a' => 'r',
                            'u' => 'd',
                            other => other,
                        });
                    }
                    Some(other) => return Err(format!("unsupported conversion `%({name}){other}` in format `{text}`")),
                    None => {
                        return Err(format!("`%({name})` lacks a conversion type (such as `s`) in format `{text}`"));
                    }
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Field(attr, spec));
            }
            Some(other) => {
                return Err(format!(
                    "`%{other}` in format `{text}`: log formats name their fields, as in `%(message)s`; write `%%` for a percent sign"
                ));
            }
            None => return Err(format!("format `{text}` ends with a lone `%`")),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

fn take_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut digits = String::new();
    while let Some(&c) = chars.peek() {
        if !c.is_ascii_digit() {
            break;
        }
        digits.push(c);
        chars.next();
    }
    digits.parse().ok()
}

/// `{name}`, `{name:[[fill]align][0][width][.precision][type]}`, `{{` and `}}`.
fn parse_brace(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err(format!("single `}}` in format `{text}` (write `}}}}`)")),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => field.push(c),
                        None => return Err(format!("unclosed `{{` in format `{text}`")),
                    }
                }
                let (name, format_spec) = field.split_once(':').unwrap_or((&field, ""));
                if name.contains('!') {
                    return Err(format!("conversions such as `{{{field}}}` are not supported in format `{text}`"));
                }
                let attr = Attr::from_name(name)?;
                let spec = parse_format_spec(format_spec).map_err(|e| format!("{e} in format `{text}`"))?;
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Field(attr, spec));
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// Python's format-spec mini-language, the parts that make sense for log records.
fn parse_format_spec(text: &str) -> Result<Spec, String> {
    let mut spec = Spec::plain();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let is_align = |c: char| matches!(c, '<' | '>' | '^');
    if chars.len() >= 2 && is_align(chars[1]) {
        spec.fill = chars[0];
        spec.align = Some(chars[1]);
        i = 2;
    } else if chars.first().is_some_and(|&c| is_align(c)) {
        spec.align = Some(chars[0]);
        i = 1;
    }
    if chars.get(i) == Some(&'0') {
        spec.fill = '0';
        spec.align.get_or_insert('>');
        i += 1;
    }
    let rest: String = chars[i..].iter().collect();
    let mut rest = rest.chars().peekable();
    spec.width = take_number(&mut rest).unwrap_or(0);
    if rest.peek() == Some(&'.') {
        rest.next();
        spec.precision = Some(take_number(&mut rest).ok_or_else(|| format!("format spec `{text}` lacks a precision"))?);
    }
    match rest.next() {
        None => {}
        Some(kind @ ('s' | 'd' | 'f' | 'F' | 'e' | 'x')) => spec.kind = Some(kind),
        Some(_) => return Err(format!("unsupported format spec `{text}`")),
    }
    if rest.next().is_some() {
        return Err(format!("unsupported format spec `{text}`"));
    }
    Ok(spec)
}

/// `$name`, `${name}` and `$$`.
fn parse_dollar(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            literal.push(c);
            continue;
        }
        let name = match chars.peek() {
            Some('$') => {
                chars.next();
                literal.push('$');
                continue;
            }
            Some('{') => {
                chars.next();
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("unclosed `${{` in format `{text}`")),
                    }
                }
                name
            }
            _ => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                if name.is_empty() {
                    return Err(format!("lone `$` in format `{text}` (write `$$`)"));
                }
                name
            }
        };
        if !literal.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Field(Attr::from_name(&name)?, Spec::plain()));
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// Appends `key=value` pairs of structured fields to a message, as `tracing`'s default
/// format does.
pub(crate) fn append_field(message: &mut String, name: &str, value: &dyn std::fmt::Debug) {
    if !message.is_empty() {
        message.push(' ');
    }
    let _ = write!(message, "{name}={value:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record() -> Record<'static> {
        Record {
            name: "luigi-interface",
            levelno: 20,
            levelname: "INFO",
            message: "Done scheduling tasks",
            time: Some(
                chrono::Local.with_ymd_and_hms(2024, 5, 1, 12, 0, 3).unwrap() + chrono::TimeDelta::milliseconds(45),
            ),
            relative_ms: 1234.5,
            process: 4242,
            thread: 7,
            thread_name: "MainThread",
            file: Some("luigi-worker/src/worker.rs"),
            line: Some(513),
        }
    }

    fn render(text: &str, style: &str) -> String {
        Format::parse(text, style, None).unwrap().render(&record())
    }

    #[test]
    fn percent_style_matches_python() {
        assert_eq!(render("%(levelname)s: %(message)s", "%"), "INFO: Done scheduling tasks");
        assert_eq!(
            render("%(asctime)s %(name)s[%(process)d] %(levelname)s: %(message)s", "%"),
            "2024-05-01 12:00:03,045 luigi-interface[4242] INFO: Done scheduling tasks"
        );
        assert_eq!(render("[%(levelname)-8s] %(process)6d|%(levelno)03d", "%"), "[INFO    ]   4242|020");
        assert_eq!(render("%(filename)s:%(lineno)d %(module)s 100%%", "%"), "worker.rs:513 worker 100%");
        assert_eq!(render("%(msecs)03d %(relativeCreated).1f %(processName)s", "%"), "045 1234.5 MainProcess");
        assert_eq!(render("%(levelname).1s", "%"), "I");
    }

    #[test]
    fn brace_and_dollar_styles() {
        assert_eq!(render("{levelname}: {message}", "{"), "INFO: Done scheduling tasks");
        assert_eq!(render("{levelname:>8}|{process:08d}|{{x}}", "{"), "    INFO|00004242|{x}");
        assert_eq!(render("{levelname:*^8}", "{"), "**INFO**");
        assert_eq!(render("$levelname: ${message} $$", "$"), "INFO: Done scheduling tasks $");
    }

    #[test]
    fn datefmt_and_its_validation() {
        let format = Format::parse("%(asctime)s", "%", Some("%H:%M:%S")).unwrap();
        assert_eq!(format.render(&record()), "12:00:03");
        assert!(Format::parse("%(asctime)s", "%", Some("%Q")).unwrap_err().contains("%Q"));
    }

    #[test]
    fn bad_formats_are_rejected_with_the_reason() {
        assert!(Format::parse("%(funcName)s", "%", None).unwrap_err().contains("funcName"));
        assert!(Format::parse("%(levelnam)s", "%", None).unwrap_err().contains("levelnam"));
        assert!(Format::parse("%(message)", "%", None).unwrap_err().contains("conversion"));
        assert!(Format::parse("%s", "%", None).unwrap_err().contains("%s"));
        assert!(Format::parse("{message!r}", "{", None).is_err());
        assert!(Format::parse("{message", "{", None).unwrap_err().contains("unclosed"));
        assert!(Format::parse("x", "#", None).unwrap_err().contains("style"));
    }

    #[test]
    fn the_default_formatter_prints_the_message() {
        assert_eq!(Format::message_only().render(&record()), "Done scheduling tasks");
    }
}
