// Per-CPU GDT and TSS.
#include "arch/x86_64/gdt.hpp"

#include "mm/kernel_stack.hpp"

#include <stddef.h>

namespace mk::gdt {
namespace {

constexpr size_t kIstStackSize = 16384;
alignas(16) constinit uint8_t boot_ist_stacks[3][kIstStackSize] = {};

// null, kernel code, kernel data, user data, user code, TSS (two slots).
constexpr uint64_t kTemplate[5] = {
    0,
    0x00AF9A000000FFFF, // 0x08: 64-bit code, DPL 0
    0x00CF92000000FFFF, // 0x10: data, DPL 0
    0x00CFF2000000FFFF, // 0x18: data, DPL 3 (sysret order: user data before user code)
    0x00AFFA000000FFFF, // 0x20: 64-bit code, DPL 3
};

void set_ist(Cpu& cpu, const uint64_t ist_tops[3]) {
    cpu.tss.ist[kDoubleFaultIst - 1] = ist_tops[0];
    cpu.tss.ist[kNmiIst - 1] = ist_tops[1];
    cpu.tss.ist[kMachineCheckIst - 1] = ist_tops[2];
}

} // namespace

void load(Cpu& cpu) {
    for (int i = 0; i < 5; ++i)
        cpu.gdt[i] = kTemplate[i];
    // The I/O bitmap follows the TSS and starts all ones: every port access from ring 3 faults
    // until a process that holds ports runs here (load_io_bitmap).
    cpu.tss.iomap_base = sizeof(Tss);
    __builtin_memset(cpu.io_bitmap, 0xFF, kIoBitmapBytes);
    cpu.io_bitmap_key = 0;
    uint64_t base = reinterpret_cast<uint64_t>(&cpu.tss);
    uint64_t limit = sizeof(Tss) + kIoBitmapBytes - 1;
    // 64-bit available TSS descriptor (type 9, present), SDM vol. 3A 7.2.3.
    cpu.gdt[5] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
                 (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    cpu.gdt[6] = base >> 32;

    // Loading a segment register rewrites GS_BASE with the descriptor's base: keep ours.
    uint64_t gs_base = cpu::read_msr(cpu::msr::kGsBase);
    cpu::DescriptorTablePointer pointer{sizeof cpu.gdt - 1, reinterpret_cast<uint64_t>(cpu.gdt)};
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
                 "xorl %%eax, %%eax\n\t"
                 "movw %%ax, %%fs\n\t"
                 "movw %%ax, %%gs\n\t"
                 "ltr %3"
                 :
                 : "m"(pointer), "i"(uint64_t(kKernelCode)), "i"(kKernelData), "r"(kTss)
                 : "rax", "memory");
    cpu::write_msr(cpu::msr::kGsBase, gs_base);
}

void load_io_bitmap(Cpu& cpu, uint64_t key, const uint8_t* bitmap) {
    if (bitmap == nullptr)
        key = 0;
    if (cpu.io_bitmap_key == key)
        return;
    cpu.io_bitmap_key = key;
    if (bitmap == nullptr)
        __builtin_memset(cpu.io_bitmap, 0xFF, kIoBitmapBytes - 1);
    else
        __builtin_memcpy(cpu.io_bitmap, bitmap, kIoBitmapBytes - 1);
}

void init_boot(Cpu& cpu) {
    uint64_t tops[3];
    for (int i = 0; i < 3; ++i)
        tops[i] = reinterpret_cast<uint64_t>(boot_ist_stacks[i] + kIstStackSize);
    set_ist(cpu, tops);
    load(cpu);
}

exo::Result<void> prepare_secondary(Cpu& cpu) {
    uint64_t tops[3];
    for (int i = 0; i < 3; ++i)
        tops[i] = TRY(allocate_kernel_stack()).top;
    set_ist(cpu, tops);
    return {};
}

} // namespace mk::gdt
