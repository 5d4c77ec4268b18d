// The slab core of the allocator (libexo, portable; memsrv's layer in the guest, in-process in
// the host twin libexomalloc.so): spans of pages cut into objects of one size class, metadata
// out of band (found through the page map), a per-object allocated bitmap, and batched refills
// and flushes for the thread caches. Large requests are page runs straight from the page source.
// Locking: one lock per class (its span lists and bitmaps) and one page lock (span metadata, the
// page map's writes, the page source); order: class lock, then page lock. The environment
// supplies both the pages and the lock type, so no syscall or libc call lives here.
#pragma once

#include <exo/alloc/fatal.hpp>
#include <exo/alloc/page_map.hpp>
#include <exo/alloc/size_class.hpp>
#include <exo/result.hpp>

#include <concepts>
#include <stddef.h>
#include <stdint.h>

namespace exo::alloc {

// Where pages come from (host: mmap; guest: memsrv's frames charged to the client's quota):
//   Result<void*> allocate_pages(size_t pages, size_t align);  `pages` zero-filled pages
//       aligned to `align` bytes (a power of two >= kPageSize); NoMemory when there are none
//   void free_pages(void* base, size_t pages);  takes back exactly one earlier run
template <typename P>
concept PageRunSource = requires(P& source, void* base, size_t pages, size_t align) {
    { source.allocate_pages(pages, align) } -> std::same_as<Result<void*>>;
    source.free_pages(base, pages);
};

template <typename L>
concept BasicLock = requires(L& lock) {
    lock.lock();
    lock.unlock();
};

template <BasicLock L>
class LockGuard {
public:
    explicit LockGuard(L& lock) : lock_(lock) { lock_.lock(); }
    ~LockGuard() { lock_.unlock(); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    L& lock_;
};

// Span metadata, never inside the span's pages (a user's overflow cannot reach it). The fields
// a free reads without a lock (base, cls, size, reciprocal, objects) are written before the span
// is published in the page map and do not change while it is mapped.
struct Span {
    uintptr_t base = 0;
    uint32_t pages = 0;
    uint32_t cls = 0; // kLargeClass for a page run
    uint64_t reciprocal = 0;
    uint32_t size = 0;
    uint32_t objects = 0;
    uint32_t used = 0; // objects handed out (to thread caches or callers)
    uint32_t hint = 0; // the first bitmap word that may have a clear bit
    Span* prev = nullptr;
    Span* next = nullptr;
    uint64_t bitmap[kMaxObjectsPerSpan / 64] = {}; // bit set = allocated (or past `objects`)
};

// Free-list links, shared by the thread caches and the slab: a link stored in a free object is
// next ^ secret ^ the object's own address (mimalloc's encoding). The secret has its top bit set,
// so a link overwritten with any user pointer or small integer decodes to a non-canonical
// address and is caught when popped.
inline uintptr_t encode_link(const void* next, const void* slot, uint64_t secret) {
    return reinterpret_cast<uintptr_t>(next) ^ secret ^ reinterpret_cast<uintptr_t>(slot);
}
inline uintptr_t decode_link(const void* slot, uint64_t secret) {
    return *static_cast<const uintptr_t*>(slot) ^ secret ^ reinterpret_cast<uintptr_t>(slot);
}
inline bool link_plausible(uintptr_t decoded) {
    return (decoded >> kUserAddressBits) == 0 && (decoded & 7) == 0;
}

// A refill's objects as runs of consecutive objects (memsrv answers with these, so a whole
// batch fits in one message and the slab never writes into the objects).
struct ObjectRun {
    uintptr_t first;
    uint32_t count;
};

// Where the heap's own metadata (spans, page-map leaves) comes from: the page source's
// `allocate_meta_pages(pages)` if it has one (memsrv keeps it apart from the client's heap
// window), its allocate_pages otherwise.
template <typename P>
Result<void*> allocate_meta(P& source, size_t pages) {
    if constexpr (requires { source.allocate_meta_pages(pages); })
        return source.allocate_meta_pages(pages);
    else
        return source.allocate_pages(pages, kPageSize);
}

template <PageRunSource Pages, BasicLock Lock, typename Map = PageMap>
class Heap {
public:
    // Empty spans a class keeps before it returns one to the page source (the hysteresis).
    static constexpr uint32_t kKeepEmptySpans = 1;

