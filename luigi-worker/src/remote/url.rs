//! [`SchedulerUrl`]: a scheduler URL read the way Luigi's `RemoteScheduler` reads it, and where
//! each RPC goes.
//!
//! Luigi strips every trailing `/` from the URL and joins `/api/<method>` onto the URL's *path*
//! (`luigi.rpc._urljoin`), so a scheduler mounted under a sub-path works: `http://h/subpath`
//! gives `http://h/subpath/api/get_work`. The join is Python's `urljoin` with an absolute path:
//! the base's query and fragment are dropped, `.` and `..` segments are resolved, empty
//! segments are kept, and for `http`/`https` the `;params` of the base's last segment are
//! dropped (Python's `urlparse` splits them off). The result is checked against vectors made
//! by Luigi itself (`tests/data/remote_vectors.json`).
//!
//! Credentials embedded in the URL (`http://user:pass@host`) are percent-decoded (as `requests`
//! does) into a ready `Authorization: Basic ...` value and removed from every URL this type
//! hands out or prints, so they reach the server as a header and never a log line.
//!
//! One deliberate difference: a base path starting with `//` (`http://h//a`) makes Python's
//! join read `a` as the host; here the host stays `h` and the path is kept.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use percent_encoding::percent_decode_str;

use super::Error;

/// How the scheduler is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://host:port/path`.
    Http,
    /// `https://host:port/path` (TLS with rustls and the bundled web PKI roots).
    Https,
    /// `http+unix://<percent-encoded socket path>/path`: HTTP/1.1 over a UNIX socket, as with
    /// Python's `requests-unixsocket` (luigid `--unix-socket`).
    HttpUnix,
}

impl Scheme {
    /// The scheme as written in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::HttpUnix => "http+unix",
        }
    }
}

/// A parsed scheduler URL: where each RPC goes and how to authenticate.
///
/// `Display` prints the URL as given, less trailing `/` and less credentials (what Luigi's
/// messages call the remote scheduler); `Debug` shows no credentials either.
#[derive(Clone, PartialEq, Eq)]
pub struct SchedulerUrl {
    scheme: Scheme,
    /// `host[:port]` without credentials; for `http+unix`, the socket path as written (encoded).
    authority: String,
    /// The decoded socket path, for `http+unix`.
    socket_path: Option<PathBuf>,
    /// The request path up to the method name: the base path joined with `/api/`, resolved
    /// and percent-encoded where needed.
    api_prefix: String,
    /// `Basic <base64 of user:password>`, when the URL carries credentials.
    authorization: Option<String>,
    /// The URL for messages: as given, right-stripped of `/`, credentials removed.
    display: String,
}

impl SchedulerUrl {
    /// Parses a scheduler URL (`http://`, `https://` or `http+unix://`).
    ///
    /// Fails on other schemes, a missing host or socket path, and URLs the HTTP stack cannot
    /// send to; Python Luigi would fail on these at the first request instead.
    pub fn parse(url: &str) -> Result<SchedulerUrl, Error> {
        let stripped = url.trim().trim_end_matches('/');
        let invalid = |reason: &str| Error::InvalidUrl { url: redact(stripped), reason: reason.to_owned() };

        let colon = stripped.find(':').ok_or_else(|| invalid("it has no scheme; write e.g. http://localhost:8082/"))?;
        let raw_scheme = &stripped[..colon];
        let scheme = match raw_scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "http+unix" => Scheme::HttpUnix,
            _ => return Err(invalid("the scheme must be http, https or http+unix")),
        };
        let rest = stripped[colon + 1..]
            .strip_prefix("//")
            .ok_or_else(|| invalid("it has no host; write e.g. http://localhost:8082/"))?;
        let netloc_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (netloc, after_netloc) = rest.split_at(netloc_end);
        let path = &after_netloc[..after_netloc.find(['?', '#']).unwrap_or(after_netloc.len())];
        let path = match scheme {
            Scheme::Http | Scheme::Https => without_params(path),
            Scheme::HttpUnix => path,
        };

