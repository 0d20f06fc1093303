//! Where the server listens, and the serving loop: TCP addresses or a UNIX socket, the 60 s
//! pruner, signals and graceful shutdown.
//!
//! Binding ([`Listeners::bind`]) is separate from serving ([`Server::serve`]) and needs no
//! runtime, so `luigid --background` can bind before it reports success to the terminal, and a
//! caller that asked for port 0 learns the real port before the first request.
//!
//! Defaults differ from Python luigid on purpose (design §6, secure by default): with no
//! `--address`, we listen on the loopback interfaces only, 127.0.0.1 and, where the system has
//! IPv6, ::1 (so `http://localhost:8082` works whichever the client resolves first). Python
//! listens on every interface. `--address 0.0.0.0 --address ::` restores that. As in Tornado,
//! IPv6 sockets are IPv6-only, so `0.0.0.0` and `::` can be bound side by side.
//!
//! Shutdown: when the shutdown future completes, every listener stops accepting, idle
//! keep-alive connections are closed, and requests in flight finish; after
//! [`Server::drain_timeout`] (10 s by default) the remaining connections are abandoned, so a
//! stuck client cannot stop the server from exiting and saving its state.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use luigi_core::rpc::SchedulerApi;
use luigi_core::rpc::wire::NoArgs;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Error, ServerConfig};

/// Luigi's default port.
pub const DEFAULT_PORT: u16 = 8082;

/// How often the scheduler is pruned: every 60 s, as Luigi's server timer.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// The listen backlog: room for bursts of many workers connecting at once.
const BACKLOG: i32 = 1024;

/// TCP keep-alive on accepted connections: first probe after a minute of silence, then every
/// 10 s; a peer that misses 6 probes is gone (about two minutes in all).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 6;

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenOn {
    /// TCP on each of `addresses` (IP addresses or host names, every resolved address is bound)
    /// at `port`; no addresses means the loopback interfaces. Port 0 picks a free port (the
    /// same one for every address).
    Tcp {
        /// The addresses; empty for the default (loopback).
        addresses: Vec<String>,
        /// The port.
        port: u16,
    },
    /// A UNIX socket at this path (Python's `--unix-socket`).
    Unix {
        /// The socket file.
        path: PathBuf,
    },
}

/// An address the server listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A UNIX socket path.
    Unix(PathBuf),
}

impl fmt::Display for BoundAddr {
    /// The scheduler URL a client would use: `http://127.0.0.1:8082`, or the
    /// `http+unix://<percent-encoded path>` form Luigi's client understands.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundAddr::Tcp(addr) => write!(f, "http://{addr}"),
            BoundAddr::Unix(path) => {
                let encoded =
                    percent_encoding::utf8_percent_encode(&path.to_string_lossy(), percent_encoding::NON_ALPHANUMERIC)
                        .to_string();
                write!(f, "http+unix://{encoded}")
            }
        }
    }
}

/// Bound, not yet serving, sockets.
#[derive(Debug)]
pub struct Listeners {
    tcp: Vec<StdTcpListener>,
    unix: Option<(std::os::unix::net::UnixListener, PathBuf)>,
    bound: Vec<BoundAddr>,
}

impl Listeners {
    /// Binds what `on` asks for; UNIX sockets get `config.unix_socket_mode`.
    pub fn bind(on: &ListenOn, config: &ServerConfig) -> Result<Listeners, Error> {
        match on {
            ListenOn::Tcp { addresses, port } => bind_tcp(addresses, *port),
            ListenOn::Unix { path } => bind_unix(path, config.unix_socket_mode),
        }
    }

    /// The addresses bound, in binding order.
    pub fn addrs(&self) -> &[BoundAddr] {
        &self.bound
    }
}

