// Starting a process from an ELF image in user mode (what init does for every server): a
// quota split from the caller's, a new address space filled page by page, the capabilities
// the child should hold, and its first thread. The child's memory is all charged to its
// own quota, which the caller keeps to see that everything came back when the child ends.
#pragma once

#include <exo/boot_info.hpp>
#include <exo/cap.hpp>

namespace exo {

struct SpawnGrant {
    Slot src;        // in the caller
    Slot dst;        // in the child
    uint32_t rights; // mask
};

struct SpawnOptions {
    const char* name = "child";
    uint64_t quota_bytes = 1 << 20; // split from `memory`; becomes the child's kSlotMemory
    Slot memory = kSlotMemory;
    bool give_log = true; // a copy of the caller's kSlotLog as the child's kSlotLog
    const SpawnGrant* grants = nullptr;
    size_t grant_count = 0;
    uint64_t arg = 0; // rdi of the child's first thread
};

struct Child {
    Cap<Process> process;
    Cap<Memory> quota;
};

// InvalidArgument/Malformed/... from the ELF parser for a bad image; any syscall's status
// otherwise. On failure nothing stays charged.
Result<Child> spawn(const void* elf, size_t size, const SpawnOptions& options);

// The boot module called `name`, or null.
const BootModule* find_module(const BootInfo& info, const char* name);

} // namespace exo
