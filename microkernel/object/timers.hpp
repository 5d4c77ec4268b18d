// Timers for user mode: TimerSet asks for a TimerEvent message on a ring at a deadline. One
// kernel thread sleeps until the earliest deadline and posts what is due; each pending timer
// is charged to the quota of the process that set it.
#pragma once

#include "object/ring.hpp"

namespace mk::timers {

// Starts the timer thread (boot).
exo::Result<void> init();
// A timer set by process `owner` (an id), charged to `quota`.
exo::Result<void> add(uint64_t owner, Memory& quota, Ref<Ring> ring, uint64_t deadline_ns,
                      uint64_t cookie);
// The owner has ended: its pending timers go, and with them their rings and charges.
void cancel_owned_by(uint64_t owner);

} // namespace mk::timers
