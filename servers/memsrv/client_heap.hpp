// One client's heap in memsrv: the slab core (exo/alloc/heap.hpp) over a page source that
// hands out pages of the client's heap window as frames from the client's donated quota, moved
// to the client with the reply (docs/memsrv.md). memsrv never maps those pages; the core's
// metadata (spans, page-map leaves) is mapped here, in memsrv, and is charged to the donation
// too. Single-threaded: memsrv serves every client from one thread.
#pragma once

#include <exo/alloc/heap.hpp>
#include <exo/cap.hpp>
#include <exo/layout.hpp>
#include <exo/proto/memsrv.hpp>

#include "window_space.hpp"

namespace memsrv {

namespace wire = exo::proto::memsrv;

struct NoLock {
    void lock() {}
    void unlock() {}
};

// Addresses the core sees: the client's window moved to kHeapArea (a fixed base, so the page
// map's bounds are constants); the client's own addresses are these plus its window's offset.
using WindowMap = exo::alloc::BasicPageMap<exo::alloc::Span, exo::kHeapArea, 30, 9>;
static_assert(wire::kWindowBytes == uint64_t{1} << 30);

class ClientPages;

// What a reply collects while the core works: frames to move, ranges to unmap, the first fault.
struct ReplyChanges {
    wire::Extent maps[wire::kMaxMaps];
    uint32_t map_count = 0;
    uint32_t frames = 0;
    wire::Extent unmaps[wire::kMaxUnmaps];
    uint32_t unmap_count = 0;
    wire::Fault fault = wire::Fault::None;
    uint64_t fault_pointer = 0;
    bool broken = false; // a frame could not be moved to the client: drop it
};

class ClientPages {
public:
    // `memory`: the donated quota (Manage); `tx`: our producer end of the client's responses;
    // `meta_base`: where this client's metadata is mapped in memsrv.
    void start(exo::Slot memory, exo::Slot tx, uint64_t delta, uint64_t meta_base);
    // Unmaps the metadata and deletes the donation (the client's frames die with its mappings).
    void stop();

    void begin(ReplyChanges* changes) { changes_ = changes; }

    // PageRunSource: pages of the window, as frames moved to the client.
    exo::Result<void*> allocate_pages(size_t pages, size_t align);
    void free_pages(void* base, size_t pages);
    // The core's metadata: mapped here.
    exo::Result<void*> allocate_meta_pages(size_t pages);

    uint64_t delta() const { return delta_; }
    exo::Slot memory() const { return memory_; }

    // A run's pages as the frames that make it: rounded up so that at most kMaxFrames frames
    // (each a power of two, at most 4 MiB) cover it.
    static uint64_t frame_pages(uint64_t pages);

private:
    static constexpr uint64_t kMetaChunkPages = 16;

    exo::Slot memory_ = exo::kNullSlot;
    exo::Slot tx_ = exo::kNullSlot;
    uint64_t delta_ = 0;
    uint64_t meta_base_ = 0;
    uint64_t meta_chunks_ = 0;
    uint64_t meta_left_ = 0; // pages left in the newest chunk
    WindowSpace<wire::kWindowBytes / exo::kPageSize> space_;
    ReplyChanges* changes_ = nullptr;
};

using ClientHeap = exo::alloc::Heap<ClientPages, NoLock, WindowMap>;

} // namespace memsrv
