//! Identity: argon2id passwords, device registration with a revocable credential,
//! short-lived access tokens, and rate limits on sign-in and requests. Secrets are random
//! 256-bit values; only their SHA-256 hashes are stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldnote_protocol::{Identity, ServerRole};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::Tx;
use crate::error::{Error, Result};
use crate::params;

/// Who is making a request, after authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: String,
    /// Their role.
    pub role: ServerRole,
    /// Their team (administrators may have none).
    pub team_id: Option<String>,
    /// The staff id records carry.
    pub staff_id: String,
    /// Name used in signatures.
    pub display_name: String,
    /// The device the token was issued to (console sessions have none).
    pub device_id: Option<String>,
}

impl Principal {
    /// The identity a device stores.
    pub fn identity(&self) -> Identity {
        Identity {
            user_id: self.user_id.clone(),
            staff_id: self.staff_id.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            team_id: self.team_id.clone().unwrap_or_default(),
        }
    }
}

/// Limits and lifetimes, configurable per deployment.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Access token lifetime in seconds (default 900).
    pub token_ttl_secs: u64,
    /// Failed sign-ins allowed per user name in a window. An address may fail four times as
    /// often; past that, only names with no failure of their own are still checked, up to
    /// forty times this number, after which the address waits for the next window.
    pub login_failures: i64,
    /// The sign-in window in seconds (default 900).
    pub login_window_secs: i64,
    /// Authenticated requests allowed per device (or user) per minute (default 600).
    pub requests_per_minute: i64,
    /// A console session ends after this many seconds without a request (default 900).
    pub console_idle_secs: i64,
    /// A console session ends this many seconds after sign-in whatever happens (default
    /// 43,200: twelve hours).
    pub console_max_secs: i64,
    /// Console cookies carry `Secure` (set when the server speaks TLS).
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` is believed (none by default): behind a
    /// TLS-terminating proxy every phone arrives from the proxy's address, so the address
    /// that sign-in limits and the audit log see is the one the proxy forwarded.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            token_ttl_secs: 900,
            login_failures: 5,
            login_window_secs: 900,
            requests_per_minute: 600,
            console_idle_secs: 900,
            console_max_secs: 43_200,
            secure_cookies: false,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The address a request came from: the TCP peer, unless the peer is a trusted proxy, in
/// which case `X-Forwarded-For` is read from the right, past every trusted proxy, to the
/// first address no trusted proxy vouches for. A header from anyone else, or one that
/// does not parse, is ignored: a client cannot choose the address it is counted under.
pub fn client_address(
    peer: std::net::IpAddr,
    forwarded_for: &[&str],
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Several headers are one list, in order.
    let hops = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let parsed = hop
            .parse::<std::net::IpAddr>()
            .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|a| a.ip()));
        match parsed {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop that is not an address ends what can be believed.
            Err(_) => break,
        }
    }
    client
}

/// A fresh random secret, URL-safe base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| Error::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// Checks a password against its stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A password policy: at least 12 characters.
pub fn check_password_strength(password: &str) -> Result<()> {
    if password.chars().count() < 12 {
        return Err(Error::invalid("password", "must be at least 12 characters"));
    }
    Ok(())
}

/// Counts one event against `key` in a fixed window; fails with
/// [`Error::RateLimited`] once `limit` is exceeded.
pub fn rate_limit(
    tx: &mut dyn Tx,
    key: &str,
    limit: i64,
    window_secs: i64,
    now: i64,
) -> Result<()> {
    let window_start = now - now.rem_euclid(window_secs * 1000);
    let row = tx.query_one(
        "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
         ON CONFLICT (key) DO UPDATE SET
            count = CASE WHEN rate_limits.window_start = excluded.window_start
                         THEN rate_limits.count + 1 ELSE 1 END,
            window_start = excluded.window_start
         RETURNING count",
        params![key, window_start],
    )?;
    if row[0].int() > limit {
        let retry_after = ((window_start + window_secs * 1000 - now) / 1000).max(1) as u64;
        return Err(Error::RateLimited { retry_after });
    }
    Ok(())
}

/// Gives back one attempt counted by [`rate_limit`] in the window of `now` (a sign-in whose
/// password was right).
pub fn refund(tx: &mut dyn Tx, key: &str, window_secs: i64, now: i64) -> Result<()> {
    let window_start = now - now.rem_euclid(window_secs * 1000);
    tx.exec(
        "UPDATE rate_limits SET count = count - 1
         WHERE key = $1 AND window_start = $2 AND count > 0",
        params![key, window_start],
    )?;
    Ok(())
}

/// Deletes the counters under `prefix` (`login:`, `token:`) whose windows ended before
/// `now`, so that failures under ever new names cannot grow the table.
pub fn sweep_rate_limits(tx: &mut dyn Tx, prefix: &str, window_secs: i64, now: i64) -> Result<u64> {
    let current = now - now.rem_euclid(window_secs * 1000);
    tx.exec(
        "DELETE FROM rate_limits WHERE window_start < $1 AND key LIKE $2",
        params![current, format!("{prefix}%")],
    )
}

/// The rate-limit key of sign-in attempts under `username`: a hash of the name as typed
/// (at most 256 bytes of it), so a key never grows with what an attacker types.
pub fn login_user_key(username: &str) -> String {
    let name = username.trim();
    let mut end = name.len().min(256);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("login:user:{}", secret_hash(&name[..end].to_lowercase()))
}

/// How many failures `key` has in the current window, without counting one.
pub fn failures(tx: &mut dyn Tx, key: &str, window_secs: i64, now: i64) -> Result<i64> {
    let window_start = now - now.rem_euclid(window_secs * 1000);
    Ok(tx
        .query_opt(
            "SELECT count FROM rate_limits WHERE key = $1 AND window_start = $2",
            params![key, window_start],
        )?
        .map_or(0, |r| r[0].int()))
}

/// Whether a device of `user_id` may be registered as far as the second factor goes:
/// supervisors and program directors, whose devices receive a team's or an agency's
/// records, give a current code of the authenticator they enrolled in the console (each code
/// once, as in the console). The outer error is a database failure; the inner one the
/// refusal to send: [`Error::SecondFactorRequired`] when there is no code or nothing is
/// enrolled yet, [`Error::Unauthenticated`] when the code is wrong or was used already.
pub fn check_second_factor(
    tx: &mut dyn Tx,
    user_id: &str,
    code: Option<&str>,
    now: i64,
) -> Result<std::result::Result<(), Error>> {
    let role = tx.query_one("SELECT role FROM users WHERE id = $1", params![user_id])?[0].text();
    if !matches!(
        ServerRole::parse(&role),
        Some(ServerRole::Supervisor | ServerRole::ProgramDirector)
    ) {
        return Ok(Ok(()));
    }
    let Some(secret) = crate::console::totp_secret(tx, user_id)? else {
        return Ok(Err(Error::SecondFactorRequired(
            "this account needs an authenticator app before a device can hold its team's \
             records: sign in to the console once to enroll one, then sign in here with its code"
                .into(),
        )));
    };
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(Err(Error::SecondFactorRequired(
            "enter the 6-digit code from your authenticator app".into(),
        )));
    };
    if crate::console::check_totp(tx, user_id, &secret, code, now)? {
        Ok(Ok(()))
    } else {
        Ok(Err(Error::Unauthenticated(
            "the authenticator code is wrong or was already used; wait for the next one".into(),
        )))
    }
}

/// Issues an access token for a user (and device).
pub fn issue_token(
    tx: &mut dyn Tx,
    user_id: &str,
    device_id: Option<&str>,
    ttl_secs: u64,
    now: i64,
) -> Result<String> {
    let token = new_secret();
    tx.exec(
        "INSERT INTO tokens (hash, user_id, device_id, expires_at) VALUES ($1, $2, $3, $4)",
        params![
            secret_hash(&token),
            user_id,
            device_id,
            now + ttl_secs as i64 * 1000
        ],
    )?;
    // Expired tokens are swept as new ones are issued.
    tx.exec(
        "DELETE FROM tokens WHERE expires_at < $1",
        params![now - 3_600_000],
    )?;
    Ok(token)
}

/// The principal behind a bearer token. Expired tokens, disabled users and revoked devices
/// are refused; a revoked device is told so, so that it wipes itself.
pub fn authenticate(tx: &mut dyn Tx, token: &str, now: i64) -> Result<Principal> {
    let row = tx
        .query_opt(
            "SELECT t.expires_at, u.id, u.role, u.team_id, u.staff_id, u.display_name,
                    u.disabled, t.device_id, d.revoked_at
             FROM tokens t JOIN users u ON u.id = t.user_id
             LEFT JOIN devices d ON d.id = t.device_id
             WHERE t.hash = $1",
            params![secret_hash(token)],
        )?
        .ok_or_else(|| Error::Unauthenticated("unknown access token".into()))?;
    if row[8].opt_int().is_some() {
        return Err(Error::DeviceRevoked);
    }
    if row[0].int() < now {
        return Err(Error::Unauthenticated("access token expired".into()));
    }
    if row[6].int() != 0 {
        return Err(Error::Unauthenticated("account disabled".into()));
    }
    Ok(Principal {
        user_id: row[1].text(),
        role: ServerRole::parse(&row[2].text())
            .ok_or_else(|| Error::Internal("unknown role stored".into()))?,
        team_id: row[3].opt_text(),
        staff_id: row[4].text(),
        display_name: row[5].text(),
        device_id: row[7].opt_text(),
    })
}

/// A user's stored password hash and status, for sign-in.
pub struct LoginCandidate {
    /// User id.
    pub user_id: String,
    /// argon2 hash.
    pub password_hash: String,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
}

/// Looks up a user by name for sign-in.
pub fn find_login(tx: &mut dyn Tx, username: &str) -> Result<Option<LoginCandidate>> {
    Ok(tx
        .query_opt(
            "SELECT id, password_hash, disabled FROM users WHERE username = $1",
            params![username],
        )?
        .map(|r| LoginCandidate {
            user_id: r[0].text(),
            password_hash: r[1].text(),
            disabled: r[2].int() != 0,
        }))
}

/// Loads a principal by user id (after a password or device credential was checked).
pub fn principal_of(tx: &mut dyn Tx, user_id: &str, device_id: Option<&str>) -> Result<Principal> {
    let r = tx
        .query_opt(
            "SELECT id, role, team_id, staff_id, display_name FROM users WHERE id = $1",
            params![user_id],
        )?
        .ok_or_else(|| Error::Unauthenticated("unknown user".into()))?;
    Ok(Principal {
        user_id: r[0].text(),
        role: ServerRole::parse(&r[1].text())
            .ok_or_else(|| Error::Internal("unknown role stored".into()))?,
        team_id: r[2].opt_text(),
        staff_id: r[3].text(),
        display_name: r[4].text(),
        device_id: device_id.map(str::to_string),
    })
}

/// Revokes a device: its credential and tokens stop working at once.
pub fn revoke_device(tx: &mut dyn Tx, device_id: &str, now: i64) -> Result<bool> {
    let n = tx.exec(
        "UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        params![now, device_id],
    )?;
    Ok(n > 0)
}

/// Disables a user: every token is revoked and sign-in refused.
pub fn disable_user(tx: &mut dyn Tx, user_id: &str) -> Result<bool> {
    let n = tx.exec(
        "UPDATE users SET disabled = 1 WHERE id = $1",
        params![user_id],
    )?;
    tx.exec("DELETE FROM tokens WHERE user_id = $1", params![user_id])?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::client_address;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_address_believes_only_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        let cases: &[(&str, &[&str], &str)] = &[
            // Not from a proxy: the header is whatever the client wrote, and ignored.
            ("198.51.100.1", &["203.0.113.9"], "198.51.100.1"),
            // From a proxy: the hop the proxy appended.
            ("127.0.0.1", &["203.0.113.9"], "203.0.113.9"),
            // A forged first hop sent through the proxy is not believed either.
            ("127.0.0.1", &["1.1.1.1, 203.0.113.9"], "203.0.113.9"),
            // Through two trusted proxies, across two headers.
            ("127.0.0.1", &["203.0.113.9", "10.1.2.3"], "203.0.113.9"),
            // Ports and brackets as some proxies write them.
            ("127.0.0.1", &["203.0.113.9:4431"], "203.0.113.9"),
            ("127.0.0.1", &["[2001:db8::1]:443"], "2001:db8::1"),
            // A proxy sending nothing: the proxy itself.
            ("127.0.0.1", &[], "127.0.0.1"),
            // Garbage ends what is believed, at the last trusted hop.
            ("127.0.0.1", &["not an address"], "127.0.0.1"),
        ];
        for (peer, headers, want) in cases {
            assert_eq!(
                client_address(ip(peer), headers, &trusted),
                ip(want),
                "{peer} {headers:?}"
            );
        }
        assert_eq!(
            client_address(ip("127.0.0.1"), &["203.0.113.9"], &[]),
            ip("127.0.0.1"),
            "no proxy trusted by default"
        );
    }
}