        // Python's urlparse takes the credentials up to the *last* `@` of the netloc.
        let (userinfo, authority) = match netloc.rfind('@') {
            Some(at) => (Some(&netloc[..at]), &netloc[at + 1..]),
            None => (None, netloc),
        };
        if authority.is_empty() {
            return Err(invalid(match scheme {
                Scheme::HttpUnix => "it has no socket path; write e.g. http+unix://%2Fvar%2Frun%2Fluigid.sock/",
                _ => "it has no host; write e.g. http://localhost:8082/",
            }));
        }
        if scheme != Scheme::HttpUnix && !valid_port(authority) {
            return Err(invalid("its port is not a number from 0 to 65535"));
        }
        let socket_path = match scheme {
            Scheme::HttpUnix => Some(PathBuf::from(percent_decode_str(authority).decode_utf8_lossy().into_owned())),
            _ => None,
        };

        let parsed = SchedulerUrl {
            scheme,
            authority: authority.to_owned(),
            socket_path,
            api_prefix: api_prefix(path),
            authorization: userinfo.and_then(basic_authorization),
            display: format!("{raw_scheme}://{authority}{after_netloc}"),
        };
        if scheme != Scheme::HttpUnix && parsed.endpoint("ping").parse::<ureq::http::Uri>().is_err() {
            return Err(invalid("it is not a valid URL"));
        }
        Ok(parsed)
    }

    /// How the scheduler is reached.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The full URL of an RPC, without credentials: `http://h/subpath/api/get_work`.
    pub fn endpoint(&self, method: &str) -> String {
        format!("{}://{}{}{method}", self.scheme.as_str(), self.authority, self.api_prefix)
    }

    /// The request path of an RPC: `/subpath/api/get_work`.
    pub fn path(&self, method: &str) -> String {
        format!("{}{method}", self.api_prefix)
    }

    /// The UNIX socket, for `http+unix` URLs.
    pub fn socket_path(&self) -> Option<&Path> {
        self.socket_path.as_deref()
    }

    /// Whether the URL carries credentials (sent as `Authorization: Basic ...`).
    pub fn has_credentials(&self) -> bool {
        self.authorization.is_some()
    }

    /// The `Authorization` header value for the URL's credentials. Secret: never log it.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }
}

impl fmt::Display for SchedulerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for SchedulerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerUrl")
            .field("url", &self.display)
            .field("has_credentials", &self.authorization.is_some())
            .finish()
    }
}

/// `url` without the credentials of its netloc, for error messages about URLs that do not parse.
fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let netloc_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    match url[start..netloc_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..start], &url[start + at + 1..]),
        None => url.to_owned(),
    }
}

/// Whether the port of `host[:port]` (`[v6]:port` too), if any, is a number that fits a port.
fn valid_port(authority: &str) -> bool {
    let after_host = authority.rfind(']').map_or(authority, |bracket| &authority[bracket..]);
    match after_host.rfind(':') {
        Some(colon) => {
            let port = &after_host[colon + 1..];
            port.is_empty() || (port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok())
        }
        None => true,
    }
}

/// The path without the `;params` of its last segment, as Python's `urlparse` splits them.
fn without_params(path: &str) -> &str {
    let last_segment = path.rfind('/').unwrap_or(0);
    match path[last_segment..].find(';') {
        Some(semicolon) => &path[..last_segment + semicolon],
        None => path,
    }
}

/// Joins `/api/` onto the base path and resolves it like Python's `urljoin` does for an
/// absolute path: `.` segments vanish, `..` removes the segment before it (the root too, after
/// which Python puts the leading `/` back), empty segments stay. The result starts with `/` and
/// ends with `/api/`.
fn api_prefix(base_path: &str) -> String {
    let mut resolved: Vec<&str> = Vec::new();
    // The method name stands for the last segment so that the resolution sees the same segments
    // as Python's; being a plain name it survives, and is cut off again below.
    for segment in base_path.split('/').chain(["api", "m"]) {
        match segment {
            "." => {}
            ".." => {
                resolved.pop();
            }
            _ => resolved.push(segment),
        }
    }
    let mut prefix = String::with_capacity(base_path.len() + 8);
    if resolved.first().is_none_or(|first| !first.is_empty()) {
        prefix.push('/');
    }
    for (index, segment) in resolved.iter().enumerate() {
        if index > 0 {
            prefix.push('/');
        }
        requote(segment, &mut prefix);
    }
    prefix.pop();
    prefix
}

