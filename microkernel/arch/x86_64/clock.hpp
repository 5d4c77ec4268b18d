// Monotonic boot-relative clock from the TSC (invariant and synchronized across CPUs on the
// machines we target; QEMU's is), its frequency from CPUID or calibrated against the PIT.
#pragma once

#include <stdint.h>

namespace mk::clock {

void mark_boot();  // first instruction of kernel_main: the zero of every timestamp
void calibrate();  // measures the TSC frequency; until then now_ns() returns 0
uint64_t tsc_hz(); // 0 before calibration
uint64_t now_ns();
uint64_t tsc_at(uint64_t ns); // the TSC value at boot-relative time ns (0 before calibration)

} // namespace mk::clock
