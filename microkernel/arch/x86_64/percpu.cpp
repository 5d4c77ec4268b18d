// The table of per-CPU data. Slot 0 is the boot CPU; the others are filled from the ACPI MADT.
#include "arch/x86_64/percpu.hpp"

namespace mk::percpu {
namespace {

constinit Cpu cpus[kMaxCpus] = {};
constinit uint32_t known = 1; // the boot CPU

} // namespace

Cpu& cpu(uint32_t index) {
    return cpus[index];
}

uint32_t count() {
    return known;
}

uint32_t online_count() {
    uint32_t n = 0;
    for (uint32_t i = 0; i < known; ++i)
        n += cpus[i].online.load(std::memory_order_acquire) ? 1 : 0;
    return n;
}

void install(Cpu& cpu, uint32_t index, uint32_t apic_id) {
    cpu.self = &cpu;
    cpu.index = index;
    cpu.apic_id = apic_id;
    cpu::write_msr(cpu::msr::kGsBase, reinterpret_cast<uint64_t>(&cpu));
    cpu::write_msr(cpu::msr::kKernelGsBase, 0);
}

uint32_t add(uint32_t apic_id) {
    if (known == kMaxCpus)
        return kMaxCpus;
    cpus[known].apic_id = apic_id;
    cpus[known].index = known;
    return known++;
}

} // namespace mk::percpu
