// The Android build: `fieldnote` is the shell's whole logic (plain Kotlin, tested on the JVM
// by scripts/kotlin-tests); `app` is the thin Android app over it. Building `app` needs the
// Android SDK, Gradle and cargo-ndk on a workstation (see the README).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "fieldnote-android"
include(":fieldnote", ":app")
