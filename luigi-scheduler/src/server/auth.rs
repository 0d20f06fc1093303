//! Optional HTTP basic authentication for every route but `HEAD /`.
//!
//! Python workers already send `Authorization: Basic ...` when their scheduler URL carries
//! credentials (`http://user:pass@host:8082`); Python luigid ignores the header. We check it
//! when `[luigid] basic_auth_users` or `basic_auth_file` names users, and answer 401 with a
//! `WWW-Authenticate` challenge otherwise. Passwords are compared in constant time, and every
//! configured user is compared on every request, so neither a password's content nor which
//! user names exist shows in the response time.
//!
//! Two requests pass without credentials: `HEAD /`, the health check load balancers use, and
//! `OPTIONS` on `/api/...`, because browsers never send credentials on a CORS preflight (the
//! reply is static CORS headers and reveals nothing).

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use subtle::{Choice, ConstantTimeEq};

/// Base64 as clients write it in `Authorization` headers: standard alphabet, padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The users allowed in, and the realm named in the challenge.
#[derive(Clone)]
pub struct BasicAuth {
    users: Vec<(String, String)>,
    challenge: HeaderValue,
}

impl fmt::Debug for BasicAuth {
    /// Lists the user names, never the passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.users.iter().map(|(user, _)| user.as_str()).collect();
        f.debug_struct("BasicAuth").field("users", &names).field("challenge", &self.challenge).finish()
    }
}

impl BasicAuth {
    /// Allows `users` (name, password) in; the challenge names `realm`. `None` when the realm
    /// cannot be sent in a header (control characters or a double quote).
    pub fn new(realm: &str, users: Vec<(String, String)>) -> Option<BasicAuth> {
        if realm.contains('"') {
            return None;
        }
        let challenge = HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")).ok()?;
        Some(BasicAuth { users, challenge })
    }

    /// The configured user names, in order.
    pub fn user_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.users.iter().map(|(user, _)| user.as_str())
    }

    /// Whether an `Authorization` header value names a configured user with its password.
    pub fn accepts(&self, authorization: &[u8]) -> bool {
        let Some((user, password)) = decode(authorization) else { return false };
        let mut matched = Choice::from(0);
        for (known_user, known_password) in &self.users {
            matched |= known_user.as_bytes().ct_eq(&user) & known_password.as_bytes().ct_eq(&password);
        }
        bool::from(matched)
    }
}

/// Splits `Basic <base64 of user:password>` into user and password bytes.
fn decode(authorization: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let text = std::str::from_utf8(authorization).ok()?.trim();
    let (scheme, credentials) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let mut decoded = BASE64.decode(credentials.trim()).ok()?;
    let colon = decoded.iter().position(|&byte| byte == b':')?;
    let password = decoded.split_off(colon + 1);
    decoded.truncate(colon);
    Some((decoded, password))
}

/// Parses users written `name:password`, one per line or separated by commas (a password
/// may contain `:`, but not a comma in this form; the users file allows commas). Blank
/// entries and, when `comments` is set, lines starting with `#` are skipped.
pub(super) fn parse_users(text: &str, split_commas: bool) -> Result<Vec<(String, String)>, String> {
    let mut users = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || (!split_commas && line.starts_with('#')) {
            continue;
        }
        let entries: Vec<&str> = if split_commas { line.split(',').collect() } else { vec![line] };
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            users.push(parse_entry(entry)?);
        }
    }
    Ok(users)
}

/// Parses one `name:password` entry (the password may contain `:`).
pub(super) fn parse_entry(entry: &str) -> Result<(String, String), String> {
    let Some((user, password)) = entry.split_once(':') else {
        return Err(format!("the entry for '{}' has no ':'; write user:password", prefix(entry)));
    };
    let user = user.trim();
    if user.is_empty() {
        return Err("an entry has an empty user name; write user:password".to_owned());
    }
    if password.is_empty() {
        return Err(format!("user '{user}' has an empty password; set one"));
    }
    Ok((user.to_owned(), password.to_owned()))
}

