//! Fuzzes loading a record from stored chunks and applying an uploaded change, as the server
//! does with every change a device sends (`fieldnote_fuzz::document` says how an input maps
//! to chunks). Any outcome but a panic, a hang or runaway memory is fine.
//!
//! `Document` catches panics inside automerge and refuses the input; libfuzzer-sys's panic
//! hook would abort on those before they are caught, so it is replaced by one that only
//! prints the message. A panic that escapes `Document` still aborts the run (libfuzzer-sys
//! aborts on any panic that reaches it) and is reported as a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    },
    |data: &[u8]| {
        let _ = fieldnote_fuzz::document::run(data);
    }
);
