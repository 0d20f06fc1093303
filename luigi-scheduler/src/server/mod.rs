//! The HTTP server of `luigid`: Luigi 3.8.1's wire protocol over axum (tokio), so unchanged
//! Python workers and the stock visualiser can talk to a Rust scheduler.
//!
//! How the parts fit together:
//!
//! - [`AppBuilder`] (from [`app`]) builds the axum [`Router`]: `/api/<method>` (module `api`),
//!   `GET /` (302 to the visualiser), `HEAD /` (204 health check), `/metrics`, the optional
//!   test clock (module `testing`), and any routers other parts of the scheduler merge in
//!   (task history, the visualiser's static files). CORS (module `cors`) applies to `/api`,
//!   optional HTTP basic authentication (module `auth`) to everything but `HEAD /`.
//! - [`ServerConfig`] (module `config`) is what the configuration says about HTTP: `[cors]`
//!   exactly as Luigi reads it, and our own `[luigid]` section (authentication, body limit,
//!   compression, UNIX socket mode).
//! - [`Listeners`] (module `listen`) binds TCP addresses or a UNIX socket before anything is
//!   served, so a daemon can report a bind failure; [`Server`] serves a router on them, prunes
//!   the scheduler every 60 s as Luigi's server does, and shuts down gracefully.
//!
//! Key decision: the scheduler's RPC methods are synchronous and take microseconds, so `/api`
//! calls them inline on the runtime's worker threads; only the methods that walk the whole
//! task graph (`graph`, `task_list`, ...) and the pruner move to the blocking pool, so a large
//! listing for the visualiser never stalls the workers' `get_work` traffic on a runtime thread.
//! Everything about the protocol's content (argument decoding, reply encoding, Python-flavoured
//! JSON) lives in `luigi_core::rpc`; this module only moves bytes and maps errors to statuses.

mod api;
mod auth;
mod config;
mod cors;
mod listen;
mod testing;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use luigi_core::rpc::SchedulerApi;

use crate::clock::ManualClock;
use crate::metrics::MetricsSource;
use crate::persist::Durability;

pub use auth::BasicAuth;
pub use axum::Router;
pub use config::{Cors, DEFAULT_MAX_BODY_SIZE, DEFAULT_UNIX_SOCKET_MODE, LUIGID_SECTION, ServerConfig};
pub use listen::{
    BoundAddr, DEFAULT_PORT, ListenOn, Listeners, PRUNE_INTERVAL, Server, ShutdownSignals, shutdown_signal,
};

