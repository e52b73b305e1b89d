//! Fieldnote's sync server: authenticated, caseload-scoped, batched CRDT sync for field
//! devices, over embedded SQLite or a shared PostgreSQL.
//!
//! Layout: [`app`] is the HTTP surface (routes, extractors, handlers); [`sync`] the sync
//! service; [`auth`] identity and credentials; [`policy`] every access decision; [`audit`]
//! the hash-chained log; [`db`] the two databases behind one interface; [`rollup`] the
//! supervisor roll-up; [`safety`] alarms, visit sessions, escalation and the live event
//! stream; [`admin`] and [`demo`] administration and demo data.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod console;
pub mod db;
pub mod demo;
pub mod error;
pub mod keys;
pub mod policy;
pub mod rollup;
pub mod safety;
pub mod sync;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::{Error, Result};

/// Libraries whose debug output carries query parameters or request bodies (PHI): they log
/// at `info` at most, whatever `RUST_LOG` asks for.
const QUIET_LIBRARIES: [&str; 5] = [
    "tokio_postgres=info",
    "postgres=info",
    "rusqlite=info",
    "hyper=info",
    "h2=info",
];

/// The server's log filter: `requested` (the `RUST_LOG` syntax; `info,tower_http=warn` when
/// absent or unreadable), with the libraries that would log record content capped at `info`.
pub fn log_filter(requested: Option<&str>) -> tracing_subscriber::EnvFilter {
    let mut filter = requested
        .and_then(|r| tracing_subscriber::EnvFilter::try_new(r).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    for quiet in QUIET_LIBRARIES {
        if let Ok(d) = quiet.parse() {
            filter = filter.add_directive(d);
        }
    }
    filter
}

use crate::app::AppState;
use crate::auth::AuthConfig;
use crate::db::{Db, DbConfig};

/// How to run the server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the embedded database and generated files live (and, unless given elsewhere,
    /// its keys: `db.key`, `audit.key`).
    pub data_dir: PathBuf,
    /// The embedded database's key; `None` is `db.key` in `data_dir`.
    pub db_key: Option<keys::KeySource>,
    /// The audit chain's key; `None` is `audit.key` in `data_dir`. Every server process
    /// sharing one PostgreSQL uses the same key.
    pub audit_key: Option<keys::KeySource>,
    /// PostgreSQL instead of the embedded database.
    pub database_url: Option<String>,
    /// TLS certificate chain (PEM); with `tls_key`, the server speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    pub plain_http_behind_proxy: bool,
    /// Sign-in limits and token lifetimes.
    pub auth: AuthConfig,
    /// Safety's clock and notifier (tests use a manual clock and a recording notifier).
    pub safety: safety::Safety,
    /// How often this process runs the safety timers; `None` runs them only when
    /// [`Running::run_timers`] is called (tests with a manual clock).
    pub timer_interval: Option<std::time::Duration>,
}

