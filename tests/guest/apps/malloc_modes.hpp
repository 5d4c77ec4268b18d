// Shared by malloc-test and malloc-child: what a child does (its argument).
#pragma once

#include <exo/caps.hpp>
#include <stdint.h>

namespace exo::test {

enum class MallocMode : uint64_t {
    Fill = 0,           // fills blocks with kSecretByte, signals, waits to be killed
    Probe = 1,          // allocates the same blocks in its own heap: none may hold kSecretByte
    DoubleFree = 2,     // free(p) twice while p is in the cache: malloc's own check
    DoubleFreeLate = 3, // the second free after p went back to memsrv: memsrv's check
    Interior = 4,       // free(p + 8)
    Foreign = 5,        // free of a stack address
    WriteAfterFree = 6, // overwrites a free block's link, then allocates it
    Hog = 7,            // allocates until its donation is spent, signals, waits to be killed
};

inline constexpr uint32_t kIsolationBlocks = 64;
inline constexpr uint32_t kIsolationSize = 1000;
inline constexpr uint8_t kSecretByte = 0xA5;
// The producer end of a ring to the parent, for Fill and Hog.
inline constexpr Slot kSlotMallocSignal = 14;

} // namespace exo::test
