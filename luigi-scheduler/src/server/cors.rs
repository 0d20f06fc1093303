//! CORS on `/api`, exactly as Luigi's RPC handler does it (inventory §8.5).
//!
//! Nothing happens unless `[cors] enabled`, and nothing without an `Origin` header. The origin
//! `null` is allowed only by `allow_null_origin`; any other origin by `allow_any_origin`
//! (answered `*`) or by being listed in `allowed_origins` (answered with itself and
//! `Vary: Origin` on normal replies). A preflight (`OPTIONS`) that is allowed also gets
//! `Access-Control-Max-Age`, `-Allow-Methods`, `-Allow-Headers`, and, when configured,
//! `-Allow-Credentials: true` and `-Expose-Headers`. `*` and `null` entries of
//! `allowed_origins` are ignored, as in Luigi.
//!
//! The header values are built once from the configuration ([`CorsPolicy`]), so a request only
//! copies them (a `HeaderValue` clone is a reference-count increment).

use std::collections::HashSet;

use axum::http::{HeaderMap, HeaderValue, header};

use super::Error;
use super::config::{Cors, header_value};

/// `[cors]` ready to apply.
#[derive(Debug)]
pub(super) struct CorsPolicy {
    enabled: bool,
    allow_any_origin: bool,
    allow_null_origin: bool,
    allowed_origins: HashSet<String>,
    max_age: HeaderValue,
    allowed_methods: HeaderValue,
    allowed_headers: HeaderValue,
    exposed_headers: Option<HeaderValue>,
    allow_credentials: bool,
}

const ANY: HeaderValue = HeaderValue::from_static("*");
const NULL: HeaderValue = HeaderValue::from_static("null");
const TRUE: HeaderValue = HeaderValue::from_static("true");
const ORIGIN: HeaderValue = HeaderValue::from_static("Origin");

impl CorsPolicy {
    /// CORS off.
    pub(super) fn disabled() -> CorsPolicy {
        CorsPolicy {
            enabled: false,
            allow_any_origin: false,
            allow_null_origin: false,
            allowed_origins: HashSet::new(),
            max_age: HeaderValue::from_static("86400"),
            allowed_methods: HeaderValue::from_static("GET, OPTIONS"),
            allowed_headers: HeaderValue::from_static("Accept, Content-Type, Origin"),
            exposed_headers: None,
            allow_credentials: false,
        }
    }

    /// The policy of `cors`; fails when it is enabled and a value cannot be a header.
    pub(super) fn new(cors: &Cors) -> Result<CorsPolicy, Error> {
        if !cors.enabled {
            return Ok(CorsPolicy::disabled());
        }
        Ok(CorsPolicy {
            enabled: true,
            allow_any_origin: cors.allow_any_origin,
            allow_null_origin: cors.allow_null_origin,
            allowed_origins: cors.allowed_origins.iter().filter(|o| *o != "*" && *o != "null").cloned().collect(),
            max_age: HeaderValue::from(cors.max_age),
            allowed_methods: header_value("allowed_methods", &cors.allowed_methods)?,
            allowed_headers: header_value("allowed_headers", &cors.allowed_headers)?,
            exposed_headers: match cors.exposed_headers.as_str() {
                "" => None,
                text => Some(header_value("exposed_headers", text)?),
            },
            allow_credentials: cors.allow_credentials,
        })
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, and whether it is a listed origin
    /// (which normal replies follow with `Vary: Origin`); `None` when the origin is not allowed.
    fn allow_origin(&self, origin: Option<&HeaderValue>) -> Option<(HeaderValue, bool)> {
        if !self.enabled {
            return None;
        }
        let origin = origin.filter(|origin| !origin.is_empty())?;
        if origin.as_bytes() == b"null" {
            return self.allow_null_origin.then_some((NULL, false));
        }
        if self.allow_any_origin {
            return Some((ANY, false));
        }
        let listed = origin.to_str().is_ok_and(|text| self.allowed_origins.contains(text));
        listed.then(|| (origin.clone(), true))
    }

    /// Adds the headers of a normal `/api` reply to `out`.
    pub(super) fn apply_simple(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        if let Some((allow, listed)) = self.allow_origin(origin) {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            if listed {
                out.append(header::VARY, ORIGIN);
            }
        }
    }

    /// Adds the headers of a preflight (`OPTIONS`) reply to `out`.
    pub(super) fn apply_preflight(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        let Some((allow, _)) = self.allow_origin(origin) else { return };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        out.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, self.allowed_methods.clone());
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, self.allowed_headers.clone());
        if self.allow_credentials {
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        }
        if let Some(exposed) = &self.exposed_headers {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(edit: impl FnOnce(&mut Cors)) -> CorsPolicy {
        let mut cors = Cors { enabled: true, ..Cors::default() };
        edit(&mut cors);
        CorsPolicy::new(&cors).unwrap()
    }

    fn simple(policy: &CorsPolicy, origin: Option<&'static str>) -> HeaderMap {
        let mut out = HeaderMap::new();
        policy.apply_simple(origin.map(HeaderValue::from_static).as_ref(), &mut out);
        out
    }

    fn preflight(policy: &CorsPolicy, origin: Option<&'static str>) -> HeaderMap {
        let mut out = HeaderMap::new();
        policy.apply_preflight(origin.map(HeaderValue::from_static).as_ref(), &mut out);
        out
    }

    #[test]
    fn listed_star_and_null_entries_are_ignored() {
        let listed = policy(|c| c.allowed_origins = vec!["*".into(), "null".into(), "https://a".into()]);
        assert!(simple(&listed, Some("https://b")).is_empty());
        assert!(simple(&listed, Some("null")).is_empty());
        let out = simple(&listed, Some("https://a"));
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a");
        assert_eq!(out[header::VARY], "Origin");
        let out = preflight(&listed, Some("https://a"));
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a");
        assert!(out.get(header::VARY).is_none());
    }

    #[test]
    fn empty_origin_is_no_origin() {
        let any = policy(|c| c.allow_any_origin = true);
        assert!(simple(&any, Some("")).is_empty());
        assert!(preflight(&any, None).is_empty());
        assert_eq!(simple(&any, Some("x"))[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[test]
    fn disabled_ignores_everything_including_bad_values() {
        let cors = Cors { allow_any_origin: true, allowed_headers: "a\nb".into(), ..Cors::default() };
        let disabled = CorsPolicy::new(&cors).unwrap();
        assert!(!disabled.enabled);
        assert!(simple(&disabled, Some("x")).is_empty());
        assert!(preflight(&disabled, Some("x")).is_empty());
        assert!(CorsPolicy::new(&Cors { enabled: true, ..cors }).is_err());
    }
}
