//! The shipped binaries as processes: `fieldnote-server` started the way the README starts
//! it (flags, environment, demo data), and the `fieldnote` CLI as the phones. Tests that use
//! this see exactly what a person running the product sees, timers, signals and all.
//!
//! The binaries are the ones `cargo test --workspace` (or `cargo build`) put beside this
//! test binary's `deps` folder; a run that lacks them fails with the command that builds
//! them, never skips.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The demo agency's password (`fieldnote_server::demo::DEMO_PASSWORD`).
pub const DEMO_PASSWORD: &str = fieldnote_server::demo::DEMO_PASSWORD;

/// The path of a binary of this workspace in the current build profile.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p fieldnote-server -p fieldnote-cli` \
         (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// A `fieldnote-server` process; killed when dropped unless it was stopped.
pub struct ServerProcess {
    /// The process.
    pub child: Child,
    /// The URL it printed.
    pub url: String,
    /// Everything it printed on standard output, line by line.
    pub stdout: Arc<Mutex<Vec<String>>>,
    /// Everything it printed on standard error.
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `fieldnote-server` with `args` and extra environment `env`, and waits (up to
    /// two minutes, for a first migration on a busy machine) until it says where it listens.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let mut cmd = Command::new(binary("fieldnote-server"));
        cmd.args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("fieldnote-server starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        drain(child.stdout.take(), stdout.clone());
        drain(child.stderr.take(), stderr.clone());
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = loop {
            if let Some(url) = lines(&stdout)
                .iter()
                .find_map(|l| l.strip_prefix("Fieldnote server listening on "))
            {
                break url.trim().to_string();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "fieldnote-server exited ({status}) before listening:\n{}",
                    lines(&stderr).join("\n")
                );
            }
            assert!(Instant::now() < deadline, "fieldnote-server never listened");
            std::thread::sleep(Duration::from_millis(50));
        };
        let server = ServerProcess {
            child,
            url,
            stdout,
            stderr,
        };
        if args.contains(&"--demo") {
            // The demo's user list is the last thing printed before serving.
            server.wait_for_stdout("cargo run -p fieldnote-cli -- --store worker-phone sync");
        }
        server
    }

    /// Waits until a line of standard output contains `text`.
    pub fn wait_for_stdout(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !lines(&self.stdout).iter().any(|l| l.contains(text)) {
            assert!(
                Instant::now() < deadline,
                "the server never printed {text:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first administrator's user name and password, as printed on first start.
    pub fn first_admin(&self) -> (String, String) {
        let line = lines(&self.stdout)
            .into_iter()
            .find(|l| l.starts_with("First start: sign in as"))
            .expect("a first start prints the administrator's password");
        let parts: Vec<&str> = line.split('`').collect();
        (parts[1].to_string(), parts[3].to_string())
    }

    /// The demo users it printed (user name, role).
    pub fn demo_users(&self) -> Vec<(String, String)> {
        lines(&self.stdout)
            .iter()
            .skip_while(|l| !l.starts_with("Demo agency ready"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.to_string(), w.next()?.to_string()))
            })
            .collect()
    }

    /// Sends SIGTERM and waits up to `within` for the process to end; returns its exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything printed so far (the log goes to standard output with the banner;
    /// errors to standard error).
    pub fn log(&self) -> String {
        let mut all = lines(&self.stdout);
        all.extend(lines(&self.stderr));
        all.join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drain(pipe: Option<impl std::io::Read + Send + 'static>, into: Arc<Mutex<Vec<String>>>) {
    if let Some(pipe) = pipe {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                into.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
    }
}

fn lines(of: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    of.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Runs `fieldnote --store <store> <args>` (password from the environment, as a script
/// would), whatever its exit status.
pub fn cli_output(store: &Path, args: &[&str]) -> std::process::Output {
    Command::new(binary("fieldnote"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("FIELDNOTE_PASSWORD", DEMO_PASSWORD)
        .output()
        .expect("fieldnote runs")
}

/// Runs `fieldnote --store <store> <args>` (password from the environment, as a script
/// would) and returns standard output; panics with standard error when it fails.
pub fn cli(store: &Path, args: &[&str]) -> String {
    let out = cli_output(store, args);
    assert!(
        out.status.success(),
        "fieldnote {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A plain HTTP call; returns (status, body as JSON or null).
pub fn http(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let result = match (method, body) {
        ("GET", _) => {
            let mut req = agent.get(url);
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            req.call()
        }
        (m, body) => {
            let mut req = if m == "PUT" {
                agent.put(url)
            } else {
                agent.post(url)
            }
            .header("content-type", "application/json");
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            req.send(body.map(|b| b.to_string()).unwrap_or_default().as_bytes())
        }
    };
    let mut resp = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Enrolls an authenticator for `user` the way a supervisor does, through the console's
/// first sign-in (password, then the shown secret's code); returns the secret.
pub fn enroll_authenticator(url: &str, user: &str, password: &str) -> String {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let form = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", form_escape(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let resp = agent
        .post(format!("{url}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(form(&[("username", user), ("password", password)]).as_bytes())
        .expect("the console's sign-in answers");
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|kv| kv.starts_with("fieldnote_console="))
        })
        .unwrap_or_else(|| panic!("console sign-in of {user}: no session ({})", resp.status()))
        .to_string();
    let mut page = agent
        .get(format!("{url}/console/mfa"))
        .header("cookie", &cookie)
        .call()
        .expect("the second-factor page answers");
    let html = page
        .body_mut()
        .read_to_string()
        .expect("the second-factor page reads");
    let between = |from: &str, to: &str| {
        let start = html.find(from).map(|i| i + from.len())?;
        let end = html[start..].find(to)? + start;
        Some(html[start..end].trim().to_string())
    };
    let secret = between("id=\"totp-secret\">", "<").expect("the enrollment secret is shown");
    let csrf = between("name=\"csrf\" value=\"", "\"").expect("the form's token");
    let code = authenticator_code(url, user, &secret);
    let done = agent
        .post(format!("{url}/console/mfa"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .send(form(&[("csrf", &csrf), ("code", &code)]).as_bytes())
        .expect("the second-factor form answers");
    assert_eq!(
        done.status().as_u16(),
        303,
        "enrollment of {user} confirmed"
    );
    secret
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The next code of `secret` that `user` of the server at `url` has not used: the server
/// takes each 30-second step once per user, one step either side of now.
pub fn authenticator_code(url: &str, user: &str, secret: &str) -> String {
    static USED: Mutex<Vec<(String, i64)>> = Mutex::new(Vec::new());
    let key = format!("{url}/{user}");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let step = {
        let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
        let last = used.iter().find(|(k, _)| *k == key).map(|(_, s)| *s);
        // The current step first, never the one before: a step boundary crossed before the
        // server checks leaves the code one step old, which it still accepts.
        let step = last.map_or(now() / 30, |l| (l + 1).max(now() / 30));
        used.retain(|(k, _)| *k != key);
        used.push((key, step));
        step
    };
    while step > now() / 30 + 1 {
        std::thread::sleep(Duration::from_millis(500));
    }
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("a base32 secret"))
        .with_account_name("test")
        .build()
        .expect("a TOTP");
    totp.generate((step * 30) as u64).to_string()
}

/// Signs `user` in as a new device through the public API; returns (access token, team id).
/// A supervisor or program director enrolls an authenticator in the console first (once
/// per server) and gives its code.
pub fn sign_in(url: &str, user: &str, password: &str) -> (String, String) {
    static SECRETS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let attempt = |code: Option<String>| {
        http(
            "POST",
            &format!("{url}/v1/auth/login"),
            None,
            Some(&serde_json::json!({
                "username": user, "password": password, "device_name": "process test",
                "second_factor": code,
            })),
        )
    };
    let key = format!("{url}/{user}");
    let known = SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, s)| s.clone());
    let (mut status, mut body) = attempt(known.as_ref().map(|s| authenticator_code(url, user, s)));
    if status == 401 && body["code"] == "second_factor_required" && known.is_none() {
        let secret = enroll_authenticator(url, user, password);
        SECRETS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((key, secret.clone()));
        (status, body) = attempt(Some(authenticator_code(url, user, &secret)));
    }
    assert_eq!(status, 200, "sign-in of {user}: {body}");
    (
        body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["identity"]["team_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Polls `check` every `every` until it returns `Some`, for at most `within`.
pub fn eventually<T>(within: Duration, every: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {within:?}");
        std::thread::sleep(every);
    }
}
