// The local APIC (Intel SDM vol. 3A ch. 11) in x2APIC mode (MSRs) when the CPU has it, xAPIC
// (MMIO) otherwise; its timer, in TSC-deadline mode when present, one-shot otherwise; IPIs.
// The legacy 8259 PICs are remapped out of the exception range and masked.
#pragma once

#include <exo/result.hpp>
#include <stdint.h>

namespace mk::apic {

// Boot CPU: masks the PICs, picks the mode, maps the registers (xAPIC), enables this CPU's APIC
// and calibrates the timer.
exo::Result<void> init_boot();
// Another CPU: enables its APIC in the mode the boot CPU chose.
void init_secondary();

uint32_t id();
bool x2apic();
void end_of_interrupt();

// Inter-processor interrupts (fixed delivery, physical destination).
void send_ipi(uint32_t apic_id, uint8_t vector);
void send_nmi_to_others();
// INIT and STARTUP (vector = the 4 KiB page of the real-mode entry) for AP start (SDM 8.4.4.1).
void send_init(uint32_t apic_id);
void send_startup(uint32_t apic_id, uint8_t page);

// Timer. One interrupt on idt::vector::kTimer when the monotonic clock reaches `deadline_ns`
// (a past deadline fires at once). A later arm replaces an earlier one.
void timer_arm(uint64_t deadline_ns);
void timer_stop();

} // namespace mk::apic
