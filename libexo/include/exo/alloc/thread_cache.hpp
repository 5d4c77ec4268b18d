// The per-thread cache of the allocator (libexo, portable): one encoded singly linked free list
// per size class. The hit path of allocate() and free() for a cached class takes no lock, no
// atomic read-modify-write and no call into the heap; misses refill or flush half a cache's
// capacity in one call. A cache accepts frees of objects any thread allocated (as tcmalloc's do):
// they join this thread's lists and reach the slab core in the next batched flush.
// Not thread-safe: one cache per thread.
#pragma once

#include <exo/alloc/heap.hpp>

namespace exo::alloc {

template <typename HeapT>
class ThreadCache {
public:
    constexpr ThreadCache() {
        for (unsigned cls = 0; cls < kClasses; ++cls)
            bins_[cls].capacity = cache_capacity(cls);
    }
    // Attached from the start (a cache in static storage: no check on each call). The heap's
    // secret is read at the first refill, which comes before any object can be freed.
    constexpr explicit ThreadCache(HeapT* heap) : ThreadCache() { heap_ = heap; }
    ThreadCache(const ThreadCache&) = delete;
    ThreadCache& operator=(const ThreadCache&) = delete;

    void attach(HeapT* heap) {
        heap_ = heap;
        secret_ = heap->secret();
    }
    bool attached() const { return heap_ != nullptr; }
    HeapT* heap() const { return heap_; }

    // nullptr: out of memory (or an impossible size).
    void* allocate(size_t size) {
        if (size > kMaxClassSize) [[unlikely]]
            return heap_->allocate_large(size, kPageSize);
        unsigned cls = class_of(size);
        Bin& bin = bins_[cls];
        void* object = bin.head;
        if (!object) [[unlikely]]
            return allocate_slow(cls);
        uintptr_t next = decode_link(object, secret_);
        if (!link_plausible(next)) [[unlikely]]
            return corrupt_list(cls, object);
        bin.head = reinterpret_cast<void*>(next);
        bin.count--;
        *static_cast<uintptr_t*>(object) = 0; // a fresh object never looks free (see free())
        return object;
    }

    // `align` a power of two. Classes whose size is a power of two hold objects aligned to it
    // (spans start on a page), so small aligned requests use them; the rest are page runs.
    void* allocate_aligned(size_t align, size_t size) {
        if (align <= 8)
            return allocate(size);
        if (align <= kPageSize && size <= kMaxClassSize) {
            size_t n = size < align ? align : size;
            size_t pow2 = size_t{1} << (64 - __builtin_clzll(n - 1));
            if (pow2 <= kMaxClassSize)
                return allocate(pow2);
        }
        return heap_->allocate_large(size, align);
    }

    void free(void* pointer) {
        if (!pointer)
            return;
        auto* span = heap_->lookup(pointer);
        if (!span) [[unlikely]] {
            heap_->report(HeapError::ForeignPointer, pointer);
            return;
        }
        unsigned cls = span->cls;
        if (cls == kLargeClass) [[unlikely]] {
            heap_->free_large(pointer);
            return;
        }
        uintptr_t offset = reinterpret_cast<uintptr_t>(pointer) - span->base;
        uint64_t index = (offset * span->reciprocal) >> 40;
        if (index * span->size != offset || index >= span->objects) [[unlikely]] {
            heap_->report(HeapError::InteriorPointer, pointer);
            return;
        }
        // A free object's first word is a plausible encoded link; a live one almost never is
        // (allocate() zeroes it, and user data matches only by knowing the secret). Only then
        // is the list searched, so a second free while the object is cached here is caught.
        if (link_plausible(decode_link(pointer, secret_))) [[unlikely]]
            return free_suspect(cls, pointer);
        push(cls, pointer);
    }

    // The bytes usable at `pointer` (0 for nullptr; a bad pointer is reported and gives 0).
    size_t usable_size(const void* pointer) {
        if (!pointer)
            return 0;
        auto* span = heap_->lookup(pointer);
        if (!span) {
            heap_->report(HeapError::ForeignPointer, pointer);
            return 0;
        }
        if (span->cls == kLargeClass)
            return span->pages * kPageSize - (reinterpret_cast<uintptr_t>(pointer) - span->base);
        return span->size - (reinterpret_cast<uintptr_t>(pointer) - span->base) % span->size;
    }

    // calloc: nullptr when count * size overflows.
    void* allocate_zeroed(size_t count, size_t size) {
        size_t bytes;
        if (__builtin_mul_overflow(count, size, &bytes))
            return nullptr;
        void* p = allocate(bytes);
        if (p && bytes <= kMaxClassSize) // page runs come zero-filled from the page source
            __builtin_memset(p, 0, bytes);
        return p;
    }

