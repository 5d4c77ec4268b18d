// Kernel stack slots: [guard page][kKernelStackPages mapped pages]. Freed slots are reused
// (a LIFO of slot numbers), so the region stays as large as the peak number of stacks alive.
// A few freed stacks stay mapped in a cache, so that thread churn does not unmap (and shoot
// down) four pages per exit; trim_kernel_stacks() returns them.
#include "mm/kernel_stack.hpp"

#include "arch/x86_64/spinlock.hpp"
#include "core/panic.hpp"
#include "lib/page_table.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"

#include <exo/assert.hpp>

namespace mk {
namespace {

constinit IrqSpinLock lock{};
constinit uint64_t next_slot = 0;          // slots [0, next_slot) have been used
constinit uint32_t free_slots[16384] = {}; // freed slot numbers, reused first
constinit uint32_t free_count = 0;
constexpr uint32_t kCachedStacks = 32;
constinit KernelStack cached[kCachedStacks] = {};
constinit uint32_t cached_count = 0;

bool take_cached(KernelStack* out) {
    LockGuard guard(lock);
    if (cached_count == 0)
        return false;
    *out = cached[--cached_count];
    return true;
}

exo::Result<uint64_t> take_slot() {
    LockGuard guard(lock);
    if (free_count > 0)
        return free_slots[--free_count];
    if (next_slot == kMaxKernelStacks)
        return exo::Status::NoMemory;
    return next_slot++;
}

// A slot that cannot be remembered (the free list is full) is leaked: address space only.
void give_back_slot(uint64_t slot) {
    LockGuard guard(lock);
    if (free_count < sizeof free_slots / sizeof free_slots[0])
        free_slots[free_count++] = uint32_t(slot);
}

// The stack's frames, and the page tables its slot leaves empty, go back to the buddy: the
// region's tables follow the number of stacks alive, not its peak.
void unmap_and_free(uint64_t bottom, uint64_t pages) {
    if (pages == 0)
        return;
    uint64_t frames[kKernelStackPages];
    auto unmapped = vm::release_kernel_pages(bottom, pages, frames);
    EXO_ASSERT(unmapped.ok(), "a kernel stack page was not mapped");
    for (uint64_t i = 0; i < pages; ++i) {
        auto freed = pmm::free(frames[i], 0);
        EXO_ASSERT(freed.ok(), "a kernel stack frame was not a buddy frame");
    }
}

void release(const KernelStack& stack) {
    unmap_and_free(stack.bottom, kKernelStackPages);
    give_back_slot((stack.bottom - kKernelStackRegion) / kKernelStackSlot);
}

} // namespace

exo::Result<KernelStack> allocate_kernel_stack() {
    KernelStack reused;
    if (take_cached(&reused))
        return reused;
    uint64_t slot = TRY(take_slot());
    uint64_t bottom = kKernelStackRegion + slot * kKernelStackSlot + kPageSize; // after the guard
    for (uint64_t i = 0; i < kKernelStackPages; ++i) {
        auto frame = pmm::allocate(0);
        exo::Status error = frame.ok() ? exo::Status::Ok : frame.status();
        if (frame.ok()) {
            auto mapped = vm::map_kernel_page(bottom + i * kPageSize, frame.value(), kAccessWrite);
            if (!mapped.ok()) {
                (void)pmm::free(frame.value(), 0); // the frame was ours a moment ago
                error = mapped.status();
            }
        }
        if (error != exo::Status::Ok) {
            unmap_and_free(bottom, i);
            give_back_slot(slot);
            return error;
        }
    }
    return KernelStack{bottom, bottom + kKernelStackPages * kPageSize};
}

void free_kernel_stack(const KernelStack& stack) {
    EXO_ASSERT(stack.bottom >= kKernelStackRegion + kPageSize &&
                   (stack.bottom - kKernelStackRegion) % kKernelStackSlot == kPageSize,
               "not a kernel stack");
    {
        LockGuard guard(lock);
        if (cached_count < kCachedStacks) {
            cached[cached_count++] = stack;
            return;
        }
    }
    release(stack);
}

size_t trim_kernel_stacks() {
    size_t released = 0;
    KernelStack stack;
    while (take_cached(&stack)) {
        release(stack);
        ++released;
    }
    return released;
}

bool is_stack_guard(uint64_t address) {
    if (address < kKernelStackRegion ||
        address >=
            kKernelStackRegion + __atomic_load_n(&next_slot, __ATOMIC_RELAXED) * kKernelStackSlot)
        return false;
    return (address - kKernelStackRegion) % kKernelStackSlot < kPageSize;
}

void run_on_stack(const KernelStack& stack, void (*fn)()) {
    asm volatile("movq %0, %%rsp\n\t"
                 "xorl %%ebp, %%ebp\n\t" // the new stack's backtrace ends here
                 "callq *%1\n\t"
                 "ud2"
                 :
                 : "r"(stack.top), "r"(fn)
                 : "memory");
    __builtin_unreachable();
}

} // namespace mk
