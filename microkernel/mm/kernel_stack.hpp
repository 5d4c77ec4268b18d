// Kernel stacks with an unmapped guard page below each, in their own region of the upper half,
// so that an overflow faults on the guard and is reported as such instead of corrupting memory.
#pragma once

#include <exo/result.hpp>

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

// Maps a fresh stack from physical frames. Stacks are not yet reclaimed: thread exit (the
// scheduler issue) returns them.
exo::Result<KernelStack> allocate_kernel_stack();

// True when `address` lies in the guard page of any kernel stack slot.
bool is_stack_guard(uint64_t address);

// Moves the current CPU onto `stack` and calls fn(); never returns.
[[noreturn]] void run_on_stack(const KernelStack& stack, void (*fn)());

} // namespace mk
