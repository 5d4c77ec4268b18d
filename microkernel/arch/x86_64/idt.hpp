// The interrupt descriptor table (one, shared by every CPU) and interrupt dispatch.
#pragma once

#include "arch/x86_64/interrupt_frame.hpp"

#include <stdint.h>

namespace mk::idt {

// Vector allocation. 0-31: CPU exceptions; 32-47: the legacy PICs, remapped there and masked
// (only their spurious interrupts can arrive); 48-239: device interrupts; 240 and up: the local
// APIC's own sources and inter-processor interrupts.
namespace vector {
inline constexpr uint8_t kPicBase = 0x20;
inline constexpr uint8_t kFirstDevice = 0x30;
inline constexpr uint8_t kLastDevice = 0xEF;
inline constexpr uint8_t kTimer = 0xF0;
inline constexpr uint8_t kReschedule = 0xF1;
inline constexpr uint8_t kTlbShootdown = 0xF2;
inline constexpr uint8_t kApicError = 0xFE;
inline constexpr uint8_t kSpurious = 0xFF;
} // namespace vector

using Handler = void (*)(InterruptFrame& frame);

// Builds the table (boot CPU, once) and loads it.
void init();
// Loads the table on another CPU.
void load();
// Installs the handler of a vector >= 32. Handlers run with interrupts disabled, after the local
// APIC has been acknowledged, and may mark the CPU for rescheduling.
void set_handler(uint8_t vector, Handler handler);

// Hooks for exceptions the kernel resolves instead of reporting.
using ExceptionHook = bool (*)(InterruptFrame& frame); // true: handled, resume
void set_device_not_available_hook(ExceptionHook hook);

// "page fault", "divide error"…: the name of CPU exception `vector` (0-31).
const char* exception_name(uint64_t vector);

} // namespace mk::idt
