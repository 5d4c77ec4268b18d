// AP start-up (Intel SDM vol. 3A 8.4.4.1: INIT, 10 ms, STARTUP, 200 us, STARTUP) and the
// cross-CPU requests built on IPIs.
#include "arch/x86_64/smp.hpp"

#include "syscall/syscall_init.hpp"

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/gdt.hpp"
#include "arch/x86_64/idt.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "arch/x86_64/trampoline.h"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "lib/page_table.hpp"
#include "mm/kernel_space.hpp"
#include "mm/kernel_stack.hpp"
#include "sched/fpu.hpp"
#include "sched/scheduler.hpp"

#include <exo/assert.hpp>

extern "C" const uint8_t trampoline_start[], trampoline_end[], trampoline_cr3[], trampoline_stack[],
    trampoline_cpu[], trampoline_entry[];

namespace mk::smp {
namespace {

constexpr uint64_t kApStartTimeoutNs = 2'000'000'000; // generous: QEMU without KVM is slow

// One shootdown at a time; the initiator waits for every other online CPU to acknowledge.
constinit SpinLock shootdown_lock{};
constinit std::atomic<uint64_t> shootdown_address{0};
constinit std::atomic<uint64_t> shootdown_pending{0}; // bit i: CPU i has not acknowledged
constexpr uint64_t kShootdownTimeoutNs = 5'000'000'000;
constinit uint64_t shootdown_pages = 0;

void spin_ns(uint64_t ns) {
    uint64_t start = clock::now_ns();
    while (clock::now_ns() - start < ns)
        cpu::pause();
}

void flush_range(uint64_t virt, uint64_t pages) {
    for (uint64_t i = 0; i < pages; ++i)
        vm::flush_local(virt + i * kPageSize);
}

void shootdown_interrupt(InterruptFrame&) {
    flush_range(shootdown_address.load(std::memory_order_acquire), shootdown_pages);
    shootdown_pending.fetch_and(~(1ull << this_cpu().index), std::memory_order_release);
}

// Writes one of the trampoline's 64-bit parameters through the direct map.
void set_parameter(const uint8_t* symbol, uint64_t value) {
    uint64_t offset = uint64_t(symbol - trampoline_start);
    *vm::phys_to_virt<uint64_t>(TRAMPOLINE_PHYS + offset) = value;
}

} // namespace

void init() {
    idt::set_handler(idt::vector::kTlbShootdown, shootdown_interrupt);
}

} // namespace mk::smp

// First C++ on an application processor, on the stack the boot CPU gave it.
extern "C" [[noreturn]] void ap_main(mk::Cpu* cpu) {
    using namespace mk;
    percpu::install(*cpu, cpu->index, cpu->apic_id);
    gdt::load(*cpu);
    idt::load();
    vm::enable_protection_features(false);
    sys::init_cpu();
    vm::flush_local(TRAMPOLINE_PHYS); // the identity mapping is global and temporary
    fpu::init_secondary();
    apic::init_secondary();
    sched::run_secondary_cpu(*cpu); // marks the CPU online, becomes its idle thread
}

