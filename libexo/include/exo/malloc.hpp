// libexo's malloc (docs/memsrv.md): malloc, free, calloc, realloc, aligned_alloc,
// posix_memalign and malloc_usable_size (exo/libc.h), and C++ operator new/delete, over the
// allocator core's ThreadCache (exo/alloc/thread_cache.hpp) whose slab is memsrv.
//
// The first allocation connects to memsrv: through the process's link to init (its manifest
// line says `connect=memsrv`), or over the ends its creator granted in kSlotMemsrvTx/Rx. It
// donates a quota to memsrv: `exo_malloc_quota` bytes if the program defines that constant,
// else half of what its own quota has free then (at least 64 KiB). The heap can never hold more
// than the donation; a spent donation makes malloc return nullptr.
//
// A detected misuse (a double free, a pointer that is no heap object, a free-list link
// overwritten after free) ends the process with a log line that names the pointer, exit code
// kMallocFaultExit. If memsrv restarts, the next refill connects again with a fresh heap
// window; blocks from before stay valid, and their frees are counted (orphaned), not reused.
//
// One cache per process, with no lock: libexo has no thread API yet, so only one thread of a
// process may use malloc.
#pragma once

#include <exo/proto/memsrv.hpp>
#include <exo/result.hpp>

#include <stdint.h>

namespace exo {

inline constexpr int kMallocFaultExit = 134;

struct MallocInfo {
    bool connected;
    uint32_t generation; // heap windows used: 1, or more after memsrv restarted
    uint64_t donated;    // bytes of quota given to memsrv (this connection)
    uint64_t refills;    // round trips to memsrv of each kind
    uint64_t flushes;
    uint64_t large;         // page runs allocated and freed
    uint64_t frames_mapped; // frames memsrv moved to us
    uint64_t frames_unmapped;
    uint64_t orphaned_frees; // frees of blocks from before a memsrv restart
};
MallocInfo malloc_info();

// memsrv's statistics of this process's heap, after flushing this thread's cache when asked
// (then objects_out counts only blocks in use).
Result<proto::memsrv::StatsReply> malloc_stats(bool flush_cache);

// Gives every object of this thread's cache back to memsrv (one Flush message per class that
// holds any), so that memsrv's statistics count only blocks in use.
void malloc_flush();

// Flushes the cache and has memsrv return every empty span: after everything is freed, what
// the heap still holds is memsrv's metadata for it.
Status malloc_trim();

} // namespace exo

// Defined by a program that wants another donation than the default.
extern "C" [[gnu::weak]] const uint64_t exo_malloc_quota;
