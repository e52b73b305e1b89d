// The Android app. Before building: `cargo ndk -t arm64-v8a -t x86_64 -o app/src/main/jniLibs
// build --release -p fieldnote-ffi` from the workspace root, then generate the Kotlin bindings
// into fieldnote/build/generated/uniffi.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.fieldnote.app"
    compileSdk = 35
    defaultConfig {
        applicationId = "org.fieldnote.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }
    buildFeatures { compose = false }
    kotlinOptions { allWarningsAsErrors = true }
}

dependencies {
    implementation(project(":fieldnote"))
    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.lifecycle:lifecycle-runtime-ktx:2.8.7")
    implementation("androidx.security:security-crypto:1.1.0-alpha06")
}
