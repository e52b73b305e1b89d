//! `fieldnote-server`: runs the sync server. With no flags it serves on 127.0.0.1:7878 from
//! an embedded database in `./fieldnote-data`; `--database-url` switches to PostgreSQL. It
//! maps flags and environment variables onto [`Config`] and serves until SIGTERM or Ctrl-C
//! ([`fieldnote_server::Running::serve_until_signal`]); the safety timers run all along.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use fieldnote_server::auth::AuthConfig;
use fieldnote_server::keys::KeySource;
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
    /// The embedded database's key file (64 hex characters), made on first start; default
    /// `db.key` in the data directory. Keep it off the database's disk where you can.
    #[arg(long, env = "FIELDNOTE_DB_KEY_FILE", conflicts_with = "db_key")]
    db_key_file: Option<PathBuf>,
    /// The embedded database's key itself, 64 hex characters (instead of a file).
    #[arg(long, env = "FIELDNOTE_DB_KEY", hide_env_values = true)]
    db_key: Option<String>,
    /// The audit chain's key file (64 hex characters), made on first start; default
    /// `audit.key` in the data directory. Every server sharing one PostgreSQL uses the same.
    #[arg(long, env = "FIELDNOTE_AUDIT_KEY_FILE", conflicts_with = "audit_key")]
    audit_key_file: Option<PathBuf>,
    /// The audit chain's key itself, 64 hex characters (instead of a file).
    #[arg(long, env = "FIELDNOTE_AUDIT_KEY", hide_env_values = true)]
    audit_key: Option<String>,
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
    #[command(subcommand)]
    command: Option<Command>,
}

/// What to do instead of serving.
#[derive(clap::Subcommand, Debug)]
enum Command {
    /// The audit log, offline: for an auditor with access to the server's database.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(clap::Subcommand, Debug)]
enum AuditCommand {
    /// Prints a signed checkpoint of the chain's head (JSON) to keep somewhere else.
    Checkpoint,
    /// Checks the whole chain, and each checkpoint file given still holds; exits 1 if not.
    Verify {
        /// Checkpoint files written by `audit checkpoint` (or `GET /v1/admin/audit/checkpoint`).
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
    },
}

/// A key from a file or a value, as given on the command line.
fn key_source(
    what: &str,
    file: Option<PathBuf>,
    value: Option<String>,
) -> fieldnote_server::Result<Option<KeySource>> {
    Ok(match (file, value) {
        (_, Some(v)) => Some(KeySource::Value(fieldnote_server::keys::parse(what, &v)?)),
        (Some(f), None) => Some(KeySource::File(f)),
        (None, None) => None,
    })
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
        db_key: key_source("db-key", args.db_key_file, args.db_key)?,
        audit_key: key_source("audit-key", args.audit_key_file, args.audit_key)?,
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
    if let Some(Command::Audit(command)) = args.command {
        return audit_command(&db, command);
    }
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
        println!(
            "Supervisors and directors enroll an authenticator at their first console sign-in, then register a device with its code (login --code)."
        );
    }
    running.serve_until_signal().await
}

/// Runs an `audit` subcommand against the opened database.
fn audit_command(
    db: &fieldnote_server::db::Db,
    command: AuditCommand,
) -> fieldnote_server::Result<()> {
    use fieldnote_server::audit;
    match command {
        AuditCommand::Checkpoint => {
            let c = db.tx(|tx| {
                let c = audit::checkpoint(tx)?;
                audit::append(
                    tx,
                    &audit::Entry {
                        at: c.at,
                        actor: "system",
                        device: None,
                        action: "audit.checkpoint",
                        target: "-",
                        detail: &serde_json::json!({ "seq": c.seq }).to_string(),
                    },
                )?;
                Ok(c)
            })?;
            println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
            Ok(())
        }
        AuditCommand::Verify { checkpoints } => {
            let mut kept = Vec::new();
            for path in &checkpoints {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    fieldnote_server::Error::Config(format!("checkpoint {}: {e}", path.display()))
                })?;
                let c: audit::Checkpoint = serde_json::from_str(&text).map_err(|e| {
                    fieldnote_server::Error::Config(format!(
                        "checkpoint {}: not a checkpoint: {e}",
                        path.display()
                    ))
                })?;
                kept.push(c);
            }
            let (chain, checks) =
                db.read_tx(|tx| Ok((audit::verify(tx)?, audit::verify_checkpoints(tx, &kept)?)))?;
            let mut ok = chain.first_broken.is_none();
            match chain.first_broken {
                None => println!("chain: {} entries, intact", chain.entries),
                Some(seq) => println!("chain: BROKEN at entry {seq} of {}", chain.entries),
            }
            for (path, check) in checkpoints.iter().zip(&checks) {
                ok &= *check == audit::CheckpointCheck::Holds;
                println!("checkpoint {}: {check:?}", path.display());
            }
            if ok {
                Ok(())
            } else {
                Err(fieldnote_server::Error::Config(
                    "the audit log does not verify".into(),
                ))
            }
        }
    }
}