/// Appends `segment`, percent-encoding the bytes a URL path cannot hold (spaces, non-ASCII,
/// ...), as `requests` does before sending. Existing `%XX` escapes are kept.
fn requote(segment: &str, out: &mut String) {
    for &byte in segment.as_bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%".contains(&byte);
        if allowed {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The `Authorization` value for the URL's `user[:password]`, percent-decoded; none when both
/// are empty (`http://@host`).
fn basic_authorization(userinfo: &str) -> Option<String> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    if user.is_empty() && password.is_empty() {
        return None;
    }
    let user = percent_decode_str(user).decode_utf8_lossy();
    let password = percent_decode_str(password).decode_utf8_lossy();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Some(format!("Basic {token}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_under_the_base_path() {
        let url = SchedulerUrl::parse("http://zorg.com/subpath/").unwrap();
        assert_eq!(url.endpoint("ping"), "http://zorg.com/subpath/api/ping");
        assert_eq!(url.path("ping"), "/subpath/api/ping");
        assert_eq!(url.to_string(), "http://zorg.com/subpath");
        assert_eq!(url.scheme(), Scheme::Http);
        assert_eq!(url.socket_path(), None);
    }

    #[test]
    fn a_double_slash_path_keeps_the_host() {
        let url = SchedulerUrl::parse("http://h//a/").unwrap();
        assert_eq!(url.endpoint("ping"), "http://h//a/api/ping");
    }

    #[test]
    fn dot_segments_never_climb_above_the_root() {
        assert_eq!(api_prefix("/../../x"), "/x/api/");
        assert_eq!(api_prefix("/a/b/../.."), "/api/");
        assert_eq!(api_prefix(""), "/api/");
        assert_eq!(api_prefix("/a/./b"), "/a/b/api/");
    }

    #[test]
    fn params_of_the_last_segment_are_dropped() {
        assert_eq!(without_params("/a;x/b;y"), "/a;x/b");
        assert_eq!(without_params("/a;x/b"), "/a;x/b");
        assert_eq!(without_params(""), "");
    }

    #[test]
    fn unix_socket_paths_are_decoded() {
        let url = SchedulerUrl::parse("http+unix://%2Ftmp%2Fl%20d.sock/sub/").unwrap();
        assert_eq!(url.scheme(), Scheme::HttpUnix);
        assert_eq!(url.socket_path(), Some(Path::new("/tmp/l d.sock")));
        assert_eq!(url.path("ping"), "/sub/api/ping");
    }

    #[test]
    fn credentials_are_a_header_and_never_shown() {
        let url = SchedulerUrl::parse("https://alice:s%3Acret@sched:8443/luigi").unwrap();
        assert_eq!(url.authorization(), Some("Basic YWxpY2U6czpjcmV0"));
        assert!(url.has_credentials());
        assert_eq!(url.endpoint("ping"), "https://sched:8443/luigi/api/ping");
        assert_eq!(url.to_string(), "https://sched:8443/luigi");
        assert!(!format!("{url:?}").contains("cret"));
        assert_eq!(SchedulerUrl::parse("http://@h").unwrap().authorization(), None);
        assert_eq!(SchedulerUrl::parse("http://:pw@h").unwrap().authorization(), Some("Basic OnB3"));
    }

    #[test]
    fn unusable_urls_are_rejected_with_the_reason() {
        for (url, reason) in [
            ("localhost:8082", "scheme must be"),
            ("zorg.com/sub", "no scheme"),
            ("ftp://h/", "scheme must be"),
            ("http:h", "no host"),
            ("http://", "no host"),
            ("http://user:secret@/x", "no host"),
            ("http+unix:///sub", "no socket path"),
            ("http://h h/", "not a valid URL"),
            ("http://h:port/", "port is not a number"),
            ("http://h:70000/", "port is not a number"),
            ("http://[::1]:x/", "port is not a number"),
        ] {
            let err = SchedulerUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(reason), "{url}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn redaction_keeps_everything_but_the_credentials() {
        assert_eq!(redact("http://u:p@h/a@b"), "http://h/a@b");
        assert_eq!(redact("http://a@b:c@h"), "http://h");
        assert_eq!(redact("h/x"), "h/x");
    }
}
