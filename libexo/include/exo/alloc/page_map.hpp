// The page map of the allocator core (libexo, portable): page number -> the span that owns it,
// a two-level radix tree over a 47-bit address space. Leaves come from the page source (which
// hands out zero-filled pages) and are never returned. Writers hold the heap's page lock;
// readers (every free) take no lock: entries are atomics read relaxed, a leaf pointer is
// published with release and read with acquire.
#pragma once

#include <exo/alloc/size_class.hpp>

#include <atomic>
#include <stddef.h>
#include <stdint.h>

namespace exo::alloc {

struct Span;

class PageMap {
public:
    static constexpr unsigned kAddressBits = 47;
    static constexpr unsigned kLeafBits = 18; // one leaf: 2 MiB of entries covering 1 GiB
    static constexpr unsigned kTopBits = kAddressBits - kPageShift - kLeafBits;
    static constexpr size_t kLeafBytes = (size_t{1} << kLeafBits) * sizeof(std::atomic<Span*>);
    using Leaf = std::atomic<Span*>;

    constexpr PageMap() = default;

    Span* lookup(const void* address) const {
        uintptr_t a = reinterpret_cast<uintptr_t>(address);
        if (a >> kAddressBits)
            return nullptr;
        uintptr_t page = a >> kPageShift;
        Leaf* leaf = top_[page >> kLeafBits].load(std::memory_order_acquire);
        if (!leaf)
            return nullptr;
        return leaf[page & kLeafMask].load(std::memory_order_relaxed);
    }

    // Whether the leaf covering `address` exists; the caller installs it (with install_leaf)
    // from zero-filled memory of kLeafBytes before set().
    bool has_leaf(uintptr_t address) const {
        return top_[(address >> kPageShift) >> kLeafBits].load(std::memory_order_relaxed);
    }
    void install_leaf(uintptr_t address, void* zeroed) {
        top_[(address >> kPageShift) >> kLeafBits].store(static_cast<Leaf*>(zeroed),
                                                         std::memory_order_release);
    }

    // Maps `pages` pages from `base` to `span` (nullptr to unmap). Every leaf must exist.
    void set(uintptr_t base, size_t pages, Span* span) {
        for (size_t i = 0; i < pages; ++i) {
            uintptr_t page = (base >> kPageShift) + i;
            Leaf* leaf = top_[page >> kLeafBits].load(std::memory_order_relaxed);
            leaf[page & kLeafMask].store(span, std::memory_order_relaxed);
        }
    }

    static bool in_range(uintptr_t base, size_t pages) {
        return base + pages * kPageSize <= (uintptr_t{1} << kAddressBits);
    }

private:
    static constexpr uintptr_t kLeafMask = (uintptr_t{1} << kLeafBits) - 1;
    std::atomic<Leaf*> top_[size_t{1} << kTopBits]{};
};

} // namespace exo::alloc
