// I/O APICs (Intel 82093AA datasheet; ACPI MADT type 1 entries): every redirection entry is
// masked at boot; drivers route a global system interrupt (GSI) to a vector on a CPU.
#pragma once

#include "lib/acpi.hpp"

#include <exo/result.hpp>
#include <stdint.h>

namespace mk::ioapic {

// Maps every I/O APIC the MADT lists and masks all of their inputs.
exo::Result<void> init(const acpi::Topology& topology);

// Routes `gsi` to `vector` on the CPU with `apic_id` (fixed delivery, physical destination),
// with the polarity and trigger of MPS INTI `flags` (ISA defaults for "conforms"), unmasked.
// NotFound: no I/O APIC serves that GSI.
exo::Result<void> route(uint32_t gsi, uint8_t vector, uint32_t apic_id, uint16_t flags);
// Masks or unmasks a routed input (the user-mode IRQ path masks a line until it is acknowledged).
exo::Result<void> set_masked(uint32_t gsi, bool masked);
// Whether an I/O APIC serves `gsi`.
bool serves(uint32_t gsi);
// The GSI and MPS INTI flags of legacy line `line`: an ISA IRQ (0-15) through the MADT's
// interrupt source overrides, any other line as the GSI of the same number.
void line_to_gsi(uint32_t line, uint32_t& gsi, uint16_t& flags);

} // namespace mk::ioapic
