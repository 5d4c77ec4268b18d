// Kernel stacks with an unmapped guard page below each, in their own region of the upper half,
// so that an overflow faults on the guard and is reported as such instead of corrupting memory.
#pragma once

#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>

namespace mk {

inline constexpr uint64_t kKernelStackRegion = 0xFFFFFF0000000000ull;
inline constexpr uint64_t kKernelStackPages = 4;                             // 16 KiB
inline constexpr uint64_t kKernelStackSlot = (kKernelStackPages + 1) * 4096; // guard + stack
inline constexpr uint64_t kMaxKernelStacks = 1u << 20;

struct KernelStack {
    uint64_t bottom; // lowest mapped byte; the guard page is the page below
    uint64_t top;    // initial rsp
};

// Maps a fresh stack from physical frames.
exo::Result<KernelStack> allocate_kernel_stack();
// Unmaps it (with a TLB shootdown) and returns its frames. Interrupts must be enabled: the
// shootdown waits for the other CPUs. The stack must not be in use on any CPU.
void free_kernel_stack(const KernelStack& stack);
// Unmaps the freed stacks kept mapped for reuse and returns their frames; returns how many.
size_t trim_kernel_stacks();

// True when `address` lies in the guard page of any kernel stack slot.
bool is_stack_guard(uint64_t address);

// Moves the current CPU onto `stack` and calls fn(); never returns.
[[noreturn]] void run_on_stack(const KernelStack& stack, void (*fn)());

} // namespace mk
