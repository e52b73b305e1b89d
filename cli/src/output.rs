//! What the command-line device prints, in one place.
//!
//! - With `--json`, standard output carries exactly one JSON document: the command's result,
//!   or `{"error": {...}}` when it failed (see `main`'s error mapping). Times in JSON are
//!   RFC 3339 in UTC, as the core serializes them.
//! - Without it, text for people: every time is shown in the program's zone,
//!   America/New_York (the zone of the rules' day boundaries), with its offset; and every
//!   piece of stored text passes through [`clean`], so a name, signature, goal or narrative
//!   that arrived from elsewhere with terminal escapes cannot drive the terminal.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono_tz::America::New_York;
use fieldnote_core::Timestamp;

/// Whether `--json` was given (set once, at start-up).
static JSON: AtomicBool = AtomicBool::new(false);

/// Records whether `--json` was given.
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

/// Whether this run prints JSON.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Whether `c` is shown escaped in text for people: the C0 controls (except the newline),
/// DEL, and the C1 controls.
fn is_control(c: char) -> bool {
    c != '\n' && (c.is_ascii_control() || ('\u{80}'..='\u{9f}').contains(&c))
}

/// `s` with every control character but the newline written as a Rust escape (`\u{1b}`),
/// so it is shown instead of acted on by the terminal. Text without any is borrowed as is.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value as pretty JSON. JSON already escapes the C0 controls; DEL and the C1 controls,
/// which JSON allows raw, are escaped too (`\u009b`), so the text is safe on a terminal and
/// still the same JSON value.
pub fn json_text(value: &impl serde::Serialize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        serde_json::json!({"error": {"kind": "internal", "message": e.to_string()}}).to_string()
    });
    if !text.chars().any(is_control) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        // Raw newlines in pretty JSON are layout; raw controls inside strings are only
        // DEL and C1 here, which serde_json leaves unescaped.
        if is_control(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// An instant for people, in the program's zone with its offset:
/// `2026-11-25 17:00 EST (-05:00)`.
pub fn when(at: Timestamp) -> String {
    at.0.with_timezone(&New_York)
        .format("%Y-%m-%d %H:%M %Z (%:z)")
        .to_string()
}

/// [`when`] or "never".
pub fn when_or_never(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "never".to_string(), when)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_newlines_kept() {
        assert_eq!(
            clean("a\x1b[2Jb\nc\u{9b}d\x7f"),
            "a\\u{1b}[2Jb\nc\\u{9b}d\\u{7f}"
        );
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        let j = json_text(&"x\u{9b}y\x1b");
        assert!(!j.contains('\u{9b}') && !j.contains('\x1b'), "{j}");
        assert_eq!(serde_json::from_str::<String>(&j).unwrap(), "x\u{9b}y\x1b");
    }

    #[test]
    fn times_show_the_zone_and_offset() {
        let t = Timestamp::parse("2026-01-15T17:00:00Z").unwrap();
        assert_eq!(when(t), "2026-01-15 12:00 EST (-05:00)");
        let t = Timestamp::parse("2026-07-15T17:00:00Z").unwrap();
        assert_eq!(when(t), "2026-07-15 13:00 EDT (-04:00)");
    }
}
