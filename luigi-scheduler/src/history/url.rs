//! `[task_history] db_connection`: SQLAlchemy database URLs, parsed into what our two backends need.
//!
//! Luigi hands the URL to `sqlalchemy.create_engine`, so configurations in the wild use SQLAlchemy's
//! syntax: `dialect[+driver]://user:password@host:port/database?key=value`, with SQLite's special
//! forms (`sqlite://` in memory, `sqlite:///relative.db`, `sqlite:////absolute.db`). [`DbUrl::parse`]
//! accepts the SQLite and PostgreSQL forms (any `+driver` suffix, since the driver is ours, not
//! the URL's) and rejects every other dialect with an error that names what is supported, rather
//! than failing later at connect time.
//!
//! A password never appears in an error message or in [`DbUrl`]'s `Display` output.

use std::fmt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use super::Error;

/// Where the history lives, as parsed from an SQLAlchemy URL.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DbUrl {
    /// An SQLite database.
    Sqlite(SqliteLocation),
    /// A PostgreSQL database.
    Postgres(PostgresUrl),
}

/// Where an SQLite history database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    /// A private in-memory database (`sqlite://` or `sqlite:///:memory:`), gone at exit.
    Memory,
    /// A database file; a relative path is relative to the working directory, as in SQLAlchemy.
    File(PathBuf),
}

/// The connection settings of a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// The user name, percent-decoded; `None` means the server's default (the OS user for libpq).
    pub user: Option<String>,
    /// The password, percent-decoded.
    pub password: Option<String>,
    /// The host name or IP address; `None` means `localhost`. A value starting with `/` is a Unix
    /// socket directory (from `?host=/path`).
    pub host: Option<String>,
    /// The port; `None` means 5432.
    pub port: Option<u16>,
    /// The database name; `None` means the server's default (the user name).
    pub dbname: Option<String>,
    /// Query parameters passed on to the server (`options`, `application_name`, `connect_timeout`,
    /// `sslmode`), percent-decoded, in the order given.
    pub params: Vec<(String, String)>,
}

/// The URL query parameters a PostgreSQL URL may carry.
const PG_PARAMS: &[&str] = &["options", "application_name", "connect_timeout", "sslmode", "host", "port"];

/// What we accept, for error messages.
const SUPPORTED: &str = "sqlite:///relative/path.db, sqlite:////absolute/path.db, sqlite:// (in memory) \
     or postgresql://user:password@host:port/database (also postgres://, postgresql+psycopg2://, \
     postgresql+pg8000://)";

impl DbUrl {
    /// Parses an SQLAlchemy database URL.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedUrl`] for a dialect other than SQLite or PostgreSQL, and
    /// [`Error::InvalidUrl`] for a malformed URL.
    pub fn parse(url: &str) -> Result<DbUrl, Error> {
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(invalid(url, format!("expected `dialect://...`; supported forms: {SUPPORTED}")));
        };
        let dialect = scheme.split_once('+').map_or(scheme, |(dialect, _driver)| dialect).to_ascii_lowercase();
        match dialect.as_str() {
            "sqlite" => parse_sqlite(url, rest),
            "postgresql" | "postgres" => parse_postgres(url, rest).map(DbUrl::Postgres),
            _ => Err(Error::UnsupportedUrl { scheme: scheme.to_owned(), supported: SUPPORTED }),
        }
    }

    /// The backend's name, for logs: `sqlite` or `postgresql`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            DbUrl::Sqlite(_) => "sqlite",
            DbUrl::Postgres(_) => "postgresql",
        }
    }
}

fn parse_sqlite(url: &str, rest: &str) -> Result<DbUrl, Error> {
    // SQLAlchemy: everything after `sqlite://` up to `?` is `/path`; an empty path is memory.
    let path = rest.split_once('?').map_or(rest, |(path, _query)| path);
    if path.is_empty() {
        return Ok(DbUrl::Sqlite(SqliteLocation::Memory));
    }
    let Some(path) = path.strip_prefix('/') else {
        return Err(invalid(url, "an SQLite URL has no host: write sqlite:///relative.db or sqlite:////absolute.db"));
    };
    if path.is_empty() || path == ":memory:" {
        return Ok(DbUrl::Sqlite(SqliteLocation::Memory));
    }
    Ok(DbUrl::Sqlite(SqliteLocation::File(PathBuf::from(path))))
}

