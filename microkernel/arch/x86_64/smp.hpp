// Multiprocessor bring-up and cross-CPU requests: starting the application processors the ACPI
// MADT reports (INIT-SIPI-SIPI), TLB shootdowns, stopping every CPU on panic.
#pragma once

#include <stdint.h>

namespace mk::smp {

// Starts the CPUs with these local APIC IDs (the boot CPU's own ID is skipped), one at a time;
// each ends in the scheduler's idle loop. Returns how many came online.
uint32_t start_secondary_cpus(const uint32_t* apic_ids, uint32_t count);

// Invalidates `pages` kernel pages from `virt` on this CPU and every other online CPU (one IPI
// round for the whole range), and waits until all have.
// With other CPUs online it requires interrupts enabled (it waits for CPUs that may be waiting
// for this one).
void shootdown(uint64_t virt, uint64_t pages = 1);

// Stops every other CPU with an NMI (the panic path).
void stop_other_cpus();

// Installs the shootdown handler (boot CPU, once).
void init();

} // namespace mk::smp
