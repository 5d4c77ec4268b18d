// Boot-CPU GDT and TSS. The SMP issue makes these per-CPU.
#include "arch/x86_64/gdt.hpp"

#include "arch/x86_64/cpu.hpp"

#include <stddef.h>

namespace mk::gdt {
namespace {

struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

constexpr size_t kIstStackSize = 16384;
alignas(16) constinit uint8_t double_fault_stack[kIstStackSize] = {};
constinit Tss tss = {};

// null, kernel code, kernel data, user data, user code, TSS (two slots).
constinit uint64_t table[7] = {
    0,
    0x00AF9A000000FFFF, // 0x08: 64-bit code, DPL 0
    0x00CF92000000FFFF, // 0x10: data, DPL 0
    0x00CFF2000000FFFF, // 0x18: data, DPL 3 (sysret order: user data before user code)
    0x00AFFA000000FFFF, // 0x20: 64-bit code, DPL 3
    0,
    0,
};

} // namespace

void init() {
    tss.ist[kDoubleFaultIst - 1] = reinterpret_cast<uint64_t>(double_fault_stack + kIstStackSize);
    tss.iomap_base = sizeof(Tss); // no I/O bitmap: every port access from ring 3 faults
    uint64_t base = reinterpret_cast<uint64_t>(&tss);
    uint64_t limit = sizeof(Tss) - 1;
    // 64-bit available TSS descriptor (type 9, present), SDM vol. 3A 7.2.3.
    table[5] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
               (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    table[6] = base >> 32;

    cpu::DescriptorTablePointer pointer{sizeof table - 1, reinterpret_cast<uint64_t>(table)};
    asm volatile("lgdt %0\n\t"
                 "pushq %1\n\t"
                 "leaq 1f(%%rip), %%rax\n\t"
                 "pushq %%rax\n\t"
                 "lretq\n"
                 "1:\n\t"
                 "movw %2, %%ax\n\t"
                 "movw %%ax, %%ds\n\t"
                 "movw %%ax, %%es\n\t"
                 "movw %%ax, %%ss\n\t"
                 "ltr %3"
                 :
                 : "m"(pointer), "i"(uint64_t(kKernelCode)), "i"(kKernelData), "r"(kTss)
                 : "rax", "memory");
}

} // namespace mk::gdt
