//! Turning command-line words into model values while collecting every problem, so that a
//! command with several bad fields reports all of them at once, each with its field and
//! reason, together with the model's own validation of the rest.

use fieldnote_core::Error;
use fieldnote_core::model::{Day, FieldError, Modality, Program, Timestamp};

/// The reason given for an unknown program code.
pub const PROGRAM: &str = "use csp, csp_ji, tm, cares, bh_cp or ltss_cp";
/// The reason given for an unknown modality.
pub const MODALITY: &str =
    "use in_person, phone, telehealth, text, collateral or case_related_work";

/// Parses a word of the model's vocabulary (`in_person`, `supervisor`...).
pub fn vocabulary<T: serde::de::DeserializeOwned>(word: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(word.replace('-', "_"))).ok()
}

/// The problems found so far in one command's fields, and which fields failed to parse
/// (whose model field the placeholder value then stands in for).
#[derive(Default)]
pub struct Fields {
    errors: Vec<FieldError>,
    failed: Vec<&'static str>,
}

impl Fields {
    /// `value`, or a recorded error on `field` (reported under `field`; `model_field` is
    /// the model's name for it, whose validation errors are then left out).
    pub fn check<T>(
        &mut self,
        field: &str,
        model_field: &'static str,
        reason: &str,
        value: Option<T>,
    ) -> Option<T> {
        if value.is_none() {
            self.errors.push(FieldError {
                field: field.into(),
                reason: reason.into(),
            });
            self.failed.push(model_field);
        }
        value
    }

    /// A program code.
    pub fn program(&mut self, code: &str) -> Option<Program> {
        self.check("program", "program", PROGRAM, Program::from_code(code))
    }

    /// A word of a closed vocabulary (`reason` lists the words).
    pub fn word<T: serde::de::DeserializeOwned>(
        &mut self,
        field: &'static str,
        reason: &str,
        word: &str,
    ) -> Option<T> {
        self.check(field, field, reason, vocabulary(word))
    }

    /// A modality word.
    pub fn modality(&mut self, word: &str) -> Option<Modality> {
        self.check("modality", "modality", MODALITY, vocabulary(word))
    }

    /// A number of minutes.
    pub fn minutes(&mut self, text: &str) -> Option<u32> {
        self.check(
            "minutes",
            "duration_minutes",
            "use a whole number of minutes, e.g. 30",
            text.trim().parse().ok(),
        )
    }

    /// An RFC 3339 instant.
    pub fn instant(&mut self, field: &str, text: &str) -> Option<Timestamp> {
        self.check(
            field,
            "started_at",
            "use RFC 3339, e.g. 2026-11-25T14:30:00-05:00",
            Timestamp::parse(text),
        )
    }

    /// A calendar day.
    pub fn day(&mut self, field: &str, model_field: &'static str, text: &str) -> Option<Day> {
        self.check(field, model_field, "use YYYY-MM-DD", Day::parse(text))
    }

    /// Adds the model's validation errors, leaving out those on fields that did not parse
    /// (they were checked on a placeholder).
    pub fn validated(&mut self, errors: Vec<FieldError>) {
        self.errors.extend(
            errors
                .into_iter()
                .filter(|e| !self.failed.contains(&e.field.as_str())),
        );
    }

    /// Whether nothing was found so far.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` when nothing was found, else every problem as one [`Error::Invalid`] of `kind`.
    pub fn finish(self, kind: &'static str) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                kind,
                errors: self.errors,
            })
        }
    }
}
