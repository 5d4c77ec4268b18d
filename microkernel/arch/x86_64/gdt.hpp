// GDT and TSS (Intel SDM vol. 3A 3.4.5, 7.7), one pair per CPU: kernel and user segments, and
// a TSS whose interrupt stack table gives the double-fault, NMI and machine-check handlers
// stacks of their own (they may arrive on a broken or overflowing stack).
#pragma once

#include "arch/x86_64/percpu.hpp"

#include <exo/result.hpp>
#include <stdint.h>

namespace mk::gdt {

inline constexpr uint16_t kKernelCode = 0x08;
inline constexpr uint16_t kKernelData = 0x10;
inline constexpr uint16_t kUserData = 0x18 | 3;
inline constexpr uint16_t kUserCode = 0x20 | 3;
inline constexpr uint16_t kTss = 0x28;
inline constexpr uint8_t kDoubleFaultIst = 1;
inline constexpr uint8_t kNmiIst = 2;
inline constexpr uint8_t kMachineCheckIst = 3;

// The boot CPU, before memory management: its IST stacks are static.
void init_boot(Cpu& cpu);
// Another CPU, on the boot CPU: its IST stacks come from guarded kernel stacks.
exo::Result<void> prepare_secondary(Cpu& cpu);
// On the CPU itself: builds and loads its GDT, TSS and segment registers (GS_BASE kept).
void load(Cpu& cpu);

// Gives ring 3 the ports whose bits are clear in `bitmap` (kIoBitmapBytes - 1 bytes), or closes
// every port (null). `key` names the bitmap's owner and version: nothing is copied when the
// CPU already holds that key.
void load_io_bitmap(Cpu& cpu, uint64_t key, const uint8_t* bitmap);

} // namespace mk::gdt
