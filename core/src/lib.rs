//! Fieldnote's shared core: the record model, the encrypted offline store, the automerge
//! documents records live in, and the signature events that make notes and plans final.
//!
//! The core knows nothing of HTTP, uniffi or an async runtime: the FFI crate, the CLI and the
//! server are adapters over it.

pub mod model;

pub use model::*;
pub mod access;
pub mod attest;
pub mod commands;
pub mod disclosure;
pub mod document;
pub mod error;
pub mod policy;
pub mod rules;
pub mod signing;
pub mod store;
pub mod synthetic;

pub use attest::{Attestation, AttestationKind, ReviewState, Signer};
pub use error::{Error, Result};
pub use store::{OpenReport, Record, Store, StoreKey};
