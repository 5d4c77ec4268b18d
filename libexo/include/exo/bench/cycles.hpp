// x86-64 time-stamp counter clocks for the benchmark Runner (portable benchmark core, header
// only): serialized RDTSC reads, usable in ring 0, ring 3 and on the host alike.
#pragma once

#include <stdint.h>

namespace exo::bench {

// Intel SDM Vol. 2B, RDTSC: "If software requires RDTSC to be executed only after all previous
// instructions have executed and all previous loads are globally visible, it can execute LFENCE
// immediately before RDTSC. If software requires RDTSC to be executed prior to execution of any
// subsequent instruction (including any memory accesses), it can execute the sequence LFENCE
// immediately after RDTSC." (AMD documents LFENCE as dispatch-serializing to the same effect.)
// Both fences are used, so the same read can open and close a measured region: the region's code
// neither starts before the opening read nor is still running at the closing one. LFENCE is
// SSE2, present on every x86-64 CPU, so this works on any machine and any QEMU CPU model.
// Under `qemu -icount shift=0` the TSC counts guest instructions.
struct TscClock {
    static uint64_t now() {
        uint32_t lo, hi;
        asm volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
        return (uint64_t(hi) << 32) | lo;
    }
};

// The end of a region read with RDTSCP instead (Intel SDM Vol. 2B, RDTSCP: it "waits until all
// previous instructions have executed and all previous loads are globally visible", and "if
// software requires RDTSCP to be executed prior to execution of any subsequent instruction
// (including any memory accesses), it can execute LFENCE immediately after RDTSCP"). Needs
// CPUID.80000001H:EDX.RDTSCP[bit 27] (see rdtscp_supported); QEMU's default qemu64 model lacks
// it, so use TscClock there. The Runner calls start() and stop() when a clock has them.
struct TscpClock {
    static uint64_t now() { return TscClock::now(); }
    static uint64_t start() { return TscClock::now(); }
    static uint64_t stop() {
        uint32_t lo, hi, aux;
        asm volatile("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
        return (uint64_t(hi) << 32) | lo;
    }
};

// CPUID.80000001H:EDX[27] (Intel SDM Vol. 2A, CPUID, "Extended Function CPUID Information").
inline bool rdtscp_supported() {
    uint32_t eax = 0x80000000, ebx, ecx = 0, edx;
    asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    if (eax < 0x80000001)
        return false;
    eax = 0x80000001;
    ecx = 0;
    asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    return (edx >> 27) & 1;
}

} // namespace exo::bench