fn bind_tcp(addresses: &[String], port: u16) -> Result<Listeners, Error> {
    let mut listeners = Listeners { tcp: Vec::new(), unix: None, bound: Vec::new() };
    let mut port = port;
    if addresses.is_empty() {
        let v4 = bind_socket(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))?;
        port = v4.local_addr().map(|addr| addr.port()).unwrap_or(port);
        listeners.push_tcp(v4);
        // IPv6 may be disabled on this host; the IPv4 loopback is enough then.
        match bind_socket(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port)) {
            Ok(v6) => listeners.push_tcp(v6),
            Err(err) => tracing::info!(target: "luigi.server", "not listening on [::1] ({err})"),
        }
        return Ok(listeners);
    }
    let mut targets: Vec<SocketAddr> = Vec::new();
    for address in addresses {
        for addr in resolve(address, port)? {
            if !targets.contains(&addr) {
                targets.push(addr);
            }
        }
    }
    for mut addr in targets {
        if port != 0 {
            addr.set_port(port);
        }
        let listener = bind_socket(addr)?;
        port = listener.local_addr().map(|addr| addr.port()).unwrap_or(port);
        listeners.push_tcp(listener);
    }
    Ok(listeners)
}

impl Listeners {
    fn push_tcp(&mut self, listener: StdTcpListener) {
        if let Ok(addr) = listener.local_addr() {
            self.bound.push(BoundAddr::Tcp(addr));
        }
        self.tcp.push(listener);
    }
}

/// The socket addresses `address` stands for at `port`.
fn resolve(address: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    let trimmed = address.trim();
    let literal = trimmed.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(trimmed);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let resolved: Vec<SocketAddr> = (literal, port)
        .to_socket_addrs()
        .map_err(|source| Error::Resolve { address: address.to_owned(), source })?
        .collect();
    if resolved.is_empty() {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no addresses");
        return Err(Error::Resolve { address: address.to_owned(), source });
    }
    Ok(resolved)
}

/// Binds one TCP socket as Tornado does: address reuse (a restarted server need not wait for
/// old connections to time out) and IPv6-only sockets for IPv6 addresses.
fn bind_socket(addr: SocketAddr) -> Result<StdTcpListener, Error> {
    let bind_error = |source| Error::Bind { target: addr.to_string(), source };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(bind_error)?;
    socket.set_reuse_address(true).map_err(bind_error)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(bind_error)?;
    }
    socket.bind(&addr.into()).map_err(bind_error)?;
    socket.listen(BACKLOG).map_err(bind_error)?;
    socket.set_nonblocking(true).map_err(bind_error)?;
    Ok(socket.into())
}

fn bind_unix(path: &Path, mode: u32) -> Result<Listeners, Error> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    use std::os::unix::net::{UnixListener, UnixStream};

    let bind_error = |source| Error::Bind { target: path.display().to_string(), source };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(Error::NotASocket { path: path.to_owned() });
        }
        // A socket file outlives a server that was killed; remove it only if nobody answers.
        if UnixStream::connect(path).is_ok() {
            return Err(Error::SocketInUse { path: path.to_owned() });
        }
        tracing::info!(target: "luigi.server", "removing the stale socket file {}", path.display());
        std::fs::remove_file(path).map_err(bind_error)?;
    }
    let listener = UnixListener::bind(path).map_err(bind_error)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(bind_error)?;
    listener.set_nonblocking(true).map_err(bind_error)?;
    Ok(Listeners {
        tcp: Vec::new(),
        unix: Some((listener, path.to_owned())),
        bound: vec![BoundAddr::Unix(path.to_owned())],
    })
}

/// Serves a router on bound listeners until a shutdown future completes.
#[must_use]
pub struct Server {
    listeners: Listeners,
    app: Router,
    prune: Option<(Arc<dyn SchedulerApi>, Duration)>,
    drain_timeout: Duration,
}

impl Server {
    /// A server for `app` on `listeners`; no pruning until [`Server::prune_every`].
    pub fn new(listeners: Listeners, app: Router) -> Server {
        Server { listeners, app, prune: None, drain_timeout: Duration::from_secs(10) }
    }

    /// Calls `api.prune` every `interval` (Luigi: [`PRUNE_INTERVAL`]), first after one interval.
    pub fn prune_every(mut self, api: Arc<dyn SchedulerApi>, interval: Duration) -> Server {
        self.prune = Some((api, interval));
        self
    }

