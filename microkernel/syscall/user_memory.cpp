// User copies: range check, then the fault-tolerant copy of usercopy.S with SMAP lifted for just
// its duration. Interrupts stay off meanwhile, so RFLAGS.AC can never leak into another context.
#include "syscall/user_memory.hpp"

#include "arch/x86_64/cpu.hpp"

extern "C" uint64_t user_copy_raw(void* dst, const void* src, size_t n);
extern "C" const uint8_t user_access_begin[], user_access_end[], user_access_fault[];

namespace mk::user {
namespace {

constinit bool smap = false;

exo::Status copy(void* dst, const void* src, size_t length) {
    bool enabled = cpu::save_and_disable_interrupts();
    if (smap)
        asm volatile("stac" ::: "memory", "cc");
    uint64_t faulted = user_copy_raw(dst, src, length);
    if (smap)
        asm volatile("clac" ::: "memory", "cc");
    cpu::restore_interrupts(enabled);
    return faulted ? exo::Status::BadAddress : exo::Status::Ok;
}

} // namespace

void init() {
    smap = (cpu::read_cr4() & (1ull << 21)) != 0;
}

exo::Status copy_in(void* dst, uint64_t user_src, size_t length) {
    if (!in_user_space(user_src, length))
        return exo::Status::OutOfRange;
    return copy(dst, reinterpret_cast<const void*>(user_src), length);
}

exo::Status copy_out(uint64_t user_dst, const void* src, size_t length) {
    if (!in_user_space(user_dst, length))
        return exo::Status::OutOfRange;
    return copy(reinterpret_cast<void*>(user_dst), src, length);
}

bool fixup_kernel_fault(InterruptFrame& frame) {
    if (frame.vector != 14 || frame.rip < uint64_t(user_access_begin) ||
        frame.rip >= uint64_t(user_access_end))
        return false;
    frame.rip = uint64_t(user_access_fault);
    return true;
}

} // namespace mk::user
