// The Android application object: owns the one Fieldnote store, its sync scheduler and the
// distress controller, and feeds connectivity changes to the scheduler. Everything it does
// is in the tested shell library; this file only wires Android to it.
package org.fieldnote.app

import android.app.Application
import android.content.Intent
import android.net.ConnectivityManager
import android.net.Network
import android.net.Uri
import android.telephony.SmsManager
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import org.fieldnote.android.DistressController
import org.fieldnote.android.FallbackDialer
import org.fieldnote.android.Fieldnote
import org.fieldnote.android.SyncScheduler

class FieldnoteApp : Application() {
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    lateinit var fieldnote: Fieldnote
    lateinit var scheduler: SyncScheduler
    lateinit var distress: DistressController

    override fun onCreate() {
        super.onCreate()
        fieldnote = Fieldnote(filesDir.resolve("store").path, KeystoreKeyProvider(this))
        scheduler = SyncScheduler(fieldnote)
        distress = DistressController(fieldnote, PhoneFallback(this))
        scope.launch { fieldnote.openSafety() }
        scheduler.start(scope)
        getSystemService(ConnectivityManager::class.java).registerDefaultNetworkCallback(
            object : ConnectivityManager.NetworkCallback() {
                override fun onAvailable(network: Network) {
                    scope.launch { scheduler.onConnectivity(true) }
                }

                override fun onLost(network: Network) {
                    scope.launch { scheduler.onConnectivity(false) }
                }
            },
        )
    }
}

/** Calls or texts the agency's on-call number (from the app's settings). */
class PhoneFallback(private val app: Application) : FallbackDialer {
    private val number: String
        get() = app.getSharedPreferences("settings", 0).getString("on_call_number", "") ?: ""

    override fun call(alarmId: String) {
        app.startActivity(
            Intent(Intent.ACTION_CALL, Uri.parse("tel:$number")).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK),
        )
    }

    override fun sendSilentSms(alarmId: String) {
        app.getSystemService(SmsManager::class.java)
            .sendTextMessage(number, null, "Fieldnote: silent alarm $alarmId, no acknowledgement", null, null)
    }
}
