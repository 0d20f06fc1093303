//! What the configuration says about HTTP: Luigi's `[cors]` section and our `[luigid]` section.
//!
//! `[cors]` is Luigi's `cors` config class, declared here with `#[derive(Config)]` so that its
//! options parse exactly as Luigi's parameters do (`allowed_origins` is a JSON list, booleans
//! take ConfigParser's spellings). `[luigid]` is ours; Python luigid has no such section, so
//! an existing `luigi.cfg` means the same to both servers:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `basic_auth_users` | (none) | `user:password` entries, comma- or newline-separated |
//! | `basic_auth_file` | (none) | a file with one `user:password` per line, `#` comments |
//! | `basic_auth_realm` | `luigid` | the realm named in the 401 challenge |
//! | `max_body_size` | 16777216 | largest request body in bytes; larger ones get 413 |
//! | `compress_responses` | `true` | gzip replies of 1 KiB or more when the client accepts gzip |
//! | `unix_socket_mode` | `600` | permissions (octal) of the `--unix-socket` file |
//!
//! Everything is read once at start-up; Luigi reads `[cors]` on every request, which only its
//! own tests (that edit the configuration between requests) can tell apart.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::HeaderValue;
use luigi_core::Config;
use luigi_core::config::{Configuration, Value};
use luigi_core::param::{ParamArgs, ParamContext};
use luigi_core::task::TaskParams;

use super::auth::{self, BasicAuth};
use super::{Error, cors::CorsPolicy};

/// Our own configuration section.
pub const LUIGID_SECTION: &str = "luigid";

/// The default largest request body: 16 MiB, far above what a worker sends (the largest real
/// requests are `add_task` calls with many dependencies, a few KiB).
pub const DEFAULT_MAX_BODY_SIZE: usize = 16 * 1024 * 1024;

/// The default permissions of a `--unix-socket` file: only the server's user may connect, as
/// with Python luigid (Tornado binds its UNIX socket with mode 0o600).
pub const DEFAULT_UNIX_SOCKET_MODE: u32 = 0o600;

/// `[cors]`: cross-origin access to `/api` from browsers (Luigi's `cors` config class).
#[derive(Config, Clone, Debug, PartialEq)]
#[config(section = "cors")]
pub struct Cors {
    /// Whether cross-origin requests are answered with CORS headers at all.
    pub enabled: bool,
    /// Origins that may call the API (a JSON list), when `allow_any_origin` is off.
    #[param(default = Vec::new())]
    pub allowed_origins: Vec<String>,
    /// Let every origin call the API.
    pub allow_any_origin: bool,
    /// Let requests whose `Origin` header is `null` call the API.
    pub allow_null_origin: bool,
    /// Seconds a browser may cache a preflight answer (`Access-Control-Max-Age`).
    #[param(default = 86400)]
    pub max_age: i64,
    /// Methods announced in `Access-Control-Allow-Methods`.
    #[param(default = "GET, OPTIONS")]
    pub allowed_methods: String,
    /// Request headers announced in `Access-Control-Allow-Headers`.
    #[param(default = "Accept, Content-Type, Origin")]
    pub allowed_headers: String,
    /// Response headers announced in `Access-Control-Expose-Headers` (none if empty).
    #[param(default = "")]
    pub exposed_headers: String,
    /// Announce that requests may carry credentials (`Access-Control-Allow-Credentials`).
    pub allow_credentials: bool,
}

impl Default for Cors {
    /// Luigi's defaults: disabled.
    fn default() -> Cors {
        Cors {
            enabled: false,
            allowed_origins: Vec::new(),
            allow_any_origin: false,
            allow_null_origin: false,
            max_age: 86400,
            allowed_methods: "GET, OPTIONS".to_owned(),
            allowed_headers: "Accept, Content-Type, Origin".to_owned(),
            exposed_headers: String::new(),
            allow_credentials: false,
        }
    }
}

