// The root process: the kernel loads one boot module (init, or a test program) as the first
// user process and gives it every capability: all memory but the kernel's reserve, the log,
// all I/O ports, all interrupt lines and all device memory, and the boot modules, mapped
// read-only and described by a BootInfo page (exo/boot_info.hpp).
#pragma once

#include "lib/multiboot2.hpp"
#include "object/process.hpp"

#include <string_view>

namespace mk::user {

// Loads module `name` and starts it with `args` in its BootInfo. A missing module or a
// malformed ELF is logged and reported, never fatal.
exo::Result<Ref<Process>> start_root(const mb2::BootInfo& boot, std::string_view name,
                                     std::string_view args);

} // namespace mk::user
