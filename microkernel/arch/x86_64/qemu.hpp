// QEMU's isa-debug-exit device (iobase 0xf4): writing v makes QEMU exit with status (v << 1) | 1.
// The guest test harness (tests/guest/harness.py) knows these codes; on real hardware the write
// is ignored and the caller halts.
#pragma once

#include <stdint.h>

namespace mk::qemu {

enum class ExitCode : uint32_t {
    Pass = 0x10,  // QEMU exit status 33
    Fail = 0x11,  // 35
    Panic = 0x12, // 37
};

[[noreturn]] void exit(ExitCode code);
// Writes `value` itself (SystemShutdown: exo::kShutdownBase + the user's code).
[[noreturn]] void exit_value(uint32_t value);

} // namespace mk::qemu
