//! Name resolution for the worker's HTTP client without a thread per request.
//!
//! `ureq`'s default resolver honours a request's time budget by resolving on a freshly spawned
//! thread, and it resolves before looking in its connection pool: a worker talking to
//! `luigid` therefore created (and tore down) one thread per RPC, about a third of its CPU
//! time against a local scheduler. [`CachingResolver`] keeps `ureq`'s behaviour where it
//! matters and skips the rest:
//!
//! - an IP literal (`127.0.0.1`, `[::1]`) is parsed in place: no lookup, no thread;
//! - a host name is looked up with `ureq`'s resolver (so within the request's budget) and the
//!   answer is reused for [`TTL`], like a system resolver cache would; a failed lookup is
//!   not cached, so the next request tries again.
//!
//! Key decision: a short fixed TTL rather than none at all. Luigi's `requests` client resolves
//! on every call; a scheduler that moves to another address is still picked up within
//! seconds, which is far below the worker's `rpc-retry-wait` horizon.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;
use ureq::unversioned::transport::time::Duration as UreqDuration;

/// How long a host name's addresses are reused.
pub(crate) const TTL: Duration = Duration::from_secs(30);

/// A resolver that never spawns a thread for an IP literal and caches host names for [`TTL`].
#[derive(Debug, Default)]
pub(crate) struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(authority) = uri.authority() else {
            // Let ureq report the bad URI in its own words.
            return self.inner.resolve(uri, config, timeout);
        };
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        if host.parse::<IpAddr>().is_ok() {
            // Parsing a literal cannot block, so no time budget (and no thread) is needed.
            let immediate = NextTimeout { after: UreqDuration::NotHappening, ..timeout };
            return self.inner.resolve(uri, config, immediate);
        }
        let key = format!("{}://{}", uri.scheme_str().unwrap_or(""), authority.as_str());
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some((at, addrs)) = cache.get(&key)
                && now.duration_since(*at) < TTL
            {
                return Ok(addrs.clone());
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert(key, (now, addrs.clone()));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> NextTimeout {
        NextTimeout { after: UreqDuration::Exact(Duration::from_secs(5)), ..NextTimeout::default() }
    }

    fn resolve(resolver: &CachingResolver, url: &str) -> Vec<std::net::SocketAddr> {
        let uri: Uri = url.parse().expect("valid test URI");
        let addrs = resolver.resolve(&uri, &Config::default(), budget()).expect("resolves");
        addrs.iter().copied().collect()
    }

    #[test]
    fn ip_literals_resolve_in_place_without_caching() {
        let resolver = CachingResolver::default();
        assert_eq!(resolve(&resolver, "http://127.0.0.1:8082/api/ping"), vec!["127.0.0.1:8082".parse().unwrap()]);
        assert_eq!(resolve(&resolver, "http://[::1]:80/api/ping"), vec!["[::1]:80".parse().unwrap()]);
        assert!(resolver.cache.lock().unwrap().is_empty());
    }

    #[test]
    fn host_names_are_cached_per_scheme_and_authority() {
        let resolver = CachingResolver::default();
        let first = resolve(&resolver, "http://localhost:8082/api/ping");
        assert!(!first.is_empty());
        assert!(first.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 8082));
        assert_eq!(resolve(&resolver, "http://localhost:8082/api/get_work"), first);
        let cache = resolver.cache.lock().unwrap();
        assert_eq!(cache.keys().collect::<Vec<_>>(), vec!["http://localhost:8082"]);
    }

    #[test]
    fn failed_lookups_are_not_cached() {
        let resolver = CachingResolver::default();
        let uri: Uri = "http://no-such-host.invalid:8082/api/ping".parse().unwrap();
        assert!(resolver.resolve(&uri, &Config::default(), budget()).is_err());
        assert!(resolver.cache.lock().unwrap().is_empty());
    }
}
