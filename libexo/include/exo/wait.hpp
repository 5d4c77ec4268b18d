// Waiting for a process or a thread to end, in ring 3: each call watches its target with a
// private event ring (ProcessWatch, ThreadWatch) and sleeps on it, so the kernel needs no
// blocking wait of its own. The ring and its mapping are gone again when the call returns.
#pragma once

#include <exo/caps.hpp>
#include <exo/ring.hpp>
#include <exo/status.hpp>

namespace exo {

// Deadlines are absolute, in sys::clock_ns() nanoseconds (ring::kNoDeadline: none). Each call
// briefly holds a one-page ring charged to kSlotMemory (NoMemory if that does not fit).
// Ok once the target has ended; TimedOut at the deadline; BadState if it is already watched (a
// process or thread has one watcher, which may be a server's event ring: that ring's events
// say the same); else the status ProcessWatch or ThreadWatch gave (WrongType, AccessDenied,
// NotFound, OutOfRange for a bad capability).

// Waits until `process` has ended (exited, faulted or been killed); its exit record goes to
// `*out` unless `out` is null.
// A process never started ends only when it is killed.
Status wait_process(Slot process, uint64_t deadline_ns, ExitInfo* out);

// Waits until `thread` has ended and the kernel has freed its stack, so its quota no longer
// holds it. A thread never started never ends: only the deadline ends that wait.
Status wait_thread(Slot thread, uint64_t deadline_ns);

} // namespace exo
