// The shell library: the generated uniffi bindings plus the shell's logic. The bindings are
// generated into build/generated/uniffi by `uniffi-bindgen generate --library ...`
// (scripts/kotlin-tests shows the exact command).
plugins {
    id("org.jetbrains.kotlin.jvm")
}

kotlin {
    jvmToolchain(17)
    compilerOptions { allWarningsAsErrors.set(true) }
    sourceSets["main"].kotlin.srcDir("build/generated/uniffi")
}

dependencies {
    implementation("net.java.dev.jna:jna:5.13.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.8.0")
    testImplementation("junit:junit:4.13.2")
}
