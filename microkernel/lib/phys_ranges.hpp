// Physical address ranges: carving the reserved parts (kernel image, modules, boot information,
// allocator metadata) out of the memory map's available regions. Portable and host-tested.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace mk {

struct PhysRange {
    uint64_t start;
    uint64_t end; // exclusive; start <= end
};

inline uint64_t align_down(uint64_t v, uint64_t align) {
    return v & ~(align - 1);
}
// Saturates instead of wrapping near 2^64.
inline uint64_t align_up(uint64_t v, uint64_t align) {
    return v > UINT64_MAX - (align - 1) ? align_down(UINT64_MAX, align)
                                        : align_down(v + align - 1, align);
}

// Calls fn(start, end) for every maximal part of `range` that no `reserved` range touches, with
// the part shrunk inward to `align` (a power of two); empty parts are skipped. `reserved` may be
// unsorted and overlapping. O(n^2) in the reserved count, which is a few dozen at most.
template <typename Fn>
void for_each_free_part(PhysRange range, const PhysRange* reserved, size_t count, uint64_t align,
                        Fn&& fn) {
    uint64_t cursor = range.start;
    while (cursor < range.end) {
        bool moved = false;
        for (size_t i = 0; i < count; ++i) {
            if (reserved[i].start <= cursor && cursor < reserved[i].end) {
                cursor = reserved[i].end;
                moved = true;
            }
        }
        if (moved)
            continue;
        uint64_t next = range.end;
        for (size_t i = 0; i < count; ++i) {
            if (reserved[i].start > cursor && reserved[i].start < next)
                next = reserved[i].start;
        }
        uint64_t start = align_up(cursor, align), end = align_down(next, align);
        if (start < end)
            fn(start, end);
        cursor = next;
    }
}

} // namespace mk
