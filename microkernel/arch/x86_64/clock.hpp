// Monotonic boot-relative clock from the TSC, calibrated once against the PIT.
// Issue "Interrupts, time, SMP" replaces the calibration with CPUID/HPET where present.
#pragma once

#include <stdint.h>

namespace mk::clock {

void mark_boot();  // first instruction of kernel_main: the zero of every timestamp
void calibrate();  // measures the TSC frequency; until then now_ns() returns 0
uint64_t tsc_hz(); // 0 before calibration
uint64_t now_ns();

} // namespace mk::clock