fn parse_postgres(url: &str, rest: &str) -> Result<PostgresUrl, Error> {
    let (before_query, query) = rest.split_once('?').map_or((rest, None), |(a, q)| (a, Some(q)));
    let (authority, dbname) = before_query.split_once('/').map_or((before_query, None), |(a, d)| (a, Some(d)));
    // The password may itself contain `@` (SQLAlchemy's pattern is greedy), so split at the last one.
    let (userinfo, hostport) = authority.rsplit_once('@').map_or((None, authority), |(u, h)| (Some(u), h));
    let mut out = PostgresUrl {
        user: None,
        password: None,
        host: None,
        port: None,
        dbname: dbname.filter(|d| !d.is_empty()).map(|d| decode(url, d)).transpose()?,
        params: Vec::new(),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = userinfo.split_once(':').map_or((userinfo, None), |(u, p)| (u, Some(p)));
        out.user = Some(user).filter(|u| !u.is_empty()).map(|u| decode(url, u)).transpose()?;
        out.password = password.map(|p| decode(url, p)).transpose()?;
    }
    let (host, port) = split_host_port(url, hostport)?;
    out.host = host;
    out.port = port;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(url, key)?;
        let value = decode(url, &value.replace('+', " "))?;
        if !PG_PARAMS.contains(&key.as_str()) {
            return Err(invalid(
                url,
                format!("unsupported PostgreSQL URL parameter `{key}`; supported: {}", PG_PARAMS.join(", ")),
            ));
        }
        match key.as_str() {
            // libpq lets `?host=` and `?port=` override the authority part (used for Unix sockets).
            "host" => out.host = Some(value),
            "port" => out.port = Some(parse_port(url, &value)?),
            _ => out.params.push((key, value)),
        }
    }
    Ok(out)
}

fn split_host_port(url: &str, hostport: &str) -> Result<(Option<String>, Option<u16>), Error> {
    if hostport.is_empty() {
        return Ok((None, None));
    }
    if let Some(inner) = hostport.strip_prefix('[') {
        // An IPv6 literal: `[::1]:5432`.
        let Some((host, after)) = inner.split_once(']') else {
            return Err(invalid(url, "unterminated `[` in an IPv6 host"));
        };
        let port = if after.is_empty() || after == ":" {
            None
        } else if let Some(port) = after.strip_prefix(':') {
            Some(parse_port(url, port)?)
        } else {
            return Err(invalid(url, "unexpected text after an IPv6 host"));
        };
        return Ok((Some(host.to_owned()), port));
    }
    match hostport.split_once(':') {
        Some((host, port)) => {
            let port = if port.is_empty() { None } else { Some(parse_port(url, port)?) };
            Ok((Some(host.to_owned()).filter(|h| !h.is_empty()), port))
        }
        None => Ok((Some(hostport.to_owned()), None)),
    }
}

fn parse_port(url: &str, port: &str) -> Result<u16, Error> {
    port.parse().map_err(|_| invalid(url, format!("the port `{port}` is not a number from 0 to 65535")))
}

fn decode(url: &str, text: &str) -> Result<String, Error> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid(url, "a percent-escape does not decode to UTF-8"))
}

fn invalid(url: &str, reason: impl Into<String>) -> Error {
    Error::InvalidUrl { url: redact(url), reason: reason.into() }
}

/// `url` with any password replaced by `***`, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{}", &rest[end..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl fmt::Display for DbUrl {
    /// The URL in SQLAlchemy form, with the password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbUrl::Sqlite(SqliteLocation::Memory) => f.write_str("sqlite://"),
            DbUrl::Sqlite(SqliteLocation::File(path)) => write!(f, "sqlite:///{}", path.display()),
            DbUrl::Postgres(pg) => fmt::Display::fmt(pg, f),
        }
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

