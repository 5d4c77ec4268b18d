// What fault-child does, by the low byte of its argument (the rest is an operand).
#pragma once

#include <exo/spawn.hpp>
#include <stdint.h>

namespace exo::test {

enum class ChildMode : uint8_t {
    Exit = 0,             // exits with the operand
    ReadUnmapped = 1,     // #PF reading an unmapped page
    WriteReadOnly = 2,    // #PF writing its own rodata
    ExecuteData = 3,      // #PF executing its own data (NX)
    DivideByZero = 4,     // #DE
    InvalidOpcode = 5,    // #UD
    Privileged = 6,       // #GP (hlt in ring 3)
    PortWithoutGrant = 7, // #GP (in from a port it was not given)
    ReadParent = 8,       // #PF reading the parent's address (operand)
    ProbeCaps = 9,        // exits with how many of its slots hold a capability
    Spin = 10,            // runs until killed
    KernelRead = 11,      // #PF reading the kernel image
};

constexpr uint64_t child_arg(ChildMode mode, uint64_t operand = 0) {
    return uint64_t(mode) | (operand << 8);
}

// Starts the boot module fault-child in `mode`, with a 512 KiB quota and the log.
inline Result<Child> start_fault_child(const BootInfo& boot, ChildMode mode, uint64_t operand = 0) {
    const BootModule* m = find_module(boot, "fault-child");
    if (m == nullptr)
        return Status::NotFound;
    SpawnOptions o;
    o.name = "fault-child";
    o.quota_bytes = 512 * 1024;
    o.arg = child_arg(mode, operand);
    return spawn(reinterpret_cast<const void*>(m->address), m->size, o);
}

} // namespace exo::test
