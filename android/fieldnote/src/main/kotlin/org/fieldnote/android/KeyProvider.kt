// The store key comes from the platform, never from Kotlin code: on Android a random
// 32-byte key wrapped by an Android Keystore key (see the app's KeystoreKeyProvider).
package org.fieldnote.android

/** Supplies the 32-byte store key. Android implements it with the Android Keystore. */
fun interface KeyProvider {
    /** The key. Called on unlock; the caller wipes the array after use. */
    fun storeKey(): ByteArray
}

/** Now, in milliseconds since the epoch. Tests pass a clock they move by hand. */
fun interface Clock {
    /** The current time in ms. */
    fun nowMs(): Long

    companion object {
        /** The system clock. */
        val SYSTEM: Clock = Clock { System.currentTimeMillis() }
    }
}
