// What fault-child does, by the low byte of its argument (the rest is an operand).
#pragma once

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

} // namespace exo::test
