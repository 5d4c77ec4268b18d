// A child process for the fault and isolation tests: its argument says what to do. Faulting
// modes end in a CPU exception that must kill this process alone; the others exit with a code
// the parent checks.
#include <exo/cap.hpp>
#include <exo/log.hpp>
#include <exo/runtime.hpp>

#include "child_modes.hpp"

using namespace exo;
using namespace exo::test;

namespace {

const uint64_t kReadOnly = 42;
volatile uint64_t data_word = 0xC3; // `ret`: executable if data were executable

int probe_capabilities() {
    // Only slots 1-4 hold anything; every other slot, the parent's included, is empty here.
    int found = 0;
    for (Slot s = 1; s < kCapSlots; ++s) {
        CapInfo info{};
        if (sys::cap_info(s, &info) == Status::Ok)
            ++found;
    }
    return found;
}

} // namespace

int exo_main(uint64_t arg) {
    uint64_t mode = arg & 0xFF, operand = arg >> 8;
    switch (ChildMode(mode)) {
    case ChildMode::Exit:
        return int(operand);
    case ChildMode::ReadUnmapped:
        return int(*reinterpret_cast<volatile uint64_t*>(0x30000000));
    case ChildMode::WriteReadOnly:
        *const_cast<volatile uint64_t*>(&kReadOnly) = 1;
        return 0;
    case ChildMode::ExecuteData:
        reinterpret_cast<void (*)()>(const_cast<uint64_t*>(&data_word))();
        return 0;
    case ChildMode::DivideByZero: {
        volatile uint64_t zero = operand;
        return int(100 / zero);
    }
    case ChildMode::InvalidOpcode:
        asm volatile("ud2");
        return 0;
    case ChildMode::Privileged:
        asm volatile("hlt");
        return 0;
    case ChildMode::PortWithoutGrant: {
        uint8_t v;
        asm volatile("inb %1, %0" : "=a"(v) : "Nd"(uint16_t(0x60)));
        return v;
    }
    case ChildMode::ReadParent:
        // `operand` is an address that is mapped in the parent: here it is not.
        return int(*reinterpret_cast<volatile uint64_t*>(operand));
    case ChildMode::ProbeCaps:
        return probe_capabilities();
    case ChildMode::Spin:
        for (;;)
            asm volatile("pause");
    case ChildMode::KernelRead:
        return int(*reinterpret_cast<volatile uint64_t*>(0xFFFFFFFF80100000ull));
    }
    return 100;
}
