// Per-CPU data, reached through GS: GS_BASE holds the address of this CPU's Cpu, whose first
// word points to itself, so `mov %gs:0, %reg` yields it in one instruction.
#pragma once

#include "arch/x86_64/cpu.hpp"

#include <atomic>
#include <stddef.h>
#include <stdint.h>

namespace mk {

struct Thread;

inline constexpr uint32_t kMaxCpus = 64;

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

// The I/O permission bitmap that follows the TSS (Intel SDM vol. 1 19.5.2): one bit per port,
// plus the terminating 0xFF byte the CPU may read past the last port.
inline constexpr uint32_t kIoBitmapBytes = 65536 / 8 + 1;

struct Cpu {
    Cpu* self; // gs:0
    // gs:8 and gs:16, used by the syscall entry (syscall/entry.S): the user stack pointer while
    // the entry switches stacks, and the top of the current thread's kernel stack.
    uint64_t scratch_rsp;
    uint64_t kernel_rsp;
    uint32_t index;
    uint32_t apic_id;
    Thread* current;
    Thread* idle;
    std::atomic<bool> online;
    // Set when the running thread should give way at the next preemption point (interrupt
    // return); the scheduler and the reschedule IPI set it.
    bool need_resched;
    // Nesting depth of interrupt handlers on this CPU (0 in thread context).
    uint32_t interrupt_depth;
    uint64_t interrupts;    // handled on this CPU, all vectors
    uint64_t timer_ticks;   // timer interrupts
    uint64_t cr3;           // the address space loaded on this CPU (physical root)
    uint64_t io_bitmap_key; // which process's ports io_bitmap holds (0: all ports closed)
    alignas(8) uint64_t gdt[7];
    Tss tss;
    uint8_t io_bitmap[kIoBitmapBytes]; // must follow tss: iomap_base is relative to it
};
static_assert(offsetof(Cpu, scratch_rsp) == 8 && offsetof(Cpu, kernel_rsp) == 16);
static_assert(offsetof(Cpu, io_bitmap) == offsetof(Cpu, tss) + sizeof(Tss));

// The Cpu of the processor running this code. Stable only while this thread cannot migrate
// (interrupts disabled or the thread pinned).
inline Cpu& this_cpu() {
    Cpu* cpu;
    asm volatile("movq %%gs:0, %0" : "=r"(cpu));
    return *cpu;
}

namespace percpu {

Cpu& cpu(uint32_t index);
uint32_t count(); // CPUs known (online or being started)
uint32_t online_count();
// Makes `cpu` the current CPU's data: GS_BASE, self pointer.
void install(Cpu& cpu, uint32_t index, uint32_t apic_id);
// Registers a CPU slot; returns its index or kMaxCpus when full.
uint32_t add(uint32_t apic_id);

} // namespace percpu
} // namespace mk