/// The first few characters of an entry, so an error never prints a whole password.
fn prefix(entry: &str) -> String {
    entry.chars().take(3).chain("...".chars()).collect()
}

/// The middleware: lets a request through if it carries valid credentials or needs none.
pub(super) async fn require(State(auth): State<Arc<BasicAuth>>, request: Request, next: Next) -> Response {
    let exempt = (request.method() == Method::HEAD && request.uri().path() == "/")
        || (request.method() == Method::OPTIONS && request.uri().path().starts_with("/api/"));
    let allowed =
        exempt || request.headers().get(header::AUTHORIZATION).is_some_and(|value| auth.accepts(value.as_bytes()));
    if allowed {
        return next.run(request).await;
    }
    tracing::warn!(
        target: "luigi.server",
        "401 {} {}: missing or wrong basic-auth credentials",
        request.method(),
        request.uri().path()
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, auth.challenge.clone())],
        "401: this luigid requires HTTP basic authentication; use a scheduler URL like http://user:password@host:8082\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user_password: &str) -> Vec<u8> {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_password)).into_bytes()
    }

    #[test]
    fn accepts_exactly_the_configured_pairs() {
        let auth = BasicAuth::new("luigid", vec![("alice".into(), "s3:cr,et".into()), ("bob".into(), "pw".into())])
            .expect("valid realm");
        assert!(auth.accepts(&header("alice:s3:cr,et")));
        assert!(auth.accepts(&header("bob:pw")));
        assert!(auth.accepts(b"basic Ym9iOnB3"));
        assert!(auth.accepts(b"BASIC  Ym9iOnB3 "));
        // Some clients leave out the base64 padding.
        let unpadded = base64::engine::general_purpose::STANDARD.encode("alice:s3:cr,et");
        assert!(unpadded.ends_with('='));
        assert!(auth.accepts(format!("Basic {}", unpadded.trim_end_matches('=')).as_bytes()));
        assert!(!auth.accepts(&header("bob:pw ")));
        assert!(!auth.accepts(&header("bob:")));
        assert!(!auth.accepts(&header("alice:pw")));
        assert!(!auth.accepts(&header("carol:pw")));
        assert!(!auth.accepts(&header("bobpw")));
        assert!(!auth.accepts(b"Bearer Ym9iOnB3"));
        assert!(!auth.accepts(b"Basic"));
        assert!(!auth.accepts(b"Basic !!!"));
        assert!(!auth.accepts(b"\xff\xfe"));
        assert!(!format!("{auth:?}").contains("pw"));
        assert_eq!(auth.user_names().collect::<Vec<_>>(), ["alice", "bob"]);
    }

    #[test]
    fn realm_must_fit_a_header() {
        assert!(BasicAuth::new("a\"b", Vec::new()).is_none());
        assert!(BasicAuth::new("a\nb", Vec::new()).is_none());
        assert!(BasicAuth::new("Luigi scheduler", Vec::new()).is_some());
    }

    #[test]
    fn parses_user_lists() {
        assert_eq!(
            parse_users("alice:a:b, bob:c\n  carol:d ,", true).unwrap(),
            [("alice".into(), "a:b".into()), ("bob".into(), "c".into()), ("carol".into(), "d".into())]
        );
        assert_eq!(
            parse_users("# users\nalice:has,comma\n\n#bob:x\n", false).unwrap(),
            [("alice".to_owned(), "has,comma".to_owned())]
        );
        assert!(parse_users("alice", true).unwrap_err().contains("ali..."));
        assert!(parse_users(":pw", true).unwrap_err().contains("empty user"));
        assert!(parse_users("alice:", true).unwrap_err().contains("empty password"));
        assert!(parse_users("", true).unwrap().is_empty());
    }
}
