//! A cookie-keeping HTTP client that speaks to the console as a browser does (forms,
//! redirects not followed, the session cookie kept), and the sign-in steps tests share.

use fieldnote_protocol::ServerRole;

use super::TestServer;

/// What a browser would get back.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A cookie-keeping client that does not follow redirects (so tests see them).
pub struct Browser {
    pub base: String,
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_string(),
            cookie: None,
        }
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Page {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        let url = format!("{}{path}", self.base);
        let cookie = self
            .cookie
            .as_ref()
            .map(|c| format!("fieldnote_console={c}"));
        let result = if method == "GET" {
            let mut req = agent.get(&url);
            if let Some(c) = &cookie {
                req = req.header("cookie", c);
            }
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            req.call()
        } else {
            let mut req = agent
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded");
            if let Some(c) = &cookie {
                req = req.header("cookie", c);
            }
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            req.send(form.unwrap_or_default().as_bytes())
        };
        let mut resp = result.unwrap();
        let header = |name: &str| {
            resp.headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect::<Vec<_>>()
        };
        let set_cookie = header("set-cookie");
        let location = header("location").into_iter().next();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        for c in &set_cookie {
            if let Some(v) = c.strip_prefix("fieldnote_console=") {
                let v = v.split(';').next().unwrap_or_default();
                self.cookie = (!v.is_empty()).then(|| v.to_string());
            }
        }
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Page {
            status,
            location,
            set_cookie,
            headers,
            body,
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None, &[])
    }

    pub fn post(&mut self, path: &str, form: &str) -> Page {
        self.send("POST", path, Some(form), &[])
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(page: &Page) -> String {
        between(&page.body, "name=\"csrf\" value=\"", "\"")
    }
}

pub fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in page"))
        + start.len();
    text[from..][..text[from..].find(end).unwrap()].to_string()
}

/// Form encoding of a value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The code an authenticator shows for `secret` `steps_ahead` steps from now.
pub fn code(secret: &str, steps_ahead: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .with_account_name("test")
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + steps_ahead * 30) as u64).to_string()
}

/// Signs `username` in through both steps; returns the browser and the TOTP secret.
pub fn sign_in(server: &TestServer, username: &str, secret: Option<&str>) -> (Browser, String) {
    let mut b = Browser::new(&server.url);
    let p = b.post(
        "/console/login",
        &format!("username={username}&password={}", enc(super::PASSWORD)),
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/console/mfa"));
    let mfa = b.get("/console/mfa");
    assert_eq!(mfa.status, 200);
    let secret = match secret {
        Some(s) => s.to_string(),
        None => between(&mfa.body, "id=\"totp-secret\">", "<"),
    };
    let csrf = Browser::csrf(&mfa);
    let done = b.post(
        "/console/mfa",
        &format!("csrf={csrf}&code={}", code(&secret, 0)),
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/console/alarms"));
    (b, secret)
}

/// The audit actions recorded so far whose name starts with `prefix`, in order.
pub fn audited(server: &TestServer, prefix: &str) -> Vec<String> {
    server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT action FROM audit WHERE action LIKE $1 ORDER BY seq",
                    fieldnote_server::params![format!("{prefix}%")],
                )?
                .into_iter()
                .map(|r| r[0].text())
                .collect())
        })
        .unwrap()
}

pub fn team_with_supervisor(server: &TestServer, name: &str) -> (String, String) {
    let team = server.add_team(name);
    let sup = format!("sup.{name}");
    server.add_user(&sup, ServerRole::Supervisor, Some(&team));
    server.add_user(&format!("w.{name}"), ServerRole::Worker, Some(&team));
    (team, sup)
}
