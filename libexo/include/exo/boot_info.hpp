// What the kernel tells the root process (init) at kBootInfoAddress: the boot modules (mapped
// read-only in its address space), the kernel command line's `init.` arguments, and its quota.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace exo {

inline constexpr uint64_t kBootInfoMagic = 0x4f464e49544f4f42ull; // "BOOTINFO"
inline constexpr size_t kBootModules = 56; // programs, manifests and test programs
inline constexpr size_t kBootNameLength = 48;
inline constexpr size_t kBootArgsLength = 256;

struct BootModule {
    char name[kBootNameLength]; // NUL-terminated
    uint64_t address;           // where it is mapped, read-only, in init's address space
    uint64_t size;              // bytes
};
static_assert(sizeof(BootModule) == 64);

struct BootInfo {
    uint64_t magic;
    uint64_t module_count;
    BootModule modules[kBootModules];
    char args[kBootArgsLength]; // what followed `init=` on the kernel command line, NUL-terminated
};
static_assert(sizeof(BootInfo) <= 4096);

} // namespace exo
