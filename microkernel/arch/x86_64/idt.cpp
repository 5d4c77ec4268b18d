// IDT setup and the exception dispatcher (Intel SDM vol. 3A 6.10-6.14).
#include "arch/x86_64/idt.hpp"

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/gdt.hpp"
#include "arch/x86_64/interrupt_frame.hpp"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/percpu.hpp"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "mm/kernel_stack.hpp"
#include "object/process.hpp"
#include "sched/preempt.hpp"
#include "syscall/user_memory.hpp"

#include <stdint.h>

extern "C" const uint64_t isr_stub_table[32];
extern "C" const uint8_t irq_stubs[];

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
constinit Handler handlers[256] = {};
constinit ExceptionHook device_not_available_hook = nullptr;

Gate make_gate(uint64_t handler, uint8_t ist) {
    return Gate{uint16_t(handler),       gdt::kKernelCode,        ist, kInterruptGatePresentDpl0,
                uint16_t(handler >> 16), uint32_t(handler >> 32), 0};
}

uint8_t ist_for(int vector) {
    // Faults that may arrive on a broken stack get stacks of their own: a double fault is how a
    // kernel stack overflow is reported; an NMI or machine check can interrupt anything.
    switch (vector) {
    case 8:
        return gdt::kDoubleFaultIst;
    case 2:
        return gdt::kNmiIst;
    case 18:
        return gdt::kMachineCheckIst;
    default:
        return 0;
    }
}

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
    for (int v = 0; v < 32; ++v)
        table[v] = make_gate(isr_stub_table[v], ist_for(v));
    for (int v = 32; v < 256; ++v)
        table[v] = make_gate(reinterpret_cast<uint64_t>(irq_stubs) + 16 * (v - 32), 0);
    load();
}

void load() {
    cpu::DescriptorTablePointer pointer{sizeof table - 1, reinterpret_cast<uint64_t>(&table[0])};
    asm volatile("lidt %0" ::"m"(pointer));
}

void set_handler(uint8_t vector, Handler handler) {
    handlers[vector] = handler;
}

void set_device_not_available_hook(ExceptionHook hook) {
    device_not_available_hook = hook;
}

const char* exception_name(uint64_t vector) {
    return kExceptionNames[vector & 31];
}

} // namespace mk::idt

namespace {

// Every other exception in ring 0 is a kernel bug for now: panic with the faulting frame.
[[noreturn]] void report_exception(mk::InterruptFrame* frame) {
    const char* name = mk::idt::kExceptionNames[frame->vector];
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

void log_unexpected_interrupt(uint8_t vector) {
    mk::log::warn("interrupt: vector %u has no handler (ignored)", vector);
}

void device_interrupt(mk::InterruptFrame* frame) {
    using namespace mk;
    uint8_t vector = uint8_t(frame->vector);
    // Spurious interrupts (the APIC's, or the masked PICs' IRQ 7 and 15) are not acknowledged.
    if (vector == idt::vector::kSpurious || vector == idt::vector::kPicBase + 7 ||
        vector == idt::vector::kPicBase + 15)
        return;
    // Acknowledge first: a handler may switch threads, and the APIC must not keep this vector
    // in service until the interrupted thread runs again.
    apic::end_of_interrupt();
    if (idt::handlers[vector])
        idt::handlers[vector](*frame);
    else
        log_unexpected_interrupt(vector);
}

} // namespace

extern "C" void interrupt_dispatch(mk::InterruptFrame* frame) {
    using namespace mk;
    Cpu& cpu = this_cpu();
    ++cpu.interrupts;
    if (frame->vector >= 32) {
        ++cpu.interrupt_depth;
        device_interrupt(frame);
        --cpu.interrupt_depth;
        if (cpu.need_resched && cpu.interrupt_depth == 0)
            sched::preempt(); // the full frame is on this stack: the thread resumes through it
        if (frame->cs & 3)
            leave_kernel(); // back to ring 3 only if the process still lives
        return;
    }
    if (frame->vector == 7 && idt::device_not_available_hook &&
        idt::device_not_available_hook(*frame))
        return;
    if (frame->cs & 3)
        handle_user_fault(*frame); // ends the process, never the kernel
    if (user::fixup_kernel_fault(*frame))
        return; // a bad user pointer in a syscall: the copy returns BadAddress
    if (frame->vector == 2 && panic_in_progress()) {
        // Another CPU panicked and stopped this one: say where it was, for the report.
        report_stopped_cpu(cpu.index, *frame);
        cpu::halt_forever();
    }
    report_exception(frame);
}
