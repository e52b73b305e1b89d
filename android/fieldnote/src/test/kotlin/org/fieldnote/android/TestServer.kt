// A real fieldnote-server on loopback for the JVM tests, started from the binary the Rust
// build produced, with the synthetic demo agency. Also runs the real `fieldnote` CLI as a
// supervisor, to see from the server's side what the shell sent.
package org.fieldnote.android

import java.io.ByteArrayOutputStream
import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.net.URLEncoder
import java.nio.ByteBuffer
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

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

    /**
     * A CLI store signed in as the north team's supervisor, whose device registration needs
     * an authenticator code: the authenticator is enrolled through the console's first
     * sign-in, then the CLI signs in with the next step's code (each step is taken once).
     */
    fun supervisor(): File {
        val dir = Files.createTempDirectory("fieldnote-kotlin-supervisor").toFile()
        val secret = enrollAuthenticator(start(), "supervisor.north")
        val step = System.currentTimeMillis() / 1000 / 30 + 1
        cli(dir, "login", "--server", start(), "--user", "supervisor.north", "--code", totp(secret, step))
        return dir
    }

    private fun enrollAuthenticator(url: String, user: String): String {
        fun form(vararg pairs: Pair<String, String>) =
            pairs.joinToString("&") { (k, v) -> k + "=" + URLEncoder.encode(v, "UTF-8") }
        fun post(path: String, body: String, cookie: String?): HttpURLConnection {
            val c = URI(url + path).toURL().openConnection() as HttpURLConnection
            c.instanceFollowRedirects = false
            c.requestMethod = "POST"
            c.doOutput = true
            c.setRequestProperty("content-type", "application/x-www-form-urlencoded")
            if (cookie != null) c.setRequestProperty("cookie", cookie)
            c.outputStream.use { it.write(body.toByteArray()) }
            return c
        }
        val login = post("/console/login", form("username" to user, "password" to PASSWORD), null)
        check(login.responseCode == 303) { "console sign-in of $user: ${login.responseCode}" }
        val cookie = login.headerFields.entries
            .filter { it.key.equals("set-cookie", ignoreCase = true) }
            .flatMap { it.value }
            .map { it.substringBefore(';') }
            .first { it.startsWith("fieldnote_console=") }
        val page = URI("$url/console/mfa").toURL().openConnection() as HttpURLConnection
        page.setRequestProperty("cookie", cookie)
        val html = page.inputStream.bufferedReader().readText()
        val secret = html.substringAfter("id=\"totp-secret\">").substringBefore("<").trim()
        val csrf = html.substringAfter("name=\"csrf\" value=\"").substringBefore("\"")
        val step = System.currentTimeMillis() / 1000 / 30
        val done = post("/console/mfa", form("csrf" to csrf, "code" to totp(secret, step)), cookie)
        check(done.responseCode == 303) { "enrollment of $user: ${done.responseCode}" }
        return secret
    }

    /** The RFC 6238 code (HMAC-SHA1, 6 digits) of a base32 [secret] at 30-second [step]. */
    private fun totp(secret: String, step: Long): String {
        val alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        var bits = 0
        var value = 0
        val key = ByteArrayOutputStream()
        for (ch in secret.uppercase().trimEnd('=')) {
            value = (value shl 5) or alphabet.indexOf(ch)
            bits += 5
            if (bits >= 8) {
                key.write((value shr (bits - 8)) and 0xff)
                bits -= 8
            }
        }
        val mac = Mac.getInstance("HmacSHA1")
        mac.init(SecretKeySpec(key.toByteArray(), "HmacSHA1"))
        val hash = mac.doFinal(ByteBuffer.allocate(8).putLong(step).array())
        val offset = hash[hash.size - 1].toInt() and 0x0f
        val binary = ByteBuffer.wrap(hash, offset, 4).int and 0x7fffffff
        return "%06d".format(binary % 1_000_000)
    }
}