impl fmt::Display for PostgresUrl {
    /// The URL with the password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("postgresql://")?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if self.password.is_some() {
                f.write_str(":***")?;
            }
            f.write_str("@")?;
        }
        match &self.host {
            Some(host) if host.contains(':') && !host.starts_with('/') => write!(f, "[{host}]")?,
            Some(host) if !host.starts_with('/') => f.write_str(host)?,
            _ => {}
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if let Some(db) = &self.dbname {
            write!(f, "/{db}")?;
        }
        if let Some(host) = self.host.as_deref().filter(|h| h.starts_with('/')) {
            write!(f, "?host={host}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str) -> PostgresUrl {
        match DbUrl::parse(url) {
            Ok(DbUrl::Postgres(pg)) => pg,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn sqlite_forms() {
        let file = |p: &str| Some(DbUrl::Sqlite(SqliteLocation::File(PathBuf::from(p))));
        assert_eq!(DbUrl::parse("sqlite://").ok(), Some(DbUrl::Sqlite(SqliteLocation::Memory)));
        assert_eq!(DbUrl::parse("sqlite:///:memory:").ok(), Some(DbUrl::Sqlite(SqliteLocation::Memory)));
        assert_eq!(DbUrl::parse("sqlite:///history.db").ok(), file("history.db"));
        assert_eq!(DbUrl::parse("sqlite:///dir/history.db").ok(), file("dir/history.db"));
        assert_eq!(DbUrl::parse("sqlite:////var/lib/luigi/history.db").ok(), file("/var/lib/luigi/history.db"));
        assert_eq!(DbUrl::parse("sqlite+pysqlite:////tmp/h.db?timeout=5").ok(), file("/tmp/h.db"));
        assert_eq!(DbUrl::parse("  sqlite:///h.db \n").ok(), file("h.db"));
        assert!(matches!(DbUrl::parse("sqlite://host/h.db"), Err(Error::InvalidUrl { .. })));
    }

    #[test]
    fn postgres_forms() {
        let url = pg("postgresql://luigi:s%40cret@db.example:6543/history");
        assert_eq!(url.user.as_deref(), Some("luigi"));
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!(url.host.as_deref(), Some("db.example"));
        assert_eq!(url.port, Some(6543));
        assert_eq!(url.dbname.as_deref(), Some("history"));
        for scheme in ["postgres", "postgresql+psycopg2", "postgresql+pg8000", "PostgreSQL"] {
            assert_eq!(pg(&format!("{scheme}://u@h/d")).dbname.as_deref(), Some("d"), "{scheme}");
        }
        let bare = pg("postgresql://");
        assert_eq!((bare.user, bare.host, bare.port, bare.dbname), (None, None, None, None));
        let at_in_password = pg("postgresql://u:p@ss@h/d");
        assert_eq!(at_in_password.password.as_deref(), Some("p@ss"));
        assert_eq!(at_in_password.host.as_deref(), Some("h"));
        let v6 = pg("postgresql://u@[::1]:5433/d");
        assert_eq!((v6.host.as_deref(), v6.port), (Some("::1"), Some(5433)));
        let socket = pg("postgresql:///d?host=/var/run/postgresql&options=-csearch_path%3Dfoo");
        assert_eq!(socket.host.as_deref(), Some("/var/run/postgresql"));
        assert_eq!(socket.params, vec![("options".to_owned(), "-csearch_path=foo".to_owned())]);
        assert!(matches!(DbUrl::parse("postgresql://h:99999/d"), Err(Error::InvalidUrl { .. })));
        assert!(matches!(DbUrl::parse("postgresql://h/d?bogus=1"), Err(Error::InvalidUrl { .. })));
        assert!(matches!(DbUrl::parse("postgresql://[::1/d"), Err(Error::InvalidUrl { .. })));
    }

    #[test]
    fn other_dialects_name_what_is_supported() {
        for url in ["mysql://root@localhost/test", "mysql+pymysql://u:p@h/d", "oracle://h/d", "mssql+pyodbc://x"] {
            let err = DbUrl::parse(url).unwrap_err();
            assert!(matches!(err, Error::UnsupportedUrl { .. }), "{url}: {err:?}");
            let message = err.to_string();
            assert!(message.contains("sqlite://") && message.contains("postgresql://"), "{message}");
        }
        assert!(matches!(DbUrl::parse("history.db"), Err(Error::InvalidUrl { .. })));
    }

    #[test]
    fn passwords_never_shown() {
        let url = DbUrl::parse("postgresql://luigi:topsecret@h:5432/d").unwrap();
        assert_eq!(url.to_string(), "postgresql://luigi:***@h:5432/d");
        assert!(!format!("{url:?}").contains("topsecret"));
        let err = DbUrl::parse("postgresql://luigi:topsecret@h:notaport/d").unwrap_err();
        assert!(!err.to_string().contains("topsecret"), "{err}");
        assert_eq!(redact("postgresql://u:pw@h/d?x=1"), "postgresql://u:***@h/d?x=1");
        assert_eq!(redact("sqlite:///a.db"), "sqlite:///a.db");
        assert_eq!(DbUrl::parse("postgresql://u@[::1]/d").unwrap().to_string(), "postgresql://u@[::1]/d");
        assert_eq!(DbUrl::parse("postgresql:///d?host=/tmp").unwrap().to_string(), "postgresql:///d?host=/tmp");
    }
}
