//! `uniffi-bindgen`: generates the Kotlin and Swift bindings from the built `fieldnote-ffi`
//! library (`uniffi-bindgen generate --library target/debug/libfieldnote_ffi.so ...`). It is
//! its own crate so the phone library never compiles the generator's dependencies, and its
//! uniffi version is pinned to the library's.

fn main() {
    uniffi::uniffi_bindgen_main()
}
