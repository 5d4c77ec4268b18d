// Copy-in and copy-out of user memory (syscall layer). Every user pointer a syscall receives goes
// through here: the range must lie in user space (no overflow, no kernel half), and a fault while
// copying (unmapped or read-only memory) returns BadAddress instead of reaching the panic path.
// SMAP stays on outside these copies.
#pragma once

#include "arch/x86_64/interrupt_frame.hpp"

#include <exo/layout.hpp>
#include <exo/status.hpp>
#include <stddef.h>
#include <stdint.h>

namespace mk::user {

// True when [address, address + length) lies inside [kUserBase, kUserTop) without wrapping.
constexpr bool in_user_space(uint64_t address, uint64_t length) {
    return address >= exo::kUserBase && address <= exo::kUserTop &&
           length <= exo::kUserTop - address;
}

// OutOfRange outside user space, BadAddress on a fault; nothing else.
exo::Status copy_in(void* dst, uint64_t user_src, size_t length);
exo::Status copy_out(uint64_t user_dst, const void* src, size_t length);

// A whole naturally aligned T (Misaligned otherwise).
template <typename T>
exo::Status read(uint64_t user_src, T& out) {
    if (user_src % alignof(T) != 0)
        return exo::Status::Misaligned;
    return copy_in(&out, user_src, sizeof(T));
}
template <typename T>
exo::Status write(uint64_t user_dst, const T& value) {
    if (user_dst % alignof(T) != 0)
        return exo::Status::Misaligned;
    return copy_out(user_dst, &value, sizeof(T));
}

// The page-fault path of ring 0 asks this first: true when the fault hit a user copy, whose
// frame it redirects to the copy's error return.
bool fixup_kernel_fault(InterruptFrame& frame);

// Reads SMAP support once at boot (vm::enable_protection_features has set CR4.SMAP).
void init();

} // namespace mk::user
