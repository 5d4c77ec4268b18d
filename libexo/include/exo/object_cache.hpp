// Slab-style object caches (libexo, portable core): one 4 KiB page per slab, a header with a free
// bitmap at its start, fixed-size slots after it. The environment supplies the pages: the kernel
// heap uses buddy frames, a ring-3 server (memsrv) its own memory, the host tests aligned_alloc.
#pragma once

#include <exo/assert.hpp>
#include <exo/result.hpp>
#include <exo/status.hpp>

#include <concepts>
#include <new>
#include <stddef.h>
#include <stdint.h>
#include <type_traits>
#include <utility>

namespace exo {

// Where slab pages come from:
//   Result<void*> allocate_page();  a 4 KiB, 4 KiB-aligned page, contents undefined
//                                   (kernel: a buddy frame through the direct map); NoMemory
//                                   (or another failure) when there is none
//   void free_page(void* page);     takes back a page that allocate_page() returned
template <typename P>
concept PageSource = requires(P& source, void* page) {
    { source.allocate_page() } -> std::same_as<Result<void*>>;
    source.free_page(page);
};

// Ownership: the cache owns every slab page from allocate_page() until release_empty_slabs()
// (or its destructor) hands it back; callers own the objects they allocated until free().
// Not synchronized: whoever shares a cache serializes calls to it, so the lock is the
// environment's choice and stays outside (the kernel heap: an IrqSpinLock per cache).
// Objects are NOT zeroed: a fresh slot holds kPoison, a reused one whatever the last owner left
// minus the poison written on free, so constructors must initialize every field.
template <PageSource Pages>
class ObjectCache {
public:
    static constexpr size_t kPageSize = 4096;
    static constexpr size_t kMinSlotSize = 8;
    static constexpr uint8_t kPoison = 0x6B; // fills every free slot (as Linux's POISON_FREE)
    static constexpr uint64_t kSlabMagic = 0x51AB'CAC4'E0B1'EC75ull;

    struct Stats {
        const char* name;
        size_t object_size; // the slot size: the requested size rounded up to the alignment
        size_t objects_per_slab;
        size_t live_objects;
        size_t slabs;
        size_t empty_slabs;
    };

    // object_size >= 1, align a power of two <= 4096, and at least one slot must fit beside the
    // header. These are the caller's constants, never untrusted input, so violations assert.
    ObjectCache(const char* name, size_t object_size, size_t align, Pages& source)
        : name_(name), source_(&source) {
        EXO_ASSERT(object_size >= 1, "object cache: zero object size");
        EXO_ASSERT(align != 0 && (align & (align - 1)) == 0 && align <= kPageSize,
                   "object cache: alignment must be a power of two <= 4096");
        size_t slot_align = align < kMinSlotSize ? kMinSlotSize : align;
        size_t size = object_size < kMinSlotSize ? kMinSlotSize : object_size;
        EXO_ASSERT(size <= kPageSize, "object cache: object larger than a slab");
        slot_size_ = round_up(size, slot_align);
        first_offset_ = round_up(sizeof(SlabHeader), slot_align);
        slots_ = first_offset_ < kPageSize ? (kPageSize - first_offset_) / slot_size_ : 0;
        EXO_ASSERT(slots_ >= 1, "object cache: no object fits in a slab");
        EXO_ASSERT(slots_ <= kBitmapWords * 64, "object cache: bitmap too small");
    }
    ObjectCache(const ObjectCache&) = delete; // slabs point at their owner: never copy or move
    ObjectCache& operator=(const ObjectCache&) = delete;

    // Destroying a cache that still has live objects would leave them dangling: a bug.
    ~ObjectCache() {
        EXO_ASSERT(live_ == 0, "object cache destroyed with live objects");
        release_empty_slabs();
    }

    // An uninitialized slot aligned to `align`; NoMemory when the page source is exhausted.
    Result<void*> allocate() {
        SlabHeader* slab = lists_[kPartial].head;
        if (slab == nullptr)
            slab = lists_[kEmpty].head;
        if (slab == nullptr)
            slab = TRY(new_slab());
        size_t slot = take_first_free(slab);
        ++live_;
        relist(slab);
        return static_cast<void*>(reinterpret_cast<uint8_t*>(slab) + first_offset_ +
                                  slot * slot_size_);
    }

