//! `fieldnote-server`: runs the sync server. With no flags it serves on 127.0.0.1:7878 from
//! an embedded database in `./fieldnote-data`; `--database-url` switches to PostgreSQL. It
//! maps flags and environment variables onto [`Config`] and serves until SIGTERM or Ctrl-C
//! ([`fieldnote_server::Running::serve_until_signal`]); the safety timers run all along.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use fieldnote_server::auth::AuthConfig;
use fieldnote_server::{Config, demo};

/// Fieldnote sync server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FIELDNOTE_LISTEN", default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Directory for the embedded database.
    #[arg(long, env = "FIELDNOTE_DATA_DIR", default_value = "fieldnote-data")]
    data_dir: PathBuf,
    /// PostgreSQL URL (postgres://user:pass@host/db); several servers may share one.
    #[arg(long, env = "FIELDNOTE_DATABASE_URL")]
    database_url: Option<String>,
    /// TLS certificate chain (PEM).
    #[arg(long, env = "FIELDNOTE_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "FIELDNOTE_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long, env = "FIELDNOTE_PLAIN_HTTP_BEHIND_PROXY")]
    plain_http_behind_proxy: bool,
    /// A proxy (address or CIDR range) whose X-Forwarded-For header is believed for
    /// sign-in limits and the audit log; repeat the flag or separate with commas. None by
    /// default: the TCP peer is the client.
    #[arg(long = "trusted-proxy", env = "FIELDNOTE_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = parse_proxy)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Seed a synthetic demo agency (teams, users, members, notes, plans).
    #[arg(long)]
    demo: bool,
    /// Access token lifetime, seconds.
    #[arg(long, env = "FIELDNOTE_TOKEN_TTL", default_value_t = 900)]
    token_ttl: u64,
    /// Failed sign-ins allowed per user name in the window.
    #[arg(long, env = "FIELDNOTE_LOGIN_FAILURES", default_value_t = 5)]
    login_failures: i64,
    /// Authenticated requests allowed per device per minute.
    #[arg(long, env = "FIELDNOTE_REQUESTS_PER_MINUTE", default_value_t = 600)]
    requests_per_minute: i64,
    /// Seconds between runs of the safety timers (missed check-ins, escalation); at least 1.
    #[arg(long, env = "FIELDNOTE_TIMER_INTERVAL", default_value_t = 1)]
    timer_interval: u64,
    /// A console session ends after this many seconds without a request (an open alarm
    /// page's live stream counts as activity).
    #[arg(long, env = "FIELDNOTE_CONSOLE_IDLE_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(i64).range(10..=86_400))]
    console_idle_secs: i64,
    /// A console session ends this many seconds after sign-in, whatever happens.
    #[arg(long, env = "FIELDNOTE_CONSOLE_MAX_SECS", default_value_t = 43_200,
          value_parser = clap::value_parser!(i64).range(60..=604_800))]
    console_max_secs: i64,
}

/// A proxy address: one IP address, or a CIDR range.
fn parse_proxy(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{s}` is not an IP address or a CIDR range (10.0.0.0/8)"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(fieldnote_server::log_filter(
            std::env::var("RUST_LOG").ok().as_deref(),
        ))
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fieldnote-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> fieldnote_server::Result<()> {
    let config = Config {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        plain_http_behind_proxy: args.plain_http_behind_proxy,
        auth: AuthConfig {
            token_ttl_secs: args.token_ttl,
            login_failures: args.login_failures,
            requests_per_minute: args.requests_per_minute,
            console_idle_secs: args.console_idle_secs,
            console_max_secs: args.console_max_secs,
            trusted_proxies: args.trusted_proxies,
            ..AuthConfig::default()
        },
        safety: fieldnote_server::safety::Safety::default(),
        timer_interval: Some(std::time::Duration::from_secs(args.timer_interval)),
    };
    config.check()?;
    let db = fieldnote_server::open_db(&config).await?;
    let seed_db = db.clone();
    let demo = args.demo;
    let (admin, demo_users) = tokio::task::spawn_blocking(move || {
        let admin = demo::bootstrap(&seed_db)?;
        let users = if demo {
            demo::seed(&seed_db, 6, 8)?
        } else {
            Vec::new()
        };
        Ok::<_, fieldnote_server::Error>((admin, users))
    })
    .await
    .map_err(|e| fieldnote_server::Error::Internal(e.to_string()))??;
    let running = fieldnote_server::start_with(&config, db).await?;
    let url = running.url();
    println!("Fieldnote server listening on {url}");
    println!(
        "Supervisor console: {url}/console (password, then an authenticator code; the first sign-in enrolls the authenticator)"
    );
    if let Some((user, password)) = admin {
        println!("First start: sign in as `{user}` with password `{password}` (shown once).");
    }
    if !demo_users.is_empty() {
        println!(
            "Demo agency ready. Users (password `{}`):",
            demo::DEMO_PASSWORD
        );
        for u in &demo_users {
            println!("  {:<18} {}", u.username, u.role.as_str());
        }
        println!(
            "Sync a device:  cargo run -p fieldnote-cli -- --store worker-phone login --server {url} --user worker1.north"
        );
        println!("                cargo run -p fieldnote-cli -- --store worker-phone sync");
    }
    running.serve_until_signal().await
}
