// User address-space layout. The lower half belongs to the process, except the first 64 KiB
// (a null pointer and small offsets from it always fault) and the last page (the non-canonical
// boundary: `sysret` to it would fault in ring 0 on Intel CPUs).
#pragma once

#include <stdint.h>

namespace exo {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kUserBase = 0x10000;
inline constexpr uint64_t kUserTop = 0x00007FFFFFFFF000ull;

// Where the kernel places the root process's boot information and module images.
inline constexpr uint64_t kBootInfoAddress = 0x00007F0000000000ull;
inline constexpr uint64_t kModuleArea = 0x00007F0000100000ull;
// Default main-thread stack of processes that libexo builds: the top, and its size.
inline constexpr uint64_t kStackTop = 0x00007FFF00000000ull;
inline constexpr uint64_t kStackSize = 64 * 1024;

// libexo's malloc (docs/memsrv.md): the heap windows memsrv hands out pages in (1 GiB each; a
// process moves to the next one only when memsrv restarts), and the pages of the process's own
// malloc bookkeeping (its map of the heap's spans).
inline constexpr uint64_t kHeapArea = 0x0000100000000000ull;
inline constexpr uint64_t kHeapWindows = 64;
inline constexpr uint64_t kMallocMetaArea = 0x00000F0000000000ull;

} // namespace exo