namespace mk::smp {

uint32_t start_secondary_cpus(const uint32_t* apic_ids, uint32_t count) {
    uint64_t size = uint64_t(trampoline_end - trampoline_start);
    EXO_ASSERT(size <= kPageSize, "the AP trampoline does not fit in a page");
    uint64_t root = vm::kernel_tables();
    if (root >= (1ull << 32)) {
        log::error("smp: kernel tables at 0x%lx, above what real mode can load", root);
        return 0;
    }
    __builtin_memcpy(vm::phys_to_virt(TRAMPOLINE_PHYS), trampoline_start, size);
    if (auto r = vm::map_kernel_page(TRAMPOLINE_PHYS, TRAMPOLINE_PHYS, kAccessExecute); !r.ok()) {
        log::error("smp: cannot map the trampoline: %s", exo::status_name(r.status()));
        return 0;
    }
    set_parameter(trampoline_cr3, root);
    set_parameter(trampoline_entry, reinterpret_cast<uint64_t>(&ap_main));

    uint32_t started = 0;
    uint32_t self = apic::id();
    for (uint32_t i = 0; i < count; ++i) {
        if (apic_ids[i] == self)
            continue;
        if (!apic::x2apic() && apic_ids[i] > 0xFE) {
            log::warn("smp: APIC ID %u needs x2APIC mode; CPU skipped", apic_ids[i]);
            continue;
        }
        uint32_t index = percpu::add(apic_ids[i]);
        if (index == kMaxCpus) {
            log::warn("smp: more than %u CPUs; the rest stay off", kMaxCpus);
            break;
        }
        Cpu& cpu = percpu::cpu(index);
        auto stack = allocate_kernel_stack();
        if (!stack.ok() || !gdt::prepare_secondary(cpu).ok() ||
            !sched::prepare_secondary_cpu(cpu, stack.value()).ok()) {
            log::error("smp: no memory to start CPU %u", index);
            break;
        }
        set_parameter(trampoline_stack, stack.value().top);
        set_parameter(trampoline_cpu, reinterpret_cast<uint64_t>(&cpu));
        asm volatile("mfence" ::: "memory");

        apic::send_init(apic_ids[i]);
        spin_ns(10'000'000);
        apic::send_startup(apic_ids[i], TRAMPOLINE_PHYS >> 12);
        spin_ns(200'000);
        if (!cpu.online.load(std::memory_order_acquire))
            apic::send_startup(apic_ids[i], TRAMPOLINE_PHYS >> 12);
        uint64_t start = clock::now_ns();
        while (!cpu.online.load(std::memory_order_acquire) &&
               clock::now_ns() - start < kApStartTimeoutNs)
            cpu::pause();
        if (!cpu.online.load(std::memory_order_acquire)) {
            // Its stack and slot stay reserved: the CPU may still wake up and use them.
            log::error("smp: CPU %u (APIC ID %u) did not start", index, apic_ids[i]);
            continue;
        }
        ++started;
    }
    if (auto r = vm::unmap_kernel_page(TRAMPOLINE_PHYS); !r.ok())
        log::warn("smp: trampoline unmap: %s", exo::status_name(r.status()));
    return started;
}

void shootdown(uint64_t virt, uint64_t pages) {
    if (percpu::online_count() <= 1) {
        flush_range(virt, pages);
        return;
    }
    EXO_ASSERT(cpu::interrupts_enabled(), "TLB shootdown with interrupts disabled");
    // Wait for the lock with interrupts enabled (the holder may be waiting for this CPU's
    // acknowledgement), then keep them disabled: this thread must not migrate mid-shootdown.
    for (;;) {
        while (shootdown_lock.is_locked())
            cpu::pause(); // interrupts enabled here: this CPU acknowledges the holder's IPI
        cpu::disable_interrupts();
        if (shootdown_lock.try_lock())
            break;
        cpu::enable_interrupts();
    }
    flush_range(virt, pages);
    uint32_t self = this_cpu().index;
    shootdown_address.store(virt, std::memory_order_relaxed);
    shootdown_pages = pages;
    // A CPU that comes online after this loads CR3 after the change: nothing stale.
    uint64_t targets = 0;
    for (uint32_t i = 0; i < percpu::count(); ++i)
        if (i != self && percpu::cpu(i).online.load(std::memory_order_acquire))
            targets |= 1ull << i;
    shootdown_pending.store(targets, std::memory_order_release);
    for (uint64_t t = targets; t != 0; t &= t - 1)
        apic::send_ipi(percpu::cpu(uint32_t(__builtin_ctzll(t))).apic_id,
                       idt::vector::kTlbShootdown);
    uint64_t start = clock::now_ns();
    while (shootdown_pending.load(std::memory_order_acquire) != 0) {
        cpu::pause();
        if (clock::now_ns() - start > kShootdownTimeoutNs)
            EXO_PANIC("TLB shootdown of 0x%lx: CPUs 0x%lx never acknowledged", virt,
                      shootdown_pending.load());
    }
    shootdown_lock.unlock();
    cpu::enable_interrupts();
}

void stop_other_cpus() {
    if (percpu::online_count() > 1)
        apic::send_nmi_to_others();
}

} // namespace mk::smp