/// Everything the server reads from the configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `[cors]`; private so it cannot drift from `cors_policy`.
    cors: Cors,
    /// `cors` turned into header values once, so requests only copy them.
    pub(super) cors_policy: Arc<CorsPolicy>,
    /// Basic authentication, when users are configured.
    pub auth: Option<BasicAuth>,
    /// The largest request body accepted, in bytes.
    pub max_body_size: usize,
    /// Whether to gzip large replies for clients that accept it.
    pub compress_responses: bool,
    /// The permissions of a UNIX socket file.
    pub unix_socket_mode: u32,
}

impl Default for ServerConfig {
    /// Luigi's behaviour: no CORS, no authentication; plus a 16 MiB body limit and gzip.
    fn default() -> ServerConfig {
        ServerConfig {
            cors: Cors::default(),
            cors_policy: Arc::new(CorsPolicy::disabled()),
            auth: None,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            compress_responses: true,
            unix_socket_mode: DEFAULT_UNIX_SOCKET_MODE,
        }
    }
}

impl ServerConfig {
    /// A configuration with `cors` and defaults for the rest; fails when an enabled CORS
    /// option cannot be sent as a header value.
    pub fn new(cors: Cors) -> Result<ServerConfig, Error> {
        let cors_policy = Arc::new(CorsPolicy::new(&cors)?);
        Ok(ServerConfig { cors, cors_policy, ..ServerConfig::default() })
    }

    /// The `[cors]` settings.
    pub fn cors(&self) -> &Cors {
        &self.cors
    }

    /// Reads `[cors]` and `[luigid]` from `config`.
    pub fn from_config(config: &Configuration) -> Result<ServerConfig, Error> {
        let ctx = ParamContext::new(Arc::new(config.clone()));
        let cors =
            Cors::from_args(&ctx, &ParamArgs::new()).map_err(|source| Error::Section { section: "cors", source })?;
        let mut server = ServerConfig::new(cors)?;
        server.auth = read_auth(config)?;
        if let Some(size) = config.get_int(LUIGID_SECTION, "max_body_size").map_err(config_error("max_body_size"))? {
            server.max_body_size =
                usize::try_from(size).ok().filter(|size| *size > 0).ok_or_else(|| Error::Config {
                    section: LUIGID_SECTION,
                    option: "max_body_size",
                    message: format!("{size} is not a positive number of bytes"),
                })?;
        }
        server.compress_responses = config
            .get_bool_or(LUIGID_SECTION, "compress_responses", true)
            .map_err(config_error("compress_responses"))?;
        if let Some(value) = config.get(LUIGID_SECTION, "unix_socket_mode").map_err(config_error("unix_socket_mode"))? {
            server.unix_socket_mode = parse_mode(&value).ok_or_else(|| Error::Config {
                section: LUIGID_SECTION,
                option: "unix_socket_mode",
                message: format!("'{value}' is not an octal permission mode like 660"),
            })?;
        }
        Ok(server)
    }

    /// Uses `auth` for basic authentication (`None` turns it off).
    pub fn with_auth(mut self, auth: Option<BasicAuth>) -> ServerConfig {
        self.auth = auth;
        self
    }
}

fn config_error(option: &'static str) -> impl Fn(luigi_core::config::Error) -> Error {
    move |err| Error::Config { section: LUIGID_SECTION, option, message: err.to_string() }
}

