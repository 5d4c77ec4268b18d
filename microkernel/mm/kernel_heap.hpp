// Kernel heap: power-of-two size classes (16 B to 2 KiB), each an ObjectCache of buddy frames.
// Allocation returns a Result: running out of memory is an error the caller handles, never a
// panic. Typed kernel objects get caches of their own (TypedCache) beside these.
#pragma once

#include <exo/result.hpp>

#include <stddef.h>

namespace mk::heap {

inline constexpr size_t kMinClass = 16;
inline constexpr size_t kMaxClass = 2048;

exo::Result<void*> allocate(size_t size);
// `size` must be the size given to allocate(); the slab header proves the block is ours.
exo::Result<void> free(void* block, size_t size);

// Returns empty slabs to the buddy; returns how many pages went back.
size_t trim();
// One line per size class: live objects and slabs ("who holds what").
void log_stats();
// Frames the heap holds from the buddy (for the memory accounting).
size_t pages_held();

} // namespace mk::heap
