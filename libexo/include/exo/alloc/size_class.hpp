// Size classes of the allocator core (libexo, portable): 16 small bins of 8..128 B in steps of 8,
// then 4 classes per doubling up to 32 KiB; anything larger is a "large" page run. Also the span
// geometry of each class (pages per span, objects per span).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace exo::alloc {

inline constexpr size_t kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;
inline constexpr unsigned kSmallBins = 16; // 8, 16, ..., 128
inline constexpr size_t kSmallMax = 128;
inline constexpr unsigned kClassesPerDoubling = 4;
inline constexpr size_t kMaxClassSize = 32768; // larger requests are page runs
inline constexpr unsigned kClasses = kSmallBins + 8 * kClassesPerDoubling; // 48
inline constexpr uint32_t kMaxObjectsPerSpan = 2048; // the span's allocated bitmap, in bits
inline constexpr unsigned kLargeClass = 0xFFFF;      // Span::cls of a large page run

// The class that serves `size` bytes (size <= kMaxClassSize); 0 bytes is the smallest class.
constexpr unsigned class_of(size_t size) {
    if (size <= kSmallMax)
        return size == 0 ? 0 : static_cast<unsigned>((size - 1) >> 3);
    size_t n = size - 1;
    unsigned width = 64 - static_cast<unsigned>(__builtin_clzll(n)); // n in [2^(w-1), 2^w)
    unsigned index = static_cast<unsigned>((n - (size_t{1} << (width - 1))) >> (width - 3));
    return kSmallBins + (width - 8) * kClassesPerDoubling + index;
}

constexpr size_t class_size(unsigned cls) {
    if (cls < kSmallBins)
        return (cls + 1) * 8;
    unsigned group = (cls - kSmallBins) / kClassesPerDoubling;
    unsigned index = (cls - kSmallBins) % kClassesPerDoubling;
    unsigned width = group + 8;
    return (size_t{1} << (width - 1)) + (index + 1) * (size_t{1} << (width - 3));
}

// A span is at least 8 objects and at most 64 KiB unless 8 objects need more, and never more
// objects than the bitmap holds: 8 B -> 4 pages of 2048 objects, 32 KiB -> 64 pages of 8.
constexpr uint32_t span_pages(unsigned cls) {
    size_t size = class_size(cls);
    size_t bytes = 64 * 1024;
    if (bytes > kMaxObjectsPerSpan * size)
        bytes = kMaxObjectsPerSpan * size;
    if (bytes < 8 * size)
        bytes = 8 * size;
    return static_cast<uint32_t>((bytes + kPageSize - 1) / kPageSize);
}

constexpr uint32_t span_objects(unsigned cls) {
    return static_cast<uint32_t>(span_pages(cls) * kPageSize / class_size(cls));
}

// How many objects a thread cache keeps per class before it flushes half of them: 256 small
// objects, at most ~64 KiB of a larger class, never fewer than 8.
constexpr uint32_t cache_capacity(unsigned cls) {
    size_t size = class_size(cls);
    size_t cap = 64 * 1024 / size;
    if (cap > 256)
        cap = 256;
    if (cap < 8)
        cap = 8;
    return static_cast<uint32_t>(cap);
}

// offset / size without a divide: exact for offset < 2^22 and size < 2^22 (see docs/memsrv.md).
constexpr uint64_t reciprocal(size_t size) {
    return ((uint64_t{1} << 40) + size - 1) / size;
}

static_assert(class_of(0) == 0 && class_of(8) == 0 && class_of(9) == 1 && class_of(128) == 15);
static_assert(class_of(129) == 16 && class_size(16) == 160 && class_size(19) == 256);
static_assert(class_size(kClasses - 1) == kMaxClassSize && class_of(kMaxClassSize) == kClasses - 1);
static_assert(span_objects(0) == 2048 && span_objects(kClasses - 1) == 8);
static_assert(span_pages(kClasses - 1) * kPageSize < (size_t{1} << 22));

} // namespace exo::alloc
