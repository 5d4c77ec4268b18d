// GDT and TSS (Intel SDM vol. 3A 3.4.5, 7.7): kernel and user segments, and the TSS whose
// interrupt stack table gives the double-fault handler a stack of its own.
#pragma once

#include <stdint.h>

namespace mk::gdt {

inline constexpr uint16_t kKernelCode = 0x08;
inline constexpr uint16_t kKernelData = 0x10;
inline constexpr uint16_t kTss = 0x28;
inline constexpr uint8_t kDoubleFaultIst = 1;

// Replaces the boot GDT, loads the TSS. The double-fault stack is static, so this cannot fail.
void init();

} // namespace mk::gdt
