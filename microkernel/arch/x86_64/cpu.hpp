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