impl Config {
    /// A server on a free loopback port over the embedded store in `data_dir`, every other
    /// setting at its default (the command line's defaults; tests and benchmarks).
    pub fn loopback(data_dir: PathBuf) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            db_key: None,
            audit_key: None,
            database_url: None,
            tls_cert: None,
            tls_key: None,
            plain_http_behind_proxy: false,
            auth: AuthConfig::default(),
            safety: safety::Safety::default(),
            timer_interval: Some(std::time::Duration::from_secs(1)),
        }
    }

    /// The database this configuration names.
    pub fn db_config(&self) -> DbConfig {
        let in_dir = |name: &str| keys::KeySource::File(self.data_dir.join(name));
        DbConfig {
            location: match &self.database_url {
                Some(url) => db::Location::Postgres(url.clone()),
                None => db::Location::Sqlite {
                    path: db::sqlite_path(&self.data_dir),
                    key: self
                        .db_key
                        .clone()
                        .unwrap_or_else(|| in_dir(db::DB_KEY_FILE)),
                },
            },
            audit_key: self
                .audit_key
                .clone()
                .unwrap_or_else(|| in_dir(db::AUDIT_KEY_FILE)),
        }
    }

    /// Refuses settings that cannot work, naming the flag; checked before anything is
    /// opened or created.
    pub fn check(&self) -> Result<()> {
        if self.timer_interval.is_some_and(|t| t.is_zero()) {
            return Err(Error::Config(
                "--timer-interval must be at least 1 second".into(),
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(Error::Config(
                "--tls-cert and --tls-key are given together".into(),
            ));
        }
        if self.tls_cert.is_none()
            && !self.listen.ip().is_loopback()
            && !self.plain_http_behind_proxy
        {
            return Err(Error::Config(format!(
                "refusing to serve PHI over plain HTTP on {}: give --tls-cert and --tls-key, \
                 or --plain-http-behind-proxy when a TLS proxy fronts the server",
                self.listen
            )));
        }
        Ok(())
    }
}

/// A running server.
pub struct Running {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Whether it speaks HTTPS.
    pub tls: bool,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    timers: Option<tokio::task::JoinHandle<()>>,
    db: Arc<Db>,
    safety: safety::Safety,
}

impl Running {
    /// The base URL clients use.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Fires the safety timers due now (blocking; for tests that move a manual clock).
    pub fn run_timers(&self) -> Result<safety::TimerReport> {
        safety::run_timers(&self.db, &self.safety)
    }

    /// Stops accepting connections, lets requests in flight finish (up to 10 s), and waits.
    pub async fn shutdown(self) -> Result<()> {
        if let Some(t) = &self.timers {
            t.abort();
        }
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        self.task
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// Waits until the server stops (after [`Running::shutdown_handle`] is used). The safety
    /// timers keep running until then, and stop only once the server has stopped.
    pub async fn wait(self) -> Result<()> {
        let served = self.task.await;
        if let Some(t) = &self.timers {
            t.abort();
        }
        served
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// Serves until the process receives SIGTERM or Ctrl-C (SIGINT), then stops accepting
    /// connections, lets requests in flight finish (up to 10 s) and returns. The safety
    /// timers run for the whole time. This is how the `fieldnote-server` binary runs.
    pub async fn serve_until_signal(self) -> Result<()> {
        let handle = self.shutdown_handle();
        let waiter = tokio::spawn(async move {
            let signal = shutdown_signal().await;
            tracing::info!(signal, "shutting down");
            handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        });
        let served = self.wait().await;
        waiter.abort();
        served
    }

    /// A handle that stops the server from elsewhere (a signal handler).
    pub fn shutdown_handle(&self) -> axum_server::Handle<SocketAddr> {
        self.handle.clone()
    }
}

/// Resolves at the first SIGTERM or Ctrl-C; names the signal.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed: only SIGTERM (or the process's end) stops it.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = ctrl_c => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(e) => {
                tracing::warn!(error = %e, "no SIGTERM handler; stopping on Ctrl-C only");
                ctrl_c.await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await;
        "Ctrl-C"
    }
}

/// Opens the database, then starts serving on `config.listen` over `db`.
pub async fn start_with(config: &Config, db: Arc<Db>) -> Result<Running> {
    config.check()?;
    let timer_watch = Arc::new(safety::TimerWatch::new(config.timer_interval));
    let state = AppState {
        timers: timer_watch.clone(),
        db: db.clone(),
        auth: Arc::new(AuthConfig {
            secure_cookies: config.tls_cert.is_some(),
            ..config.auth.clone()
        }),
        safety: config.safety.clone(),
    };
    if let Some(url) = &config.database_url {
        safety::events::listen_postgres(url.clone(), &config.safety.hub);
    }
    let timers = config.timer_interval.map(|every| {
        let (db, safety, watch) = (db.clone(), config.safety.clone(), timer_watch.clone());
        tracing::info!(every_ms = every.as_millis() as u64, "safety timers running");
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (db, safety) = (db.clone(), safety.clone());
                match tokio::task::spawn_blocking(move || safety::run_timers(&db, &safety)).await {
                    Ok(Ok(_)) => watch.ran(app::now_ms()),
                    Ok(Err(e)) => tracing::error!(error = %e, "safety timers failed; retrying"),
                    Err(e) => tracing::error!(error = %e, "safety timers panicked; retrying"),
                }
            }
        })
    });
    let app = app::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Config(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Config(e.to_string()))?;
    let handle = axum_server::Handle::new();
    let (task, tls) = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| Error::Config(format!("TLS certificate or key: {e}")))?;
            let server = axum_server::from_tcp_rustls(listener, tls)
                .map_err(|e| Error::Config(e.to_string()))?
                .handle(handle.clone());
            (tokio::spawn(server.serve(app)), true)
        }
        _ => {
            let server = axum_server::from_tcp(listener)
                .map_err(|e| Error::Config(e.to_string()))?
                .handle(handle.clone());
            (tokio::spawn(server.serve(app)), false)
        }
    };
    tracing::info!(%addr, tls, "listening");
    Ok(Running {
        addr,
        tls,
        handle,
        task,
        timers,
        db,
        safety: config.safety.clone(),
    })
}

/// Opens the database named by `config` (creating and migrating it) on a blocking thread.
pub async fn open_db(config: &Config) -> Result<Arc<Db>> {
    let db_config = config.db_config();
    tokio::task::spawn_blocking(move || Db::open(&db_config).map(Arc::new))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}
