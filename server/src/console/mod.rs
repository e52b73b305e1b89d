//! The supervisor console, served by the server itself: browser sessions with a second
//! factor, and the pages supervisors work in (`http` handlers, `pages` markup).
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie scoped to `/console`
//! (Secure when the server speaks TLS); the database keeps only its hash. A session first
//! proves the password, then a TOTP code (enrolling the authenticator on first sign-in), and
//! is then replaced by a new one so a token seen before the second factor is worth nothing.
//! It ends after `console_idle_secs` without a request or `console_max_secs` in all. Every
//! form carries a CSRF token derived from the session token, which a page on another
//! origin cannot read; form posts from another origin are refused as well.

pub mod admin;
mod charts;
pub mod export;
pub mod http;
mod pages;
pub mod records;

use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, Totp};

use crate::auth::{self, Principal};
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::params;

/// The session cookie's name.
pub const COOKIE: &str = "fieldnote_console";

/// A console session as stored.
#[derive(Clone, Debug)]
pub struct Session {
    /// The hash of the cookie's token (the row's key).
    pub id_hash: String,
    /// The user.
    pub user_id: String,
    /// The second factor was passed.
    pub mfa_done: bool,
    /// A TOTP secret offered at enrollment, not yet confirmed.
    pub totp_pending: Option<String>,
}

/// Starts a session for `user_id` (second factor still to come). Returns the cookie token.
pub fn create(tx: &mut dyn Tx, user_id: &str, mfa_done: bool, now: i64) -> Result<String> {
    let token = auth::new_secret();
    tx.exec(
        "INSERT INTO console_sessions (id_hash, user_id, mfa_done, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $4)",
        params![auth::secret_hash(&token), user_id, mfa_done as i64, now],
    )?;
    Ok(token)
}

/// The live session of a cookie token: not ended, used within `idle_secs`, younger than
/// `max_secs`, and its user not disabled. Reads only.
pub fn load(
    tx: &mut dyn Tx,
    token: &str,
    now: i64,
    idle_secs: i64,
    max_secs: i64,
) -> Result<Option<Session>> {
    let row = tx.query_opt(
        "SELECT s.id_hash, s.user_id, s.mfa_done, s.totp_pending
         FROM console_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.ended_at IS NULL AND u.disabled = 0
           AND s.last_seen_at > $2 AND s.created_at > $3",
        params![
            auth::secret_hash(token),
            now - idle_secs * 1000,
            now - max_secs * 1000
        ],
    )?;
    Ok(row.map(|r| Session {
        id_hash: r[0].text(),
        user_id: r[1].text(),
        mfa_done: r[2].int() != 0,
        totp_pending: r[3].opt_text(),
    }))
}

/// Counts a request as activity.
pub fn touch(tx: &mut dyn Tx, session: &Session, now: i64) -> Result<()> {
    tx.exec(
        "UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2",
        params![now, &session.id_hash],
    )?;
    Ok(())
}

/// Ends a session (sign-out, or replaced after the second factor).
pub fn end(tx: &mut dyn Tx, session: &Session, now: i64) -> Result<()> {
    tx.exec(
        "UPDATE console_sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL",
        params![now, &session.id_hash],
    )?;
    Ok(())
}

/// The CSRF token of a session: derived from the cookie's token, so it needs no storage and
/// another origin, which cannot read the cookie, cannot compute it.
pub fn csrf_token(session_token: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "fieldnote-console-csrf:{session_token}"
    )))
}

/// Checks a form's CSRF token against the session's.
pub fn check_csrf(session_token: &str, form_token: &str) -> Result<()> {
    let want = Sha256::digest(csrf_token(session_token));
    let got = Sha256::digest(form_token);
    if want != got {
        return Err(Error::Forbidden(
            "the form's security token is missing or wrong; reload the page and try again".into(),
        ));
    }
    Ok(())
}

/// A new TOTP secret (160 bits, base32), for enrollment.
pub fn new_totp_secret() -> String {
    Secret::generate().to_base32()
}

fn totp(secret_b32: &str, account: &str) -> Result<Totp> {
    let secret = Secret::try_from_base32(secret_b32)
        .map_err(|e| Error::Internal(format!("stored TOTP secret unreadable: {e}")))?;
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some("Fieldnote"))
        .with_account_name(account)
        .build()
        .map_err(|e| Error::Internal(format!("TOTP: {e}")))
}

/// The `otpauth://` URL an authenticator app reads (as a QR code or typed in).
pub fn totp_url(secret_b32: &str, account: &str) -> Result<String> {
    totp(secret_b32, account)?
        .to_url()
        .map_err(|e| Error::Internal(format!("TOTP: {e}")))
}

/// Checks `code` against `secret_b32` at `now`, accepting each time step once per user:
/// a code seen before (replayed, or read over a shoulder) is refused.
pub fn check_totp(
    tx: &mut dyn Tx,
    user_id: &str,
    secret_b32: &str,
    code: &str,
    now: i64,
) -> Result<bool> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(step) = totp(secret_b32, user_id)?.check(&code, (now / 1000).max(0) as u64) else {
        return Ok(false);
    };
    let step = step as i64;
    let updated = tx.exec(
        "UPDATE users SET totp_last_step = $1 WHERE totp_last_step < $1 AND id = $2",
        params![step, user_id],
    )?;
    Ok(updated == 1)
}

/// The user's TOTP secret, once enrolled.
pub fn totp_secret(tx: &mut dyn Tx, user_id: &str) -> Result<Option<String>> {
    Ok(tx
        .query_opt(
            "SELECT totp_secret FROM users WHERE id = $1",
            params![user_id],
        )?
        .and_then(|r| r[0].opt_text()))
}

/// The principal a console session acts as (no device).
pub fn principal(tx: &mut dyn Tx, session: &Session) -> Result<Principal> {
    auth::principal_of(tx, &session.user_id, None)
}