    // realloc: grows or shrinks in place when the class still fits, else moves.
    void* reallocate(void* pointer, size_t size) {
        if (!pointer)
            return allocate(size);
        size_t usable = usable_size(pointer);
        if (usable == 0)
            return nullptr; // reported
        if (size <= usable && (size > usable / 2 || usable <= kSmallMax))
            return pointer;
        void* moved = allocate(size);
        if (!moved)
            return nullptr;
        __builtin_memcpy(moved, pointer, size < usable ? size : usable);
        free(pointer);
        return moved;
    }

    // Everything cached back to the heap (thread exit, or before reading exact statistics).
    void flush_all() {
        for (unsigned cls = 0; cls < kClasses; ++cls) {
            Bin& bin = bins_[cls];
            if (bin.count)
                heap_->flush(cls, bin.head, bin.count);
            bin.head = nullptr;
            bin.count = 0;
        }
    }

    // After the thread's exit destructor: every free goes straight back, nothing is kept.
    void retire() {
        flush_all();
        for (Bin& bin : bins_)
            bin.capacity = 0;
    }

    // Forgets every cached object without giving it back (libexo's malloc, after memsrv went
    // away: those objects belonged to the heap that went with it).
    void abandon() {
        for (Bin& bin : bins_) {
            bin.head = nullptr;
            bin.count = 0;
        }
    }

    uint32_t cached(unsigned cls) const { return bins_[cls].count; }

private:
    struct Bin {
        void* head = nullptr;
        uint32_t count = 0;
        uint32_t capacity = 0;
    };

    // Every call on the hit paths is a tail call, so they need no stack frame.
    void push(unsigned cls, void* pointer) {
        Bin& bin = bins_[cls];
        *static_cast<uintptr_t*>(pointer) = encode_link(bin.head, pointer, secret_);
        bin.head = pointer;
        if (++bin.count > bin.capacity) [[unlikely]]
            return flush_half(cls);
    }

    [[gnu::noinline]] void free_suspect(unsigned cls, void* pointer) {
        if (in_bin(cls, pointer))
            return heap_->report(HeapError::DoubleFree, pointer);
        push(cls, pointer);
    }

    [[gnu::noinline]] void* allocate_slow(unsigned cls) {
        secret_ = heap_->secret();
        Bin& bin = bins_[cls];
        uint32_t want = bin.capacity / 2 ? bin.capacity / 2 : 1;
        bin.count = heap_->refill(cls, want, &bin.head);
        if (bin.count == 0)
            return nullptr;
        return allocate(class_size(cls));
    }

    [[gnu::noinline]] void* corrupt_list(unsigned cls, void* object) {
        heap_->report(HeapError::CorruptLink, object);
        bins_[cls].head = nullptr; // the rest of the list is never followed (it leaks)
        bins_[cls].count = 0;
        return allocate_slow(cls);
    }

    [[gnu::noinline]] bool in_bin(unsigned cls, const void* pointer) const {
        const void* object = bins_[cls].head;
        for (uint32_t i = 0; i < bins_[cls].count && object; ++i) {
            if (object == pointer)
                return true;
            uintptr_t next = decode_link(object, secret_);
            if (!link_plausible(next))
                return false; // allocate() reports it when it gets there
            object = reinterpret_cast<const void*>(next);
        }
        return false;
    }

    // Keeps the newest capacity/2 objects (hot in the CPU cache) and flushes the rest.
    [[gnu::noinline]] void flush_half(unsigned cls) {
        Bin& bin = bins_[cls];
        uint32_t keep = bin.capacity / 2;
        if (keep == 0) {
            heap_->flush(cls, bin.head, bin.count);
            bin.head = nullptr;
            bin.count = 0;
            return;
        }
        void* last = bin.head;
        for (uint32_t i = 1; i < keep; ++i) {
            uintptr_t next = decode_link(last, secret_);
            if (!link_plausible(next)) {
                heap_->report(HeapError::CorruptLink, last);
                bin.head = nullptr;
                bin.count = 0;
                return;
            }
            last = reinterpret_cast<void*>(next);
        }
        uintptr_t rest = decode_link(last, secret_);
        if (!link_plausible(rest)) {
            heap_->report(HeapError::CorruptLink, last);
            bin.head = nullptr;
            bin.count = 0;
            return;
        }
        *static_cast<uintptr_t*>(last) = encode_link(nullptr, last, secret_);
        heap_->flush(cls, reinterpret_cast<void*>(rest), bin.count - keep);
        bin.count = keep;
    }

    HeapT* heap_ = nullptr;
    uint64_t secret_ = 0;
    Bin bins_[kClasses];
};

} // namespace exo::alloc