    struct ClassStats {
        size_t size;
        size_t spans;
        size_t empty_spans;
        size_t objects_out; // in thread caches or with callers
    };
    struct Stats {
        ClassStats classes[kClasses];
        size_t large_blocks;
        size_t large_pages;
        size_t span_pages;     // pages of live spans (small classes)
        size_t meta_pages;     // span metadata and page-map leaves, never returned
        size_t pages_returned; // to the page source, over the heap's life
        size_t pages_held() const { return span_pages + large_pages + meta_pages; }
    };

    constexpr Heap() = default;
    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;

    // Before any other call. `secret` should be random (the host twin uses AT_RANDOM).
    void init(Pages* pages, uint64_t secret, FatalHandler handler, void* context) {
        pages_ = pages;
        secret_ = secret | (uint64_t{1} << 63);
        handler_ = handler;
        context_ = context;
    }
    uint64_t secret() const { return secret_; }
    void report(HeapError error, const void* pointer) { handler_(context_, error, pointer); }
    Span* lookup(const void* pointer) const { return map_.lookup(pointer); }

    // Moves up to `want` objects of `cls` into an encoded list at *head; returns how many
    // (0: out of memory).
    uint32_t refill(unsigned cls, uint32_t want, void** head);
    // The same without touching the objects: up to `want` objects as at most `max_runs` runs
    // of consecutive objects in `runs`; returns how many objects (*run_count: runs used).
    uint32_t refill_runs(unsigned cls, uint32_t want, ObjectRun* runs, uint32_t max_runs,
                         uint32_t* run_count);
    // Takes back `count` objects of `cls` linked from `head` (encoded links), checking each.
    void flush(unsigned cls, void* head, uint32_t count);
    // Takes back `count` objects of `cls` named in an array, checking each; a bad one is
    // reported and skipped.
    void flush_array(unsigned cls, const uintptr_t* objects, uint32_t count);
    // A page run of at least `size` bytes aligned to `align` (a power of two); nullptr if none.
    void* allocate_large(size_t size, size_t align);
    void free_large(void* pointer);
    // Returns every empty span to the page source.
    void trim();
    Stats stats();
    // Fork: the parent takes every lock before fork() and both sides release them after.
    void lock_all();
    void unlock_all();

private:
    struct SpanList {
        Span* head = nullptr;
        Span* tail = nullptr;
        void push_front(Span* s);
        void push_back(Span* s);
        void remove(Span* s);
    };
    struct Central {
        Lock lock;
        SpanList partial; // spans with a free object, the empty ones at the tail
        size_t spans = 0;
        size_t empty = 0;
        size_t out = 0;
    };

    Span* new_span(unsigned cls);
    void release_span(Central& c, Span* span);
    Span* map_run(void* base, size_t pages);          // page lock held
    void unmap_run(Span* span);                       // page lock held
    Span* alloc_meta();                               // page lock held
    bool ensure_leaves(uintptr_t base, size_t pages); // page lock held
    void return_object(Central& c, unsigned cls, void* object);

    Pages* pages_ = nullptr;
    uint64_t secret_ = 0;
    FatalHandler handler_ = nullptr;
    void* context_ = nullptr;
    template <typename Emit>
    uint32_t take(unsigned cls, uint32_t want, Emit emit);

    Central central_[kClasses]{};
    Lock page_lock_{};
    Span* free_meta_ = nullptr;
    size_t large_blocks_ = 0;
    size_t large_pages_ = 0;
    size_t span_pages_ = 0;
    size_t meta_pages_ = 0;
    size_t pages_returned_ = 0;
    Map map_{};
};

} // namespace exo::alloc

#include <exo/alloc/heap_impl.hpp>
