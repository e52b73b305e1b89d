// Keeps the process alive during a visit so check-in reminders and the distress path work
// with the screen off; shows the ongoing notification Android requires.
package org.fieldnote.app

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.Service
import android.content.Intent
import android.os.IBinder

class VisitService : Service() {
    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        val manager = getSystemService(NotificationManager::class.java)
        manager.createNotificationChannel(NotificationChannel("visit", "Visit in progress", NotificationManager.IMPORTANCE_LOW))
        val notification = Notification.Builder(this, "visit")
            .setContentTitle("Visit in progress")
            .setSmallIcon(android.R.drawable.ic_dialog_info)
            .setOngoing(true)
            .build()
        startForeground(1, notification)
        return START_STICKY
    }
}