/// What can go wrong configuring, binding or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option of `[cors]` or `[luigid]` could not be read or makes no sense.
    #[error("invalid luigid configuration: [{section}] {option}: {message}")]
    Config {
        /// The section.
        section: &'static str,
        /// The option.
        option: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// A Luigi config section (`[cors]`) has a value its parameter cannot parse.
    #[error("invalid [{section}] section: {source}")]
    Section {
        /// The section.
        section: &'static str,
        /// The parameter error, naming the option and value.
        #[source]
        source: luigi_core::param::Error,
    },
    /// The basic-auth users file could not be read.
    #[error("cannot read the basic-auth users file {}: {source}; check [luigid] basic_auth_file", .path.display())]
    AuthFile {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A listen address could not be resolved.
    #[error("cannot resolve the listen address '{address}': {source}; pass an IP address or a host name to --address")]
    Resolve {
        /// The address as given.
        address: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// A TCP address or UNIX socket could not be bound.
    #[error("cannot listen on {target}: {source}")]
    Bind {
        /// The address or socket path.
        target: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another server is already listening on the UNIX socket.
    #[error(
        "another server is already listening on the UNIX socket {}; stop it or choose another --unix-socket path",
        .path.display()
    )]
    SocketInUse {
        /// The socket path.
        path: std::path::PathBuf,
    },
    /// The UNIX socket path exists and is not a socket, so it is not ours to remove.
    #[error("{} exists and is not a socket; remove it or choose another --unix-socket path", .path.display())]
    NotASocket {
        /// The path.
        path: std::path::PathBuf,
    },
    /// Serving failed after the listeners were bound.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// The state every built-in handler shares.
struct AppState {
    api: Arc<dyn SchedulerApi>,
    config: ServerConfig,
    metrics: Option<Arc<dyn MetricsSource>>,
    test_clock: Option<Arc<ManualClock>>,
    durability: Option<Durability>,
}

/// Starts building the router of a server answering RPCs with `api`; see [`AppBuilder`].
pub fn app(api: Arc<dyn SchedulerApi>) -> AppBuilder {
    AppBuilder {
        api,
        config: ServerConfig::default(),
        metrics: None,
        extra: Vec::new(),
        test_clock: None,
        durability: None,
    }
}

/// Builds the axum [`Router`] of `luigid`.
///
/// ```
/// # use std::sync::Arc;
/// # use luigi_core::rpc::ScriptedScheduler;
/// use luigi_scheduler::server;
/// let router = server::app(Arc::new(ScriptedScheduler::new())).build();
/// ```
#[must_use]
pub struct AppBuilder {
    api: Arc<dyn SchedulerApi>,
    config: ServerConfig,
    metrics: Option<Arc<dyn MetricsSource>>,
    extra: Vec<Router>,
    test_clock: Option<Arc<ManualClock>>,
    durability: Option<Durability>,
}

impl AppBuilder {
    /// Answers each RPC only once the state changes it made are on disk (see
    /// [`crate::persist`]), so a crash never loses anything a worker was told.
    pub fn durability(mut self, durability: Option<Durability>) -> Self {
        self.durability = durability;
        self
    }

    /// Uses `config` (CORS, authentication, body limit, compression); the default is Luigi's:
    /// CORS off, no authentication.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Serves `metrics` at `/metrics`; without one, `/metrics` answers an empty 200, like Luigi's
    /// default metrics collector.
    pub fn metrics(mut self, metrics: Option<Arc<dyn MetricsSource>>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Merges `router` into the application (task-history pages, the visualiser's files). Its
    /// routes must not overlap the built-in ones (`/api/...`, `/`, `/metrics`, `/_testing/...`):
    /// axum refuses overlapping routes when the router is built. Authentication, when
    /// configured, covers merged routes too.
    pub fn merge(mut self, router: Router) -> Self {
        self.extra.push(router);
        self
    }

    /// Exposes `POST /_testing/clock` to set or advance `clock` (only `luigid --test-clock`
    /// does this, so Luigi's time-travelling tests can run against a real server).
    pub fn test_clock(mut self, clock: Option<Arc<ManualClock>>) -> Self {
        self.test_clock = clock;
        self
    }

    /// The finished router.
    pub fn build(self) -> Router {
        let auth = self.config.auth.clone().map(Arc::new);
        let body_limit = self.config.max_body_size;
        let has_test_clock = self.test_clock.is_some();
        let state = Arc::new(AppState {
            api: self.api,
            config: self.config,
            metrics: self.metrics,
            test_clock: self.test_clock,
            durability: self.durability,
        });

        let mut router = Router::new()
            .route("/api/", get(api::call).post(api::call).options(api::preflight).head(head_not_allowed))
            .route("/api/{*method}", get(api::call).post(api::call).options(api::preflight).head(head_not_allowed))
            .route("/", get(redirect_to_visualiser).head(health_check))
            .route("/metrics", get(metrics));
        if has_test_clock {
            router = router.route("/_testing/clock", post(testing::set_clock));
        }
        let mut router = router.fallback(not_found).with_state(state);
        for extra in self.extra {
            router = router.merge(extra);
        }
        let router = router.layer(DefaultBodyLimit::max(body_limit));
        match auth {
            Some(auth) => router.layer(axum::middleware::from_fn_with_state(auth, auth::require)),
            None => router,
        }
    }
}

/// `GET /`: Luigi redirects to the visualiser with a *relative* location, so the UI also works
/// behind a reverse proxy that mounts the server under a path prefix.
async fn redirect_to_visualiser() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, HeaderValue::from_static("static/visualiser/index.html"))]).into_response()
}

/// `HEAD /api/...`: not allowed, as in Luigi. (axum would otherwise answer HEAD with the GET
/// handler, which would run the RPC and its side effects, such as `pause`.)
async fn head_not_allowed() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

/// `HEAD /`: the health check load balancers use; never needs credentials.
async fn health_check() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// `GET /metrics`: the Prometheus text of the metrics source, or an empty body without one.
async fn metrics(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Response {
    let Some(source) = state.metrics.clone() else { return StatusCode::OK.into_response() };
    // Rendering walks every counter; keep it off the runtime threads like the other listings.
    match tokio::task::spawn_blocking(move || source.render_prometheus()).await {
        Ok(body) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], body)
                .into_response()
        }
        Err(err) => {
            tracing::error!(target: "luigi.server", "rendering /metrics failed: {err}");
            (StatusCode::INTERNAL_SERVER_ERROR, "rendering the metrics failed; see the server log\n").into_response()
        }
    }
}

/// Any other path.
async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))],
        "404: Not Found\n",
    )
        .into_response()
}
