//! The record model for every program the product serves (CSP, CSP-JI, TM, CARES, Community
//! Partners), in the specifications' own vocabulary. Each record kind carries what the program
//! rules in `RULES.md` need; [`RecordBody`] is the closed set of kinds a store holds.
//!
//! Field types follow how a field is edited: single-author prose is a `String` (one value,
//! last writer wins), text that worker and supervisor co-edit is [`CoText`] (a text CRDT),
//! lists whose items are edited independently are keyed by a stable id.

mod assessment;
mod common;
mod consent;
mod contact;
mod member;
mod override_;
mod plan;
mod record;
mod safety;
mod staff;
mod values;

pub use assessment::*;
pub use common::*;
pub use consent::*;
pub use contact::*;
pub use member::*;
pub use override_::*;
pub use plan::*;
pub use record::*;
pub use safety::*;
pub use staff::*;
pub use values::*;
