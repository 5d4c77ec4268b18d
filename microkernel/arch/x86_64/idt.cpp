// IDT setup and the exception dispatcher (Intel SDM vol. 3A 6.10-6.14).
#include "arch/x86_64/idt.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/gdt.hpp"
#include "arch/x86_64/interrupt_frame.hpp"
#include "arch/x86_64/layout.h"
#include "core/panic.hpp"
#include "mm/kernel_stack.hpp"

#include <stdint.h>

extern "C" const uint64_t isr_stub_table[32];

namespace mk::idt {
namespace {

struct [[gnu::packed]] Gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(Gate) == 16);

constexpr uint8_t kInterruptGatePresentDpl0 = 0x8E;

constinit Gate table[256] = {};

constexpr const char* kExceptionNames[32] = {"divide error",
                                             "debug",
                                             "NMI",
                                             "breakpoint",
                                             "overflow",
                                             "bound range exceeded",
                                             "invalid opcode",
                                             "device not available",
                                             "double fault",
                                             "coprocessor segment overrun",
                                             "invalid TSS",
                                             "segment not present",
                                             "stack-segment fault",
                                             "general protection fault",
                                             "page fault",
                                             "reserved",
                                             "x87 floating-point error",
                                             "alignment check",
                                             "machine check",
                                             "SIMD floating-point error",
                                             "virtualization exception",
                                             "control protection exception",
                                             "reserved",
                                             "reserved",
                                             "reserved",
                                             "reserved",
                                             "reserved",
                                             "reserved",
                                             "hypervisor injection",
                                             "VMM communication",
                                             "security exception",
                                             "reserved"};

} // namespace

void init() {
    for (int v = 0; v < 32; ++v) {
        uint64_t handler = isr_stub_table[v];
        // A double fault gets its own stack: it is how a kernel stack overflow is reported.
        uint8_t ist = v == 8 ? gdt::kDoubleFaultIst : 0;
        table[v] =
            Gate{uint16_t(handler),       gdt::kKernelCode,        ist, kInterruptGatePresentDpl0,
                 uint16_t(handler >> 16), uint32_t(handler >> 32), 0};
    }
    cpu::DescriptorTablePointer pointer{sizeof table - 1, reinterpret_cast<uint64_t>(&table[0])};
    asm volatile("lidt %0" ::"m"(pointer));
}

} // namespace mk::idt

// Every exception in ring 0 is a kernel bug for now: panic with the faulting frame.
extern "C" void exception_dispatch(mk::InterruptFrame* frame) {
    const char* name = frame->vector < 32 ? mk::idt::kExceptionNames[frame->vector] : "interrupt";
    if ((frame->vector == 14 || frame->vector == 8) && mk::is_stack_guard(mk::cpu::read_cr2())) {
        mk::panic_with_frame(*frame, "kernel stack overflow: guard page hit at 0x%lx (%s)",
                             mk::cpu::read_cr2(), name);
    }
    if (frame->vector == 14) {
        // Error code bits (SDM vol. 3A 4.7): P, W/R, U/S, RSVD, I/D.
        uint64_t e = frame->error_code;
        const char* access = (e & 16) ? "execute" : (e & 2) ? "write" : "read";
        mk::panic_with_frame(*frame, "page fault: %s %s 0x%lx (error code 0x%lx: %s%s%s)",
                             (e & 4) ? "user" : "kernel", access, mk::cpu::read_cr2(), e,
                             (e & 1) ? "protection violation" : "page not present",
                             (e & 8) ? ", reserved bit set" : "",
                             (frame->rip < DIRECT_MAP_BASE && !(e & 4)) ? ", rip in lower half"
                                                                        : "");
    }
    mk::panic_with_frame(*frame, "CPU exception %lu (%s), error code 0x%lx", frame->vector, name,
                         frame->error_code);
}
