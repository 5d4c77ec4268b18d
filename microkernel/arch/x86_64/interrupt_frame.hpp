// The register frame that the exception stubs (isr.S) build on the stack. Its layout is pinned
// by the push order in isr.S.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace mk {

struct InterruptFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    // Pushed by the CPU (Intel SDM vol. 3A 6.14.1, 64-bit mode always pushes SS:RSP).
    uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(InterruptFrame) == 22 * 8);
static_assert(offsetof(InterruptFrame, vector) == 15 * 8);
static_assert(offsetof(InterruptFrame, rip) == 17 * 8);

} // namespace mk