/// Reads the users of `basic_auth_users` and `basic_auth_file`; `None` when neither is set.
fn read_auth(config: &Configuration) -> Result<Option<BasicAuth>, Error> {
    let mut users = Vec::new();
    let mut configured = false;
    if let Some(value) = config.get(LUIGID_SECTION, "basic_auth_users").map_err(config_error("basic_auth_users"))? {
        configured = true;
        let auth_error = |message| Error::Config { section: LUIGID_SECTION, option: "basic_auth_users", message };
        let parsed = match value {
            // A TOML array of "user:password" strings, taken whole (commas included).
            Value::Toml(toml::Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(entry) => auth::parse_entry(entry),
                    other => Err(format!("{other} is not a \"user:password\" string")),
                })
                .collect::<Result<Vec<_>, String>>()
                .map_err(auth_error)?,
            other => auth::parse_users(&other.to_string(), true).map_err(auth_error)?,
        };
        users.extend(parsed);
    }
    if let Some(path) = config.get_str(LUIGID_SECTION, "basic_auth_file").map_err(config_error("basic_auth_file"))? {
        configured = true;
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::AuthFile { path: path.clone(), source })?;
        warn_if_readable_by_others(&path);
        let parsed = auth::parse_users(&text, false).map_err(|message| Error::Config {
            section: LUIGID_SECTION,
            option: "basic_auth_file",
            message: format!("{}: {message}", path.display()),
        })?;
        users.extend(parsed);
    }
    if !configured {
        return Ok(None);
    }
    if users.is_empty() {
        return Err(Error::Config {
            section: LUIGID_SECTION,
            option: "basic_auth_users",
            message: "authentication is configured but names no user; add user:password entries or remove the option"
                .to_owned(),
        });
    }
    let realm =
        config.get_str_or(LUIGID_SECTION, "basic_auth_realm", "luigid").map_err(config_error("basic_auth_realm"))?;
    BasicAuth::new(&realm, users).map(Some).ok_or_else(|| Error::Config {
        section: LUIGID_SECTION,
        option: "basic_auth_realm",
        message: "the realm must not contain double quotes or control characters".to_owned(),
    })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(
            target: "luigi.server",
            "the basic-auth users file {} is readable by every user; run chmod 600 on it",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &std::path::Path) {}

/// Parses a permission mode: octal text (`660`, `0660`, `0o660`) or a TOML integer.
fn parse_mode(value: &Value) -> Option<u32> {
    let mode = match value {
        Value::Toml(toml::Value::Integer(mode)) => u32::try_from(*mode).ok()?,
        other => {
            let text = other.to_string();
            let digits = text.trim().trim_start_matches("0o");
            if digits.is_empty() {
                return None;
            }
            u32::from_str_radix(digits, 8).ok()?
        }
    };
    (mode <= 0o777).then_some(mode)
}

