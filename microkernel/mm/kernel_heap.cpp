// Kernel heap over exo::ObjectCache (libexo, exo/object_cache.hpp) and the buddy (mm/physical).
// One lock per size class (interrupts disabled while held); per-CPU magazines would remove the
// sharing.
#include "mm/kernel_heap.hpp"

#include "arch/x86_64/layout.h"
#include "arch/x86_64/spinlock.hpp"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"

#include <exo/object_cache.hpp>

#include <new>

namespace mk::heap {
namespace {

// Slab pages are buddy frames seen through the direct map.
struct FramePageSource {
    exo::Result<void*> allocate_page() {
        uint64_t frame = TRY(pmm::allocate(0));
        return vm::phys_to_virt(frame);
    }
    void free_page(void* page) {
        auto r = pmm::free(reinterpret_cast<uint64_t>(page) - DIRECT_MAP_BASE, 0);
        EXO_ASSERT(r.ok(), "a slab page was not a buddy frame");
    }
};
using Cache = exo::ObjectCache<FramePageSource>;

constexpr size_t kClassCount = 8; // 16, 32, ..., 2048
constexpr const char* kClassNames[kClassCount] = {"heap-16",  "heap-32",  "heap-64",   "heap-128",
                                                  "heap-256", "heap-512", "heap-1024", "heap-2048"};

constinit FramePageSource pages{};
// Constructed on first use, not by a global constructor: the heap is usable as soon as the
// buddy is, whatever the order of .init_array.
alignas(Cache) constinit unsigned char storage[kClassCount][sizeof(Cache)] = {};
constinit bool ready = false;
constinit IrqSpinLock locks[kClassCount] = {};

Cache& cache(size_t index) {
    if (!ready) {
        for (size_t i = 0; i < kClassCount; ++i)
            new (storage[i]) Cache(kClassNames[i], kMinClass << i,
                                   kMinClass << i > 64 ? 64 : kMinClass << i, pages);
        ready = true;
    }
    return *std::launder(reinterpret_cast<Cache*>(storage[index]));
}

exo::Result<size_t> class_of(size_t size) {
    if (size == 0 || size > kMaxClass)
        return exo::Status::InvalidArgument;
    size_t index = 0;
    while ((kMinClass << index) < size)
        ++index;
    return index;
}

} // namespace

exo::Result<void*> allocate(size_t size) {
    size_t index = TRY(class_of(size));
    LockGuard guard(locks[index]);
    return cache(index).allocate();
}

exo::Result<void> free(void* block, size_t size) {
    size_t index = TRY(class_of(size));
    LockGuard guard(locks[index]);
    return cache(index).free(block);
}

size_t trim() {
    size_t released = 0;
    for (size_t i = 0; i < kClassCount; ++i) {
        LockGuard guard(locks[i]);
        released += cache(i).release_empty_slabs();
    }
    return released;
}

size_t pages_held() {
    size_t slabs = 0;
    for (size_t i = 0; i < kClassCount; ++i) {
        LockGuard guard(locks[i]);
        slabs += cache(i).stats().slabs;
    }
    return slabs;
}

void log_stats() {
    for (size_t i = 0; i < kClassCount; ++i) {
        Cache::Stats s;
        {
            LockGuard guard(locks[i]);
            s = cache(i).stats();
        }
        log::info("heap: %-9s %5zu live objects in %3zu slabs (%zu empty, %zu per slab)", s.name,
                  s.live_objects, s.slabs, s.empty_slabs, s.objects_per_slab);
    }
}

} // namespace mk::heap

// C++ allocation in ring 0 goes through the heap. Only the nothrow form exists: a plain `new`
// cannot report failure without exceptions, so it is left undefined and fails to link.
void* operator new(size_t size, const std::nothrow_t&) noexcept {
    auto block = mk::heap::allocate(size);
    return block.ok() ? block.value() : nullptr;
}

void operator delete(void* block, size_t size) noexcept {
    if (block == nullptr)
        return;
    auto r = mk::heap::free(block, size);
    EXO_ASSERT(r.ok(), "operator delete of a block the kernel heap does not own");
}

// Unsized delete cannot find the size class; the kernel is compiled with sized deallocation.
void operator delete(void* block) noexcept {
    if (block != nullptr)
        EXO_PANIC("unsized operator delete(%p): use sized delete", block);
}
