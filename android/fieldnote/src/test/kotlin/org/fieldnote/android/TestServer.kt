// A real fieldnote-server on loopback for the JVM tests, started from the binary the Rust
// build produced, with the synthetic demo agency. Also runs the real `fieldnote` CLI as a
// supervisor, to see from the server's side what the shell sent.
package org.fieldnote.android

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.nio.file.Files
import java.util.concurrent.TimeUnit

object TestServer {
    const val PASSWORD = "fieldnote-demo-password"
    private val serverBin = System.getProperty("fieldnote.server.bin") ?: error("fieldnote.server.bin not set")
    private val cliBin = System.getProperty("fieldnote.cli.bin") ?: error("fieldnote.cli.bin not set")
    private var process: Process? = null
    lateinit var url: String
    private val dataDir: File = Files.createTempDirectory("fieldnote-kotlin-server").toFile()

    @Synchronized
    fun start(): String {
        if (process != null) return url
        val port = ServerSocket(0).use { it.localPort }
        url = "http://127.0.0.1:$port"
        val p = ProcessBuilder(serverBin, "--demo", "--listen", "127.0.0.1:$port", "--data-dir", dataDir.path)
            .redirectErrorStream(true)
            .redirectOutput(File(dataDir, "server.log"))
            .start()
        process = p
        Runtime.getRuntime().addShutdownHook(Thread { p.destroy(); p.waitFor(10, TimeUnit.SECONDS) })
        val deadline = System.currentTimeMillis() + 120_000
        while (System.currentTimeMillis() < deadline) {
            check(p.isAlive) { "the server exited: " + File(dataDir, "server.log").readText() }
            try {
                val c = URI("$url/health").toURL().openConnection() as HttpURLConnection
                c.connectTimeout = 500
                if (c.responseCode == 200 && demoSeeded()) return url
            } catch (_: Exception) {
            }
            Thread.sleep(200)
        }
        error("the server did not start in 120 s")
    }

    /** The demo users exist once the server logs its demo banner. */
    private fun demoSeeded(): Boolean = File(dataDir, "server.log").readText().contains("worker1.north")

    /** Runs the CLI with a store of its own; returns stdout, failing on a non-zero exit. */
    fun cli(store: File, vararg args: String): String {
        val p = ProcessBuilder(listOf(cliBin, "--store", store.path) + args)
            .apply { environment()["FIELDNOTE_PASSWORD"] = PASSWORD }
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0) { "fieldnote ${args.joinToString(" ")} failed: $out" }
        return out.trim()
    }

    /** A CLI store signed in as the north team's supervisor. */
    fun supervisor(): File {
        val dir = Files.createTempDirectory("fieldnote-kotlin-supervisor").toFile()
        cli(dir, "login", "--server", start(), "--user", "supervisor.north")
        return dir
    }
}
