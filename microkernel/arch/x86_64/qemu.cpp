// Leaving QEMU from the guest, for unattended test and benchmark runs.
#include "arch/x86_64/qemu.hpp"

#include "arch/x86_64/cpu.hpp"

namespace mk::qemu {

void exit(ExitCode code) {
    constexpr uint16_t kDebugExitPort = 0xF4;
    cpu::outl(kDebugExitPort, uint32_t(code));
    cpu::halt_forever(); // no device: stay halted
}

} // namespace mk::qemu
