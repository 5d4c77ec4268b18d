// Lazy-allocated, eagerly switched FPU state.
#include "sched/fpu.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/idt.hpp"
#include "arch/x86_64/percpu.hpp"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"
#include "sched/thread.hpp"

namespace mk::fpu {
namespace {

enum class Mode : uint8_t { Fxsave, Xsave, Xsaveopt };

constexpr uint64_t kX87 = 1, kSse = 2, kAvx = 4, kAvx512 = 0xE0;
constexpr uint32_t kMxcsrOffset = 24, kMxcsrDefault = 0x1F80;

constinit Mode mode = Mode::Fxsave;
constinit uint64_t components = kX87 | kSse;
constinit uint32_t size = 512;

void set_control_registers() {
    uint64_t cr0 = cpu::read_cr0();
    cr0 &= ~cpu::kCr0Emulation;
    cr0 |= cpu::kCr0MonitorCoprocessor | cpu::kCr0TaskSwitched;
    cpu::write_cr0(cr0);
    uint64_t cr4 = cpu::read_cr4() | cpu::kCr4Osfxsr | cpu::kCr4Osxmmexcpt;
    if (mode != Mode::Fxsave)
        cr4 |= cpu::kCr4Osxsave;
    cpu::write_cr4(cr4);
    if (mode != Mode::Fxsave)
        cpu::write_xcr0(components);
}

void clear_task_switched() {
    asm volatile("clts" ::: "memory");
}
void set_task_switched() {
    cpu::write_cr0(cpu::read_cr0() | cpu::kCr0TaskSwitched);
}

void save(void* area) {
    uint32_t lo = uint32_t(components), hi = uint32_t(components >> 32);
    switch (mode) {
    case Mode::Xsaveopt:
        asm volatile("xsaveopt64 (%0)" ::"r"(area), "a"(lo), "d"(hi) : "memory");
        break;
    case Mode::Xsave:
        asm volatile("xsave64 (%0)" ::"r"(area), "a"(lo), "d"(hi) : "memory");
        break;
    case Mode::Fxsave:
        asm volatile("fxsave64 (%0)" ::"r"(area) : "memory");
        break;
    }
}

void restore(const void* area) {
    uint32_t lo = uint32_t(components), hi = uint32_t(components >> 32);
    if (mode == Mode::Fxsave)
        asm volatile("fxrstor64 (%0)" ::"r"(area) : "memory");
    else
        asm volatile("xrstor64 (%0)" ::"r"(area), "a"(lo), "d"(hi) : "memory");
}

// #NM: the current thread's first FPU/SSE instruction. Give it a fresh state (the header's
// XSTATE_BV of zero makes XRSTOR load every component's initial state) and retry.
bool device_not_available(InterruptFrame&) {
    Thread* thread = this_cpu().current;
    if (thread == nullptr || thread->fpu_state != nullptr)
        return false; // #NM with a state loaded is a kernel bug: report it
    auto frame = pmm::allocate(0);
    if (!frame.ok())
        EXO_PANIC("no memory for the FPU state of thread %lu", thread->id);
    auto* area = vm::phys_to_virt<uint8_t>(frame.value());
    __builtin_memset(area, 0, 4096);
    *reinterpret_cast<uint32_t*>(area + kMxcsrOffset) = kMxcsrDefault;
    thread->fpu_state = area;
    clear_task_switched();
    restore(area);
    return true;
}

} // namespace

exo::Result<void> init_boot() {
    auto leaf1 = cpu::cpuid(1);
    if (!(leaf1.edx & (1u << 24)) || !(leaf1.edx & (1u << 25)))
        return exo::Status::Unsupported; // no FXSR or SSE: not an x86-64 we support
    if (leaf1.ecx & (1u << 26)) {
        auto leaf_d = cpu::cpuid(0xD, 0);
        uint64_t supported = leaf_d.eax | (uint64_t(leaf_d.edx) << 32);
        components = supported & (kX87 | kSse | kAvx | kAvx512);
        if ((components & kAvx512) != kAvx512)
            components &= ~kAvx512; // all three AVX-512 components or none
        mode = (cpu::cpuid(0xD, 1).eax & 1) ? Mode::Xsaveopt : Mode::Xsave;
    }
    set_control_registers();
    if (mode != Mode::Fxsave)
        size = cpu::cpuid(0xD, 0).ebx; // the area size for the components now in XCR0
    if (size > 4096)
        return exo::Status::Unsupported;
    idt::set_device_not_available_hook(device_not_available);
    log::info("fpu: %s, components 0x%lx, %u-byte state, saved only for threads that use it",
              save_instruction(), components, size);
    return {};
}

void init_secondary() {
    set_control_registers();
}

void switch_out(Thread& prev) {
    if (prev.fpu_state)
        save(prev.fpu_state);
}

void switch_in(Thread& next) {
    if (next.fpu_state) {
        clear_task_switched();
        restore(next.fpu_state);
    } else {
        set_task_switched();
    }
}

void release(Thread& thread) {
    if (!thread.fpu_state)
        return;
    auto r = pmm::free(reinterpret_cast<uint64_t>(thread.fpu_state) - DIRECT_MAP_BASE, 0);
    EXO_ASSERT(r.ok(), "an FPU state area was not a buddy frame");
    thread.fpu_state = nullptr;
}

const char* save_instruction() {
    switch (mode) {
    case Mode::Xsaveopt:
        return "xsaveopt";
    case Mode::Xsave:
        return "xsave";
    case Mode::Fxsave:
        return "fxsave";
    }
    return "?";
}

} // namespace mk::fpu