    /// How long shutdown waits for requests in flight before abandoning them.
    pub fn drain_timeout(mut self, timeout: Duration) -> Server {
        self.drain_timeout = timeout;
        self
    }

    /// The addresses served.
    pub fn addrs(&self) -> &[BoundAddr] {
        self.listeners.addrs()
    }

    /// Serves until `shutdown` completes, then drains and returns (removing a UNIX socket
    /// file). Must run inside a tokio runtime.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
        let Server { listeners, app, prune, drain_timeout } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut servers = JoinSet::new();
        let mut socket_path = None;
        for listener in listeners.tcp {
            let listener = tokio::net::TcpListener::from_std(listener).map_err(Error::Serve)?;
            let listener = listener.tap_io(|stream| {
                // Replies are written whole; do not let Nagle's algorithm hold them back.
                let _ = stream.set_nodelay(true);
                // Workers keep connections open between calls; TCP keep-alive probes close the
                // ones whose host vanished, so they do not pile up until file descriptors run out.
                let keepalive = socket2::TcpKeepalive::new()
                    .with_time(KEEPALIVE_IDLE)
                    .with_interval(KEEPALIVE_INTERVAL)
                    .with_retries(KEEPALIVE_RETRIES);
                let _ = socket2::SockRef::from(&*stream).set_tcp_keepalive(&keepalive);
            });
            servers.spawn(
                axum::serve(listener, app.clone()).with_graceful_shutdown(stopped(stop_rx.clone())).into_future(),
            );
        }
        if let Some((listener, path)) = listeners.unix {
            let listener = tokio::net::UnixListener::from_std(listener).map_err(Error::Serve)?;
            servers.spawn(
                axum::serve(listener, app.clone()).with_graceful_shutdown(stopped(stop_rx.clone())).into_future(),
            );
            socket_path = Some(path);
        }
        let pruner = prune.map(|(api, interval)| tokio::spawn(prune_periodically(api, interval)));

        let mut failure = None;
        tokio::select! {
            () = shutdown => {}
            Some(result) = servers.join_next() => {
                failure = Some(match result {
                    Ok(Ok(())) => std::io::Error::other("a listener stopped by itself"),
                    Ok(Err(err)) => err,
                    Err(join) => std::io::Error::other(join.to_string()),
                });
            }
        }
        tracing::info!(target: "luigi.server", "shutting down: no new connections, finishing requests in flight");
        let _ = stop_tx.send(true);
        if let Some(pruner) = pruner {
            pruner.abort();
        }
        let drained = tokio::time::timeout(drain_timeout, async { while servers.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                target: "luigi.server",
                "connections still open after {} s; closing them",
                drain_timeout.as_secs_f64()
            );
            servers.abort_all();
        }
        if let Some(path) = socket_path {
            let _ = std::fs::remove_file(&path);
        }
        match failure {
            Some(err) => Err(Error::Serve(err)),
            None => Ok(()),
        }
    }
}

/// Completes once the stop flag is raised (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Prunes the scheduler every `interval` on the blocking pool, logging failures.
async fn prune_periodically(api: Arc<dyn SchedulerApi>, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let api = Arc::clone(&api);
        match tokio::task::spawn_blocking(move || api.prune(NoArgs {})).await {
            Ok(Ok(())) => tracing::debug!(target: "luigi.server", "pruned the scheduler"),
            Ok(Err(err)) => tracing::error!(target: "luigi.server", "pruning failed: {err}"),
            Err(err) => tracing::error!(target: "luigi.server", "pruning panicked: {err}"),
        }
    }
}

