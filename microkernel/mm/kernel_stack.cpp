// Kernel stack slots: [guard page][kKernelStackPages mapped pages], bump-allocated for now.
#include "mm/kernel_stack.hpp"

#include "lib/page_table.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"

namespace mk {
namespace {

constinit uint64_t next_slot = 0;

} // namespace

exo::Result<KernelStack> allocate_kernel_stack() {
    if (next_slot == kMaxKernelStacks)
        return exo::Status::NoMemory;
    uint64_t slot = kKernelStackRegion + next_slot * kKernelStackSlot;
    uint64_t bottom = slot + kPageSize; // the first page of the slot stays unmapped: the guard
    for (uint64_t i = 0; i < kKernelStackPages; ++i) {
        uint64_t frame = TRY(pmm::allocate(0));
        if (auto r = vm::map_kernel_page(bottom + i * kPageSize, frame, kAccessWrite); !r.ok()) {
            (void)pmm::free(frame, 0); // the frame was ours a moment ago: cannot fail
            return r.status();
        }
    }
    ++next_slot;
    return KernelStack{bottom, bottom + kKernelStackPages * kPageSize};
}

bool is_stack_guard(uint64_t address) {
    if (address < kKernelStackRegion ||
        address >= kKernelStackRegion + next_slot * kKernelStackSlot)
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
