// When to sync is decided in the Rust core (fieldnote_core::policy), exported as
// org.fieldnote.ffi.SyncScheduleMachine: soon after a write, at once when the network
// returns, every so often while online, and after failures a doubling backoff with jitter.
// The iOS shell asks the same machine, so both phones decide alike; SyncScheduler only runs
// its timer around it.
package org.fieldnote.android

import kotlin.random.Random
import org.fieldnote.ffi.SyncPolicyConfig
import org.fieldnote.ffi.SyncScheduleMachine
import org.fieldnote.ffi.defaultSyncPolicyConfig

/**
 * A sync schedule with [config] (defaults documented in the README). [seed] drives the
 * backoff's jitter: random by default, so phones that failed together do not retry together;
 * tests pass a fixed one.
 */
fun syncPolicy(
    config: SyncPolicyConfig = defaultSyncPolicyConfig(),
    seed: ULong = Random.nextLong().toULong(),
): SyncScheduleMachine = SyncScheduleMachine(config, seed)
