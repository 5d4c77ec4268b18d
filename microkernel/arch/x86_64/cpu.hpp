// Thin wrappers over x86-64 instructions the kernel needs (Intel SDM vol. 2). Ring 0 only.
#pragma once

#include <stdint.h>

namespace mk::cpu {

inline void outb(uint16_t port, uint8_t v) {
    asm volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
inline void outl(uint16_t port, uint32_t v) {
    asm volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

// rdtsc is not ordered with respect to earlier instructions; lfence makes it wait for them
// (SDM vol. 2B, RDTSC), so a timestamp never predates the work it closes.
inline uint64_t rdtsc_ordered() {
    uint32_t lo, hi;
    asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return (uint64_t(hi) << 32) | lo;
}

inline void pause() {
    asm volatile("pause");
}
inline void disable_interrupts() {
    asm volatile("cli" ::: "memory");
}
inline void enable_interrupts() {
    asm volatile("sti" ::: "memory");
}
// Enables interrupts and halts in one step (sti's one-instruction shadow): an interrupt that
// arrives between the two still wakes the hlt.
inline void enable_interrupts_and_halt() {
    asm volatile("sti; hlt" ::: "memory");
}

[[noreturn]] inline void halt_forever() {
    for (;;)
        asm volatile("cli; hlt");
}

#define MK_READ_CR(n)                                                                              \
    inline uint64_t read_cr##n() {                                                                 \
        uint64_t v;                                                                                \
        asm volatile("mov %%cr" #n ", %0" : "=r"(v));                                              \
        return v;                                                                                  \
    }
MK_READ_CR(0)
MK_READ_CR(2)
MK_READ_CR(3)
MK_READ_CR(4)
#undef MK_READ_CR

inline uint64_t read_rflags() {
    uint64_t v;
    asm volatile("pushfq; popq %0" : "=r"(v));
    return v;
}
inline constexpr uint64_t kRflagsInterrupts = 1 << 9;

inline bool interrupts_enabled() {
    return read_rflags() & kRflagsInterrupts;
}
// Disables interrupts and returns whether they were enabled, for restore_interrupts().
inline bool save_and_disable_interrupts() {
    bool was = interrupts_enabled();
    disable_interrupts();
    return was;
}
inline void restore_interrupts(bool enabled) {
    if (enabled)
        enable_interrupts();
}

inline void write_cr0(uint64_t v) {
    asm volatile("mov %0, %%cr0" ::"r"(v) : "memory");
}
inline void write_cr3(uint64_t v) {
    asm volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}
inline void write_cr4(uint64_t v) {
    asm volatile("mov %0, %%cr4" ::"r"(v) : "memory");
}
inline constexpr uint64_t kCr0TaskSwitched = 1 << 3;
inline constexpr uint64_t kCr0MonitorCoprocessor = 1 << 1;
inline constexpr uint64_t kCr0Emulation = 1 << 2;
inline constexpr uint64_t kCr4Osfxsr = 1 << 9, kCr4Osxmmexcpt = 1 << 10, kCr4Osxsave = 1 << 18;

inline uint64_t read_msr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t(hi) << 32) | lo;
}
inline void write_msr(uint32_t msr, uint64_t v) {
    asm volatile("wrmsr" ::"c"(msr), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)) : "memory");
}
namespace msr {
inline constexpr uint32_t kApicBase = 0x1B;
inline constexpr uint32_t kTscDeadline = 0x6E0;
inline constexpr uint32_t kEfer = 0xC0000080;
inline constexpr uint32_t kGsBase = 0xC0000101;
inline constexpr uint32_t kKernelGsBase = 0xC0000102;
} // namespace msr

inline void write_xcr0(uint64_t v) {
    asm volatile("xsetbv" ::"c"(0), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)));
}

// Operand of lgdt/lidt (Intel SDM vol. 3A 3.5.1, 6.10).
struct [[gnu::packed]] DescriptorTablePointer {
    uint16_t limit;
    uint64_t base;
};

struct CpuidResult {
    uint32_t eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid"
                 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                 : "a"(leaf), "c"(subleaf));
    return r;
}

} // namespace mk::cpu
