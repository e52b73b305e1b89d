//! The uniffi bindings the Android (Kotlin) and iOS (Swift) shells call: one object,
//! [`FieldnoteStore`], over the core's encrypted store, the network client and the safety
//! database, with a small error type whose variants a screen can act on.
//!
//! This crate is an adapter and holds no domain rules: validation, deadlines, signatures
//! and sync all live in `fieldnote-core` and `fieldnote-client`. What it adds is what a phone
//! needs around them: an unlock gate with a lockout that survives restarts, an idle lock,
//! async entry points for network work, observers, and panics caught at the boundary.
//! `uniffi-bindgen` (its own workspace crate) generates the Kotlin and Swift from the built
//! library.

mod error;
mod gate;
mod policy;
mod records;
mod safety;
mod store;
mod types;
mod values;

pub use error::{FieldProblem, FieldnoteError, Outcome};
pub use policy::*;
pub use records::*;
pub use safety::{AlarmState, DistressKind, FallbackDue, GeoPoint, VisitView};
pub use store::{
    FieldnoteStore, ObserverHandle, StoreConfig, SyncObserver, default_store_config,
    diagnostic_panic,
};
pub use types::*;
pub use values::*;

uniffi::setup_scaffolding!();
