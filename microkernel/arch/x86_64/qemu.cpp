// Leaving QEMU from the guest, for unattended test and benchmark runs.
#include "arch/x86_64/qemu.hpp"

#include "arch/x86_64/cpu.hpp"

namespace mk::qemu {

void exit_value(uint32_t value) {
    constexpr uint16_t kDebugExitPort = 0xF4;
    cpu::outl(kDebugExitPort, value);
    cpu::halt_forever(); // no device: stay halted
}

void exit(ExitCode code) {
    exit_value(uint32_t(code));
}

} // namespace mk::qemu