    // Checks that `object` is a live object of this cache, without changing anything:
    // null -> InvalidArgument; page not a slab of this cache -> OutOfRange; not at a slot
    // boundary -> Misaligned; slot already free -> BadState.
    // SAFETY: `object` must point into readable memory that some allocator of the caller's
    // handed out (the kernel heap guarantees it): the header of its 4 KiB page is read to
    // recognize the slab.
    Result<void> check_live(const void* object) const {
        TRY(locate(object));
        return {};
    }

    // Returns `object` to its slab and poisons its whole slot. Validated as check_live(); on
    // error nothing changes.
    Result<void> free(void* object) {
        Location at = TRY(locate(object));
        __builtin_memset(object, kPoison, slot_size_);
        at.slab->free_bits[at.slot / 64] |= uint64_t(1) << (at.slot % 64);
        ++at.slab->free_count;
        --live_;
        relist(at.slab);
        return {};
    }

    // Hands every empty slab back to the page source; returns how many.
    size_t release_empty_slabs() {
        size_t released = 0;
        while (SlabHeader* slab = lists_[kEmpty].head) {
            unlink(slab);
            slab->magic = 0; // a stale pointer into the page no longer matches
            slab->owner = nullptr;
            source_->free_page(slab);
            ++released;
        }
        return released;
    }

    Stats stats() const {
        return Stats{name_,
                     slot_size_,
                     slots_,
                     live_,
                     lists_[kPartial].count + lists_[kFull].count + lists_[kEmpty].count,
                     lists_[kEmpty].count};
    }

    // Walks all slabs: headers, list links and membership, bitmaps, free counts and the live
    // count agree. For tests and self-tests; O(slabs * slots / 64).
    bool check_invariants() const {
        size_t total_slabs = lists_[kPartial].count + lists_[kFull].count + lists_[kEmpty].count;
        size_t live = 0;
        for (uint32_t list = 0; list < kListCount; ++list) {
            size_t seen = 0;
            const SlabHeader* prev = nullptr;
            for (const SlabHeader* s = lists_[list].head; s != nullptr; s = s->next) {
                if (++seen > total_slabs) // a cycle, or a count that lies
                    return false;
                if (s->magic != kSlabMagic || s->owner != this || s->list != list ||
                    s->prev != prev || (reinterpret_cast<uintptr_t>(s) & (kPageSize - 1)) != 0)
                    return false;
                if (!bitmap_agrees(s) || s->free_count > slots_ || list_for(s) != list)
                    return false;
                live += slots_ - s->free_count;
                prev = s;
            }
            if (seen != lists_[list].count)
                return false;
        }
        return live == live_;
    }

private:
    enum : uint32_t { kPartial = 0, kFull = 1, kEmpty = 2, kListCount = 3 };
    // Enough bits for the smallest slot: fewer than 4096 / kMinSlotSize slots fit in a slab.
    static constexpr size_t kBitmapWords = kPageSize / kMinSlotSize / 64;

    // At the start of every slab page. Set bit = free slot; bits at or beyond slots_ stay 0.
    struct SlabHeader {
        uint64_t magic;
        const ObjectCache* owner;
        SlabHeader* prev;
        SlabHeader* next;
        uint32_t free_count;
        uint32_t list; // kPartial, kFull or kEmpty: the list this slab is linked in
        uint64_t free_bits[kBitmapWords];
    };
    static_assert(sizeof(SlabHeader) < kPageSize / 2);

    struct List {
        SlabHeader* head = nullptr;
        size_t count = 0;
    };

    struct Location {
        SlabHeader* slab;
        size_t slot;
    };

    static constexpr size_t round_up(size_t value, size_t align) {
        return (value + align - 1) & ~(align - 1);
    }

    // Bit tricks rather than __builtin_popcountll, which may call libgcc without -mpopcnt.
    static unsigned popcount(uint64_t x) {
        x = x - ((x >> 1) & 0x5555555555555555ull);
        x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
        x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
        return unsigned((x * 0x0101010101010101ull) >> 56);
    }

    uint32_t list_for(const SlabHeader* slab) const {
        if (slab->free_count == 0)
            return kFull;
        return slab->free_count == slots_ ? kEmpty : kPartial;
    }

    bool bitmap_agrees(const SlabHeader* slab) const {
        size_t free = 0;
        for (size_t w = 0; w < kBitmapWords; ++w) {
            uint64_t bits = slab->free_bits[w];
            size_t first = w * 64;
            if (first + 64 > slots_) { // no bit may be set for a slot that does not exist
                uint64_t valid = first >= slots_ ? 0 : (uint64_t(1) << (slots_ - first)) - 1;
                if (bits & ~valid)
                    return false;
            }
            free += popcount(bits);
        }
        return free == slab->free_count;
    }

