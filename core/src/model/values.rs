//! Value types shared by every record: instants, calendar days and co-edited text.
//!
//! They exist so that each one has a single, documented representation both in the automerge
//! document (what syncs) and in JSON (what is signed, exported and shown).

use std::fmt;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler, reconcile::NoKey};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// An instant, stored in documents as an automerge timestamp (milliseconds since the epoch, UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The current instant, truncated to whole milliseconds (the stored precision).
    pub fn now() -> Self {
        Self::from_millis(Utc::now().timestamp_millis())
    }

    /// The instant `ms` milliseconds after the epoch; out-of-range values clamp to the epoch.
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(Utc.timestamp_millis_opt(ms).single().unwrap_or_default())
    }

    /// Milliseconds since the epoch.
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Parses RFC 3339 (`2026-11-25T14:30:00-05:00`).
    pub fn parse(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Self::from_millis(d.with_timezone(&Utc).timestamp_millis()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            self.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }
}

impl Reconcile for Timestamp {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.timestamp(self.millis())
    }
}

impl Hydrate for Timestamp {
    fn hydrate_timestamp(t: i64) -> Result<Self, HydrateError> {
        Ok(Self::from_millis(t))
    }
}

/// A calendar day with no time zone (dates of birth, expiry dates, discharge dates).
/// Stored in documents as an ISO 8601 string, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(pub NaiveDate);

impl Day {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Self> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl Reconcile for Day {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_string())
    }
}

impl Hydrate for Day {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        Day::parse(s).ok_or_else(|| HydrateError::unexpected("a YYYY-MM-DD date", s.to_string()))
    }
}

/// Text that several people edit at once (plan goals, plan summaries). In the document it is
/// an automerge Text object: writing a new value records the smallest character edit from the
/// document's current text, so concurrent edits of different words both survive. Single-author
/// prose (a note's narrative) is a plain `String` instead and pays no per-character CRDT cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoText(String);

impl CoText {
    /// The current text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Replaces the text.
    pub fn set(&mut self, value: impl Into<String>) {
        self.0 = value.into();
    }
}

impl From<&str> for CoText {
    fn from(s: &str) -> Self {
        CoText(s.to_string())
    }
}

impl From<String> for CoText {
    fn from(s: String) -> Self {
        CoText(s)
    }
}

impl Serialize for CoText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CoText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(CoText)
    }
}

impl Reconcile for CoText {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        use autosurgeon::reconcile::TextReconciler;
        reconciler.text()?.update(&self.0)
    }
}

impl Hydrate for CoText {
    fn hydrate_text<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
    ) -> Result<Self, HydrateError> {
        Ok(CoText(doc.text(obj)?))
    }
}
