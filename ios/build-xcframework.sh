#!/usr/bin/env bash
# Builds FieldnoteCore.xcframework (device and simulator slices of the Rust library) and the
# Swift bindings, on a Mac with Xcode and rustup. Run from the workspace root or from ios/.
# Afterwards `swift build` here, or Xcode, uses them.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
rustup target add "${targets[@]}"
for t in "${targets[@]}"; do
  cargo build --locked --release -p fieldnote-ffi --target "$t"
done
cargo build --locked --release -p fieldnote-uniffi-bindgen
gen=target/swift-gen
rm -rf "$gen" && mkdir -p "$gen/headers"
target/release/uniffi-bindgen generate --library target/aarch64-apple-ios/release/libfieldnote_ffi.a \
  --language swift --out-dir "$gen"
cp "$gen/FieldnoteFFI.swift" ios/Sources/FieldnoteFFI/
cp "$gen/FieldnoteCoreFFI.h" "$gen/headers/"
cp "$gen/FieldnoteCoreFFI.modulemap" "$gen/headers/module.modulemap"
mkdir -p target/ios-sim
lipo -create target/aarch64-apple-ios-sim/release/libfieldnote_ffi.a \
  target/x86_64-apple-ios/release/libfieldnote_ffi.a -output target/ios-sim/libfieldnote_ffi.a
rm -rf ios/FieldnoteCore.xcframework
xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/release/libfieldnote_ffi.a -headers "$gen/headers" \
  -library target/ios-sim/libfieldnote_ffi.a -headers "$gen/headers" \
  -output ios/FieldnoteCore.xcframework
echo "ios/FieldnoteCore.xcframework and ios/Sources/FieldnoteFFI/FieldnoteFFI.swift are ready"
