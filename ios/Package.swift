// swift-tools-version:5.9
// The iOS shell: the generated bindings (FieldnoteFFI) over the Rust core, the shell's logic
// (Fieldnote: async/await wrappers, Keychain key provider, sync policy, distress controller)
// and SwiftUI screens (FieldnoteUI, Apple platforms only).
//
// On Apple platforms the Rust library comes from FieldnoteCore.xcframework
// (build-xcframework.sh on a Mac). On Linux, scripts/swift-tests puts the generated header and
// module map in Sources/FieldnoteCoreFFI and links libfieldnote_ffi.so from the Rust build.
import PackageDescription

#if os(Linux)
let core: Target = .systemLibrary(name: "FieldnoteCoreFFI", path: "Sources/FieldnoteCoreFFI")
#else
let core: Target = .binaryTarget(name: "FieldnoteCoreFFI", path: "FieldnoteCore.xcframework")
#endif

let package = Package(
    name: "Fieldnote",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "Fieldnote", targets: ["Fieldnote"]),
        .library(name: "FieldnoteUI", targets: ["FieldnoteUI"]),
    ],
    targets: [
        core,
        .target(name: "FieldnoteFFI", dependencies: ["FieldnoteCoreFFI"], path: "Sources/FieldnoteFFI",
                exclude: ["README.md"]),
        .target(name: "Fieldnote", dependencies: ["FieldnoteFFI"]),
        .target(name: "FieldnoteUI", dependencies: ["Fieldnote"]),
        .testTarget(name: "FieldnoteTests", dependencies: ["Fieldnote"]),
    ]
)