/// Handlers for the signals that stop the server: SIGTERM, SIGINT and SIGQUIT (the ones Python
/// luigid shuts down on).
///
/// Installing them is separate from waiting so a server can install them before it announces
/// that it is ready: a signal sent right after the announcement then shuts it down cleanly
/// rather than killing it.
#[derive(Debug)]
pub struct ShutdownSignals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    quit: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    /// Installs the handlers. Must be called inside a tokio runtime (or `Runtime::enter`).
    pub fn install() -> ShutdownSignals {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|err| tracing::warn!(target: "luigi.server", "cannot handle {name}: {err}")).ok()
        };
        ShutdownSignals {
            term: install(SignalKind::terminate(), "SIGTERM"),
            int: install(SignalKind::interrupt(), "SIGINT"),
            quit: install(SignalKind::quit(), "SIGQUIT"),
        }
    }

    /// Completes when one of the signals arrives.
    pub async fn recv(mut self) {
        async fn received(stream: &mut Option<tokio::signal::unix::Signal>) {
            match stream {
                Some(stream) => {
                    stream.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        let name = tokio::select! {
            () = received(&mut self.term) => "SIGTERM",
            () = received(&mut self.int) => "SIGINT",
            () = received(&mut self.quit) => "SIGQUIT",
        };
        tracing::info!(target: "luigi.server", "received {name}");
    }
}

/// Completes on SIGTERM, SIGINT or SIGQUIT; the handlers are installed on first poll (see
/// [`ShutdownSignals`] to install them earlier). Must run inside a tokio runtime.
pub async fn shutdown_signal() {
    ShutdownSignals::install().recv().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_display_as_scheduler_urls() {
        assert_eq!(BoundAddr::Tcp("127.0.0.1:8082".parse().unwrap()).to_string(), "http://127.0.0.1:8082");
        assert_eq!(BoundAddr::Tcp("[::1]:80".parse().unwrap()).to_string(), "http://[::1]:80");
        assert_eq!(BoundAddr::Unix("/tmp/l.sock".into()).to_string(), "http+unix://%2Ftmp%2Fl%2Esock");
    }

    #[test]
    fn resolves_literals_and_names() {
        assert_eq!(resolve("[::1]", 1).unwrap(), ["[::1]:1".parse().unwrap()]);
        assert_eq!(resolve(" 127.0.0.1 ", 2).unwrap(), ["127.0.0.1:2".parse().unwrap()]);
        assert!(resolve("localhost", 3).unwrap().iter().all(|addr| addr.ip().is_loopback()));
        let err = resolve("no such host.invalid", 4).unwrap_err();
        assert!(err.to_string().contains("no such host.invalid"), "{err}");
    }

    #[test]
    fn default_is_loopback_on_one_port() {
        let listeners = Listeners::bind(&ListenOn::Tcp { addresses: Vec::new(), port: 0 }, &ServerConfig::default())
            .expect("loopback binds");
        let addrs: Vec<SocketAddr> = listeners
            .addrs()
            .iter()
            .map(|addr| match addr {
                BoundAddr::Tcp(addr) => *addr,
                BoundAddr::Unix(path) => panic!("unexpected {path:?}"),
            })
            .collect();
        assert!(addrs.iter().all(|addr| addr.ip().is_loopback()));
        assert_eq!(addrs[0].ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(addrs.iter().all(|addr| addr.port() == addrs[0].port() && addr.port() != 0));
        // The same port again is taken.
        let again = ListenOn::Tcp { addresses: vec!["127.0.0.1".into()], port: addrs[0].port() };
        let err = Listeners::bind(&again, &ServerConfig::default()).unwrap_err();
        assert!(matches!(err, Error::Bind { .. }), "{err}");
    }

    #[test]
    fn unix_socket_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("luigid.sock");
        let mut config = ServerConfig::default();
        config.unix_socket_mode = 0o660;
        let on = ListenOn::Unix { path: path.clone() };
        let first = Listeners::bind(&on, &config).expect("binds");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o660);
        // A live socket is not taken over.
        assert!(matches!(Listeners::bind(&on, &config), Err(Error::SocketInUse { .. })));
        // A stale one (its listener closed) is replaced.
        drop(first);
        assert!(path.exists());
        Listeners::bind(&on, &config).expect("stale socket replaced");
        // A regular file is never removed.
        let file = dir.path().join("file");
        std::fs::write(&file, "keep").unwrap();
        assert!(matches!(
            Listeners::bind(&ListenOn::Unix { path: file.clone() }, &config),
            Err(Error::NotASocket { .. })
        ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    }
}
