// Host-test environment for the allocator core: a heap over mmap whose fatal handler records
// the detections instead of aborting, so a test can check each one and go on.
#pragma once

#include <exo/alloc/fatal.hpp>

#include "../../libexo/host/mmap_pages.hpp"

#include <memory>
#include <utility>
#include <vector>

namespace exo::test {

struct RecordingHeap {
    alloc::MmapPages pages;
    alloc::HostHeap heap;
    std::vector<std::pair<alloc::HeapError, const void*>> errors;

    RecordingHeap() { heap.init(&pages, 0x9E3779B97F4A7C15ull, &record, this); }
    static void record(void* self, alloc::HeapError error, const void* pointer) {
        static_cast<RecordingHeap*>(self)->errors.emplace_back(error, pointer);
    }
    // Bytes with callers: objects out of the slab minus those in `caches`, plus page runs.
    template <typename... Caches>
    size_t live_bytes(const Caches&... caches) {
        auto stats = heap.stats();
        size_t bytes = stats.large_pages * alloc::kPageSize;
        for (unsigned cls = 0; cls < alloc::kClasses; ++cls) {
            size_t cached = (size_t{0} + ... + caches.cached(cls));
            bytes += (stats.classes[cls].objects_out - cached) * stats.classes[cls].size;
        }
        return bytes;
    }
};

// The heap holds a 1 MiB page-map root: keep it off the stack.
inline std::unique_ptr<RecordingHeap> make_heap() {
    return std::make_unique<RecordingHeap>();
}

} // namespace exo::test
