// FPU/SSE/AVX state (Intel SDM vol. 1 ch. 13, vol. 3A 13). Saved only for threads that use it:
// every thread starts with CR0.TS set, its first FPU/SSE instruction raises #NM, and the handler
// gives it a state area (one 4 KiB frame, 64-byte aligned) and from then on the switch saves it
// (XSAVEOPT, or XSAVE, or FXSAVE on CPUs without XSAVE) and restores it (XRSTOR/FXRSTOR).
#pragma once

#include <exo/result.hpp>
#include <stdint.h>

namespace mk {
struct Thread;
}

namespace mk::fpu {

// Boot CPU: enables SSE and XSAVE, chooses the state components (x87, SSE, AVX and AVX-512
// when present), installs the #NM handler. Secondary CPUs: the same control registers.
exo::Result<void> init_boot();
void init_secondary();

// Switch hooks, called with interrupts disabled.
void switch_out(Thread& prev); // saves prev's state if it has one
void switch_in(Thread& next);  // loads next's state, or sets CR0.TS so first use traps

// Frees the thread's state area (thread exit).
void release(Thread& thread);

const char* save_instruction(); // "xsaveopt", "xsave" or "fxsave"

} // namespace mk::fpu