    void push(SlabHeader* slab, uint32_t list) {
        slab->list = list;
        slab->prev = nullptr;
        slab->next = lists_[list].head;
        if (slab->next != nullptr)
            slab->next->prev = slab;
        lists_[list].head = slab;
        ++lists_[list].count;
    }

    void unlink(SlabHeader* slab) {
        List& list = lists_[slab->list];
        if (slab->prev != nullptr)
            slab->prev->next = slab->next;
        else
            list.head = slab->next;
        if (slab->next != nullptr)
            slab->next->prev = slab->prev;
        slab->prev = slab->next = nullptr;
        --list.count;
    }

    // Moves `slab` to the list its free count now calls for. O(1).
    void relist(SlabHeader* slab) {
        uint32_t wanted = list_for(slab);
        if (wanted == slab->list)
            return;
        unlink(slab);
        push(slab, wanted);
    }

    Result<SlabHeader*> new_slab() {
        void* page = TRY(source_->allocate_page());
        EXO_ASSERT((reinterpret_cast<uintptr_t>(page) & (kPageSize - 1)) == 0,
                   "page source returned an unaligned page");
        __builtin_memset(page, kPoison, kPageSize);
        SlabHeader* slab = new (page) SlabHeader{};
        slab->magic = kSlabMagic;
        slab->owner = this;
        slab->free_count = uint32_t(slots_);
        for (size_t slot = 0; slot < slots_; ++slot)
            slab->free_bits[slot / 64] |= uint64_t(1) << (slot % 64);
        push(slab, kEmpty);
        return slab;
    }

    // Claims the lowest free slot of a slab that has one.
    size_t take_first_free(SlabHeader* slab) {
        EXO_ASSERT(slab->free_count > 0, "allocating from a full slab");
        for (size_t w = 0; w < kBitmapWords; ++w) {
            uint64_t bits = slab->free_bits[w];
            if (bits == 0)
                continue;
            unsigned bit = unsigned(__builtin_ctzll(bits));
            slab->free_bits[w] = bits & (bits - 1);
            --slab->free_count;
            return w * 64 + bit;
        }
        EXO_ASSERT(false, "slab free count and bitmap disagree");
        return 0;
    }

    // Validation shared by check_live() and free(); reads only.
    Result<Location> locate(const void* object) const {
        if (object == nullptr)
            return Status::InvalidArgument;
        uintptr_t address = reinterpret_cast<uintptr_t>(object);
        uintptr_t base = address & ~uintptr_t(kPageSize - 1);
        auto* slab = reinterpret_cast<SlabHeader*>(base);
        if (slab->magic != kSlabMagic || slab->owner != this)
            return Status::OutOfRange;
        size_t offset = address - base;
        if (offset < first_offset_ || (offset - first_offset_) % slot_size_ != 0)
            return Status::Misaligned;
        size_t slot = (offset - first_offset_) / slot_size_;
        if (slot >= slots_)
            return Status::Misaligned; // the unused tail after the last slot
        if (slab->free_bits[slot / 64] & (uint64_t(1) << (slot % 64)))
            return Status::BadState;
        return Location{slab, slot};
    }

    const char* name_;
    Pages* source_;
    size_t slot_size_ = 0;
    size_t first_offset_ = 0; // of slot 0 from the slab base: the header rounded up to the align
    size_t slots_ = 0;
    size_t live_ = 0;
    List lists_[kListCount];
};

// Typed front end: objects of T constructed in place in an ObjectCache sized and aligned for T.
template <typename T, PageSource Pages>
class TypedCache {
public:
    TypedCache(const char* name, Pages& source) : cache_(name, sizeof(T), alignof(T), source) {}

    // Allocates a slot and runs T's constructor in it (which cannot fail: no exceptions).
    template <typename... Args>
    Result<T*> create(Args&&... args) {
        void* slot = TRY(cache_.allocate());
        return new (slot) T(std::forward<Args>(args)...);
    }

    // Validates first, so a bad pointer never reaches T's destructor; then destroys and frees.
    Result<void> destroy(T* object) {
        TRY(cache_.check_live(object));
        object->~T();
        return cache_.free(object);
    }

    size_t release_empty_slabs() { return cache_.release_empty_slabs(); }
    typename ObjectCache<Pages>::Stats stats() const { return cache_.stats(); }
    bool check_invariants() const { return cache_.check_invariants(); }

private:
    ObjectCache<Pages> cache_;
};

} // namespace exo
