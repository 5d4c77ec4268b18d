// The TSC frequency: from CPUID leaf 0x15 (TSC/crystal ratio and crystal frequency) when the CPU
// reports both, else measured against PIT channel 2 (Intel 8254 datasheet, mode 0 one-shot; the
// gate and OUT2 are read through port 0x61, as every PC since the AT).
#include "arch/x86_64/clock.hpp"

#include "arch/x86_64/cpu.hpp"
#include "core/log.hpp"

namespace mk::clock {
namespace {

constexpr uint64_t kPitHz = 1193182;
constexpr uint16_t kPitCount = 11932; // ~10 ms
constexpr uint16_t kPitChannel2 = 0x42, kPitCommand = 0x43, kPortB = 0x61;
constexpr uint64_t kFallbackHz = 1000000000;

constinit uint64_t boot_tsc = 0;
constinit uint64_t hz = 0;

} // namespace

void mark_boot() {
    boot_tsc = cpu::rdtsc_ordered();
}

namespace {

// CPUID.15H (SDM vol. 2A): TSC Hz = crystal Hz * EBX / EAX; 0 when a field is not enumerated.
uint64_t hz_from_cpuid() {
    if (cpu::cpuid(0).eax < 0x15)
        return 0;
    auto leaf = cpu::cpuid(0x15);
    if (leaf.eax == 0 || leaf.ebx == 0 || leaf.ecx == 0)
        return 0;
    return uint64_t(leaf.ecx) * leaf.ebx / leaf.eax;
}

} // namespace

void calibrate() {
    if (uint64_t from_cpuid = hz_from_cpuid()) {
        hz = from_cpuid;
        log::info("clock: TSC %lu.%03lu MHz (CPUID leaf 0x15)", hz / 1000000, (hz / 1000) % 1000);
        return;
    }
    uint8_t port_b = cpu::inb(kPortB);
    cpu::outb(kPortB, uint8_t((port_b & ~0x02) | 0x01)); // gate on, speaker off
    cpu::outb(kPitCommand, 0xB0);                        // channel 2, lo/hi byte, mode 0
    cpu::outb(kPitChannel2, kPitCount & 0xFF);
    cpu::outb(kPitChannel2, kPitCount >> 8);

    uint64_t start = cpu::rdtsc_ordered();
    bool expired = false;
    // Bounded: a machine without a PIT must still boot (with a rough clock).
    for (uint32_t spins = 0; spins < 50000000; ++spins) {
        if (cpu::inb(kPortB) & 0x20) {
            expired = true;
            break;
        }
    }
    uint64_t ticks = cpu::rdtsc_ordered() - start;
    cpu::outb(kPortB, port_b);

    if (!expired || ticks == 0) {
        hz = kFallbackHz;
        log::warn("clock: PIT did not respond, assuming a %lu Hz TSC", hz);
        return;
    }
    hz = ticks * kPitHz / kPitCount;
    log::info("clock: TSC %lu.%03lu MHz (PIT calibrated)", hz / 1000000, (hz / 1000) % 1000);
}

uint64_t tsc_hz() {
    return hz;
}

uint64_t tsc_at(uint64_t ns) {
    if (hz == 0)
        return 0;
    uint64_t seconds = ns / 1000000000;
    uint64_t rest = ns % 1000000000;
    return boot_tsc + seconds * hz + rest * hz / 1000000000;
}

uint64_t now_ns() {
    if (hz == 0)
        return 0;
    uint64_t delta = cpu::rdtsc_ordered() - boot_tsc;
    // Split to avoid overflowing 64 bits after a few seconds (and a 128-bit divide from libgcc).
    uint64_t seconds = delta / hz;
    uint64_t rest = delta % hz;
    return seconds * 1000000000 + rest * 1000000000 / hz;
}

} // namespace mk::clock