/// Header values must be visible ASCII or spaces; config values that are not cannot be sent.
pub(super) fn header_value(option: &'static str, text: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(text).map_err(|_| Error::Config {
        section: "cors",
        option,
        message: format!("{text:?} cannot be sent in an HTTP header; remove control characters"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use luigi_core::config::{Discovery, Syntax};
    use std::path::Path;

    fn cfg(text: &str) -> Configuration {
        let mut config = Configuration::empty(Syntax::Cfg, Discovery::system().with_env_vars([("PW", "from-env")]));
        config.read_str(text, Path::new("luigi.cfg")).expect("valid cfg");
        config
    }

    fn toml_config(text: &str) -> Configuration {
        let mut config = Configuration::empty(Syntax::Toml, Discovery::system());
        config.read_str(text, Path::new("luigi.toml")).expect("valid toml");
        config
    }

    #[test]
    fn defaults_are_luigis() {
        let server = ServerConfig::from_config(&cfg("")).unwrap();
        assert_eq!(*server.cors(), Cors::default());
        assert!(server.auth.is_none());
        assert_eq!(server.max_body_size, DEFAULT_MAX_BODY_SIZE);
        assert!(server.compress_responses);
        assert_eq!(server.unix_socket_mode, 0o600);
        assert!(ServerConfig::default().auth.is_none());
    }

    #[test]
    fn reads_cors_like_luigi() {
        let server = ServerConfig::from_config(&cfg(
            "[cors]\nenabled = True\nallowed_origins = [\"foo\", \"bar\"]\nmax-age = 10\nallow_credentials = True\n",
        ))
        .unwrap();
        assert!(server.cors().enabled);
        assert_eq!(server.cors().allowed_origins, ["foo", "bar"]);
        assert_eq!(server.cors().max_age, 10);
        assert!(server.cors().allow_credentials);
        assert_eq!(server.cors().allowed_methods, "GET, OPTIONS");
        let err = ServerConfig::from_config(&cfg("[cors]\nmax_age = soon\n")).unwrap_err();
        assert!(err.to_string().contains("[cors]") && err.to_string().contains("max_age"), "{err}");
        let err = ServerConfig::from_config(&cfg("[cors]\nenabled = true\nallowed_origins = foo\n")).unwrap_err();
        assert!(err.to_string().contains("allowed_origins"), "{err}");
        let toml =
            ServerConfig::from_config(&toml_config("[cors]\nenabled = true\nallowed_origins = [\"x\"]\n")).unwrap();
        assert_eq!(toml.cors().allowed_origins, ["x"]);
    }

    #[test]
    fn reads_luigid_options() {
        let server = ServerConfig::from_config(&cfg(
            "[luigid]\nbasic_auth_users = alice:${PW}, bob:x\nmax_body_size = 1024\ncompress_responses = false\nunix_socket_mode = 0660\n",
        ))
        .unwrap();
        let auth = server.auth.expect("auth configured");
        assert_eq!(auth.user_names().collect::<Vec<_>>(), ["alice", "bob"]);
        assert!(auth.accepts(b"Basic YWxpY2U6ZnJvbS1lbnY="), "alice:from-env");
        assert_eq!(server.max_body_size, 1024);
        assert!(!server.compress_responses);
        assert_eq!(server.unix_socket_mode, 0o660);

        let toml = ServerConfig::from_config(&toml_config(
            "[luigid]\nbasic_auth_users = [\"a:b\", \"c:d,e\"]\nunix_socket_mode = 0o640\n",
        ))
        .unwrap();
        let auth = toml.auth.expect("auth");
        assert_eq!(auth.user_names().collect::<Vec<_>>(), ["a", "c"]);
        assert!(auth.accepts(b"Basic YzpkLGU="), "c:d,e");
        assert_eq!(toml.unix_socket_mode, 0o640);

        for (text, needle) in [
            ("[luigid]\nmax_body_size = 0\n", "max_body_size"),
            ("[luigid]\nmax_body_size = big\n", "max_body_size"),
            ("[luigid]\nunix_socket_mode = 999\n", "unix_socket_mode"),
            ("[luigid]\nunix_socket_mode = 1777\n", "unix_socket_mode"),
            ("[luigid]\nunix_socket_mode =\n", "unix_socket_mode"),
            ("[luigid]\nbasic_auth_users = alice\n", "basic_auth_users"),
            ("[luigid]\nbasic_auth_users =\n", "names no user"),
            ("[luigid]\nbasic_auth_users = a:b\nbasic_auth_realm = say \"hi\"\n", "realm"),
            ("[luigid]\nbasic_auth_file = /nonexistent/users\n", "/nonexistent/users"),
            ("[cors]\nenabled = true\nallowed_headers = a\u{1}b\n", "cors"),
        ] {
            let err = ServerConfig::from_config(&cfg(text)).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
        let err = ServerConfig::from_config(&toml_config("[luigid]\nbasic_auth_users = [1]\n")).unwrap_err();
        assert!(err.to_string().contains("not a \"user:password\""), "{err}");
    }

    #[test]
    fn reads_a_users_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "# luigid users\nalice:with,comma\n\ncarol:pw\n").unwrap();
        let text = format!("[luigid]\nbasic_auth_file = {}\nbasic_auth_users = bob:x\n", path.display());
        let auth = ServerConfig::from_config(&cfg(&text)).unwrap().auth.expect("auth");
        assert_eq!(auth.user_names().collect::<Vec<_>>(), ["bob", "alice", "carol"]);
        std::fs::write(&path, "justaname\n").unwrap();
        let err = ServerConfig::from_config(&cfg(&text)).unwrap_err();
        assert!(err.to_string().contains("basic_auth_file"), "{err}");
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode(&Value::Str("660".into())), Some(0o660));
        assert_eq!(parse_mode(&Value::Str("0o600".into())), Some(0o600));
        assert_eq!(parse_mode(&Value::Toml(toml::Value::Integer(0o660))), Some(0o660));
        assert_eq!(parse_mode(&Value::Toml(toml::Value::Integer(-1))), None);
        assert_eq!(parse_mode(&Value::Str("rw".into())), None);
    }
}
