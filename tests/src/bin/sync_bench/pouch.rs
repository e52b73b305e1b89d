//! Baseline (d): PouchDB replicating against a CouchDB-protocol server, both from the npm
//! registry (`tests/peers/pouchdb`), driven as child processes. Each driver command prints
//! one JSON line; the bench routes the replication through its link so that bytes are
//! counted, and the link shaped, exactly as for the other systems.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::BoxError;

/// A running CouchDB-protocol server and the driver that talks to it.
pub struct Pouch {
    driver: PathBuf,
    work: PathBuf,
    server: Child,
    /// The server's address.
    pub addr: std::net::SocketAddr,
    inputs: std::sync::atomic::AtomicU64,
}

impl Pouch {
    /// Starts the server from the driver folder `driver`, storing under `work`.
    pub fn start(driver: &Path, work: &Path) -> Result<Pouch, BoxError> {
        if !driver.join("node_modules").is_dir() {
            return Err(format!(
                "{} has no node_modules: run `npm ci --prefix {}` (scripts/bench does)",
                driver.display(),
                driver.display()
            )
            .into());
        }
        std::fs::create_dir_all(work)?;
        let mut server = Command::new("node")
            .arg(driver.join("server.mjs"))
            .arg("--dir")
            .arg(work.join("server"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(server.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("listening http://")
            .ok_or_else(|| format!("the PouchDB server said {line:?}"))?;
        Ok(Pouch {
            driver: driver.to_path_buf(),
            work: work.to_path_buf(),
            server,
            addr: url.trim_end_matches('/').parse()?,
            inputs: Default::default(),
        })
    }

    /// The server's URL for database `db`, directly or through `via` (a link's URL).
    pub fn db_url(&self, via: Option<&str>, db: &str) -> String {
        match via {
            Some(base) => format!("{base}/{db}"),
            None => format!("http://{}/{db}", self.addr),
        }
    }

    /// Runs a driver command with `input` (written to a file) and returns its JSON answer.
    pub fn run(&self, args: &[&str], input: Option<&Value>) -> Result<Value, BoxError> {
        let mut cmd = Command::new("node");
        cmd.arg(self.driver.join("client.mjs")).args(args);
        if let Some(v) = input {
            let n = self
                .inputs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = self.work.join(format!("input-{n}.json"));
            std::fs::write(&path, serde_json::to_vec(v)?)?;
            cmd.arg("--input").arg(path);
        }
        let out = cmd.stderr(Stdio::piped()).output()?;
        if !out.status.success() {
            return Err(format!(
                "pouchdb driver {} failed: {}",
                args.first().unwrap_or(&""),
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let text = String::from_utf8(out.stdout)?;
        let last = text
            .lines()
            .last()
            .ok_or("the pouchdb driver printed nothing")?;
        Ok(serde_json::from_str(last)?)
    }

    /// A local database folder for the driver.
    pub fn local(&self, name: &str) -> String {
        self.work.join(name).display().to_string()
    }
}

impl Drop for Pouch {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
