// I/O APIC driver: an index/data register pair (IOREGSEL at +0, IOWIN at +0x10); register 1 is
// the version (bits 16-23: last redirection entry), 0x10 + 2n / 0x11 + 2n entry n (low, high).
#include "arch/x86_64/ioapic.hpp"

#include "arch/x86_64/spinlock.hpp"
#include "core/log.hpp"
#include "mm/kernel_space.hpp"

namespace mk::ioapic {
namespace {

constexpr uint32_t kMasked = 1 << 16, kLevel = 1 << 15, kActiveLow = 1 << 13;

struct Chip {
    volatile uint32_t* registers;
    uint32_t gsi_base;
    uint32_t inputs;
};

constinit Chip chips[acpi::kMaxIoApics] = {};
constinit size_t chip_count = 0;
constinit IrqSpinLock lock{};
constinit acpi::InterruptOverride overrides[acpi::kMaxOverrides] = {};
constinit size_t override_count = 0;

uint32_t read(Chip& chip, uint32_t reg) {
    chip.registers[0] = reg;
    return chip.registers[4];
}

void write(Chip& chip, uint32_t reg, uint32_t value) {
    chip.registers[0] = reg;
    chip.registers[4] = value;
}

Chip* chip_for(uint32_t gsi) {
    for (size_t i = 0; i < chip_count; ++i)
        if (gsi >= chips[i].gsi_base && gsi - chips[i].gsi_base < chips[i].inputs)
            return &chips[i];
    return nullptr;
}

} // namespace

exo::Result<void> init(const acpi::Topology& topology) {
    for (size_t i = 0; i < topology.override_count; ++i)
        overrides[i] = topology.overrides[i];
    override_count = topology.override_count;
    for (size_t i = 0; i < topology.ioapic_count; ++i) {
        const acpi::IoApic& io = topology.ioapics[i];
        uint64_t virt = TRY(vm::map_mmio(io.address, 0x20));
        Chip& chip = chips[chip_count];
        chip.registers = reinterpret_cast<volatile uint32_t*>(virt);
        chip.gsi_base = io.gsi_base;
        chip.inputs = ((read(chip, 1) >> 16) & 0xFF) + 1;
        for (uint32_t n = 0; n < chip.inputs; ++n) {
            write(chip, 0x10 + 2 * n, kMasked);
            write(chip, 0x11 + 2 * n, 0);
        }
        ++chip_count;
        log::info("ioapic: id %u at 0x%x, GSIs %u-%u, all masked", io.id, io.address, chip.gsi_base,
                  chip.gsi_base + chip.inputs - 1);
    }
    return {};
}

exo::Result<void> route(uint32_t gsi, uint8_t vector, uint32_t apic_id, uint16_t flags) {
    LockGuard guard(lock);
    Chip* chip = chip_for(gsi);
    if (chip == nullptr)
        return exo::Status::NotFound;
    if (apic_id > 0xFF)
        return exo::Status::Unsupported; // physical destination is 8 bits without remapping
    uint32_t n = gsi - chip->gsi_base;
    uint32_t low = vector;
    if (acpi::isa_level_triggered(flags))
        low |= kLevel;
    if (acpi::isa_active_low(flags))
        low |= kActiveLow;
    write(*chip, 0x11 + 2 * n, apic_id << 24);
    write(*chip, 0x10 + 2 * n, low);
    return {};
}

exo::Result<void> set_masked(uint32_t gsi, bool masked) {
    LockGuard guard(lock);
    Chip* chip = chip_for(gsi);
    if (chip == nullptr)
        return exo::Status::NotFound;
    uint32_t reg = 0x10 + 2 * (gsi - chip->gsi_base);
    uint32_t low = read(*chip, reg);
    write(*chip, reg, masked ? (low | kMasked) : (low & ~kMasked));
    return {};
}

void line_to_gsi(uint32_t line, uint32_t& gsi, uint16_t& flags) {
    gsi = line;
    flags = 0; // conforms to the bus: edge-triggered, active high for ISA
    for (size_t i = 0; i < override_count; ++i) {
        if (line < 16 && overrides[i].bus == 0 && overrides[i].source == line) {
            gsi = overrides[i].gsi;
            flags = overrides[i].flags;
        }
    }
}

bool serves(uint32_t gsi) {
    LockGuard guard(lock);
    return chip_for(gsi) != nullptr;
}

} // namespace mk::ioapic
