// The page map of the allocator core (libexo, portable): page number -> the span that owns it,
// a two-level radix tree over the 2^AddressBits bytes from Base. The host twin maps the whole
// 47-bit user space (PageMap); memsrv and the guest's libexo map one client's heap window
// (smaller leaves, so a small heap needs few). Leaves come from zero-filled pages and are never
// returned. Writers hold the heap's page lock; readers (every free) take no lock: entries are
// atomics read relaxed, a leaf pointer is published with release and read with acquire.
#pragma once

#include <exo/alloc/size_class.hpp>

#include <atomic>
#include <stddef.h>
#include <stdint.h>

namespace exo::alloc {

struct Span;

// The top of user addresses: every free-list link and pointer the core accepts is below it.
inline constexpr unsigned kUserAddressBits = 47;

template <typename Entry, uintptr_t Base, unsigned AddressBits, unsigned LeafBits>
class BasicPageMap {
public:
    static constexpr uintptr_t kBase = Base;
    static constexpr unsigned kAddressBits = AddressBits;
    static constexpr unsigned kLeafBits = LeafBits;
    static constexpr unsigned kTopBits = kAddressBits - kPageShift - kLeafBits;
    using Leaf = std::atomic<Entry*>;
    static constexpr size_t kLeafBytes = (size_t{1} << kLeafBits) * sizeof(Leaf);
    static_assert(kLeafBytes % kPageSize == 0);
    static_assert(Base % (uintptr_t{1} << (kPageShift + LeafBits)) == 0, "leaves start aligned");

    constexpr BasicPageMap() = default;

    Entry* lookup(const void* address) const {
        uintptr_t a = reinterpret_cast<uintptr_t>(address) - Base;
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
        return top_[((address - Base) >> kPageShift) >> kLeafBits].load(std::memory_order_relaxed);
    }
    void install_leaf(uintptr_t address, void* zeroed) {
        top_[((address - Base) >> kPageShift) >> kLeafBits].store(static_cast<Leaf*>(zeroed),
                                                                  std::memory_order_release);
    }

    // Maps `pages` pages from `base` to `span` (nullptr to unmap). Every leaf must exist.
    void set(uintptr_t base, size_t pages, Entry* span) {
        for (size_t i = 0; i < pages; ++i) {
            uintptr_t page = ((base - Base) >> kPageShift) + i;
            Leaf* leaf = top_[page >> kLeafBits].load(std::memory_order_relaxed);
            leaf[page & kLeafMask].store(span, std::memory_order_relaxed);
        }
    }

    static bool in_range(uintptr_t base, size_t pages) {
        return base >= Base && base - Base + pages * kPageSize <= (uintptr_t{1} << kAddressBits);
    }

private:
    static constexpr uintptr_t kLeafMask = (uintptr_t{1} << kLeafBits) - 1;
    std::atomic<Leaf*> top_[size_t{1} << kTopBits]{};
};

// The host twin's: all of user space, 1 MiB of roots and 2 MiB leaves each covering 1 GiB.
using PageMap = BasicPageMap<Span, 0, kUserAddressBits, 18>;

} // namespace exo::alloc
