// Local APIC driver. Register offsets and bits: Intel SDM vol. 3A 11.4-11.6, 11.12 (x2APIC).
#include "arch/x86_64/apic.hpp"

#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/idt.hpp"
#include "core/log.hpp"
#include "mm/kernel_space.hpp"

namespace mk::apic {
namespace {

// Register offsets (xAPIC MMIO; the x2APIC MSR is 0x800 + offset / 16).
constexpr uint32_t kId = 0x20, kTpr = 0x80, kEoi = 0xB0, kSvr = 0xF0, kEsr = 0x280, kIcrLow = 0x300,
                   kIcrHigh = 0x310, kLvtTimer = 0x320, kLvtLint0 = 0x350, kLvtLint1 = 0x360,
                   kLvtError = 0x370, kTimerInitial = 0x380, kTimerCurrent = 0x390,
                   kTimerDivide = 0x3E0;

constexpr uint64_t kApicBaseEnable = 1 << 11, kApicBaseX2 = 1 << 10;
constexpr uint32_t kSvrEnable = 1 << 8;
constexpr uint32_t kLvtMasked = 1 << 16;
constexpr uint32_t kLvtNmi = 4 << 8;
constexpr uint32_t kTimerTscDeadline = 2 << 17;
constexpr uint32_t kIcrFixed = 0, kIcrNmi = 4 << 8, kIcrInit = 5 << 8, kIcrStartup = 6 << 8;
constexpr uint32_t kIcrAssert = 1 << 14, kIcrPending = 1 << 12;
constexpr uint32_t kIcrAllButSelf = 3 << 18;
constexpr uint32_t kDivideBy16 = 0x3;

constinit bool use_x2apic = false;
constinit bool use_tsc_deadline = false;
constinit volatile uint32_t* mmio = nullptr;
constinit uint64_t timer_ticks_per_ms = 0; // one-shot mode: APIC timer ticks (divided by 16)

uint32_t read(uint32_t reg) {
    if (use_x2apic)
        return uint32_t(cpu::read_msr(0x800 + reg / 16));
    return mmio[reg / 4];
}

void write(uint32_t reg, uint32_t value) {
    if (use_x2apic)
        cpu::write_msr(0x800 + reg / 16, value);
    else
        mmio[reg / 4] = value;
}

void write_icr(uint32_t destination, uint32_t low) {
    if (use_x2apic) {
        // One 64-bit MSR; no delivery-status bit to wait for (SDM 11.12.9). WRMSR to it is not
        // serializing: order earlier stores (what the IPI announces) before it.
        asm volatile("mfence" ::: "memory");
        cpu::write_msr(0x830, (uint64_t(destination) << 32) | low);
        return;
    }
    write(kIcrHigh, destination << 24);
    write(kIcrLow, low);
    while (read(kIcrLow) & kIcrPending)
        cpu::pause();
}

void mask_legacy_pics() {
    // ICW1-4: remap the master to 0x20 and the slave to 0x28 (so a spurious IRQ cannot look like
    // an exception), cascade on IRQ 2, 8086 mode; then mask every line.
    constexpr uint16_t kMasterCommand = 0x20, kMasterData = 0x21, kSlaveCommand = 0xA0,
                       kSlaveData = 0xA1;
    cpu::outb(kMasterCommand, 0x11);
    cpu::outb(kSlaveCommand, 0x11);
    cpu::outb(kMasterData, idt::vector::kPicBase);
    cpu::outb(kSlaveData, idt::vector::kPicBase + 8);
    cpu::outb(kMasterData, 4);
    cpu::outb(kSlaveData, 2);
    cpu::outb(kMasterData, 1);
    cpu::outb(kSlaveData, 1);
    cpu::outb(kMasterData, 0xFF);
    cpu::outb(kSlaveData, 0xFF);
}

void enable_this_cpu() {
    uint64_t base = cpu::read_msr(cpu::msr::kApicBase);
    base |= kApicBaseEnable;
    if (use_x2apic)
        base |= kApicBaseX2;
    cpu::write_msr(cpu::msr::kApicBase, base);
    write(kTpr, 0);
    // LINT0 (the PIC's ExtINT) masked; LINT1 is the NMI line on PCs.
    write(kLvtLint0, kLvtMasked);
    write(kLvtLint1, kLvtNmi);
    write(kLvtError, idt::vector::kApicError);
    write(kEsr, 0);
    write(kSvr, kSvrEnable | idt::vector::kSpurious);
    write(kLvtTimer, kLvtMasked | idt::vector::kTimer);
    write(kTimerDivide, kDivideBy16);
    end_of_interrupt();
}

// One-shot mode: count APIC timer ticks over ~10 ms of TSC time.
void calibrate_timer() {
    write(kLvtTimer, kLvtMasked | idt::vector::kTimer);
    write(kTimerDivide, kDivideBy16);
    uint64_t start_ns = clock::now_ns();
    write(kTimerInitial, 0xFFFFFFFF);
    while (clock::now_ns() - start_ns < 10'000'000)
        cpu::pause();
    uint32_t elapsed = 0xFFFFFFFF - read(kTimerCurrent);
    uint64_t ns = clock::now_ns() - start_ns;
    write(kTimerInitial, 0);
    timer_ticks_per_ms = ns ? uint64_t(elapsed) * 1'000'000 / ns : 0;
    if (timer_ticks_per_ms == 0)
        timer_ticks_per_ms = 1;
}

void error_interrupt(InterruptFrame&) {
    write(kEsr, 0);
    log::warn("apic: error interrupt, ESR 0x%x", read(kEsr));
}

} // namespace

exo::Result<void> init_boot() {
    auto leaf1 = cpu::cpuid(1);
    if (!(leaf1.edx & (1u << 9)))
        return exo::Status::Unsupported; // no local APIC
    use_x2apic = leaf1.ecx & (1u << 21);
    use_tsc_deadline = leaf1.ecx & (1u << 24);
    mask_legacy_pics();
    if (!use_x2apic) {
        uint64_t phys = cpu::read_msr(cpu::msr::kApicBase) & 0x000FFFFFFFFFF000ull;
        mmio = reinterpret_cast<volatile uint32_t*>(TRY(vm::map_mmio(phys, 4096)));
    }
    idt::set_handler(idt::vector::kApicError, error_interrupt);
    enable_this_cpu();
    if (!use_tsc_deadline)
        calibrate_timer();
    log::info("apic: %s, id %u, timer %s", use_x2apic ? "x2APIC" : "xAPIC", id(),
              use_tsc_deadline ? "TSC-deadline" : "one-shot");
    if (!use_tsc_deadline)
        log::info("apic: timer %lu ticks/ms (divide by 16)", timer_ticks_per_ms);
    return {};
}

void init_secondary() {
    enable_this_cpu();
}

uint32_t id() {
    uint32_t raw = read(kId);
    return use_x2apic ? raw : raw >> 24;
}

bool x2apic() {
    return use_x2apic;
}

void end_of_interrupt() {
    write(kEoi, 0);
}

void send_ipi(uint32_t apic_id, uint8_t vector) {
    bool enabled = cpu::save_and_disable_interrupts();
    write_icr(apic_id, kIcrFixed | kIcrAssert | vector);
    cpu::restore_interrupts(enabled);
}

void send_nmi_to_others() {
    write_icr(0, kIcrNmi | kIcrAssert | kIcrAllButSelf);
}

void send_init(uint32_t apic_id) {
    write_icr(apic_id, kIcrInit | kIcrAssert);
}

void send_startup(uint32_t apic_id, uint8_t page) {
    write_icr(apic_id, kIcrStartup | kIcrAssert | page);
}

void timer_arm(uint64_t deadline_ns) {
    if (use_tsc_deadline) {
        write(kLvtTimer, kTimerTscDeadline | idt::vector::kTimer);
        asm volatile("mfence" ::: "memory"); // SDM 11.5.4.1: order the LVT write before WRMSR
        uint64_t tsc = clock::tsc_at(deadline_ns);
        cpu::write_msr(cpu::msr::kTscDeadline, tsc ? tsc : 1);
        return;
    }
    uint64_t now = clock::now_ns();
    uint64_t delta_ns = deadline_ns > now ? deadline_ns - now : 0;
    uint64_t ticks = delta_ns / 1000 * timer_ticks_per_ms / 1000;
    if (ticks == 0)
        ticks = 1;
    if (ticks > 0xFFFFFFFF)
        ticks = 0xFFFFFFFF; // fires early; the scheduler re-arms
    write(kLvtTimer, idt::vector::kTimer);
    write(kTimerInitial, uint32_t(ticks));
}

void timer_stop() {
    if (use_tsc_deadline)
        cpu::write_msr(cpu::msr::kTscDeadline, 0);
    else
        write(kTimerInitial, 0);
}

} // namespace mk::apic
