//! Program rules: the clocks MassHealth's specifications set, evaluated offline from local
//! records. This module holds the calendar, clock and status semantics of `RULES.md`; the
//! rule catalog and per-member evaluation build on them.

pub mod calendar;
pub mod clock;

pub use clock::{Clock, Status, status};
