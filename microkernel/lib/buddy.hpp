// Physical-frame buddy allocator (kernel memory layer, portable core): one span of 4 KiB frames,
// orders 0..kMaxOrder, coalescing on free, all metadata in caller-provided storage. Built
// freestanding into the kernel and natively into the host tests; the environment (lock) arrives
// as a template parameter.
#pragma once

#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>

namespace mk {

inline constexpr unsigned kFrameShift = 12;
inline constexpr uint64_t kFrameSize = uint64_t(1) << kFrameShift;
inline constexpr unsigned kMaxOrder = 10; // 2^10 frames = 4 MiB
inline constexpr unsigned kOrderCount = kMaxOrder + 1;

// A memory quota that frames are charged to. Not synchronized by itself: whoever serializes
// the allocator serializes the quotas passed to it (LockedBuddy charges under its lock).
struct FrameQuota {
    uint64_t limit_frames;
    uint64_t used_frames;
};

// Per-frame metadata, 12 bytes: 3 MiB per GiB of managed span (0.29 %). Only the first frame
// of a block (its head) carries the block's state and order; the free-list links are frame
// indexes relative to the span, so the allocator never touches the memory it manages.
enum class FrameState : uint8_t {
    Reserved = 0,  // never handed to add_free_range; never becomes anything else
    Tail = 1,      // inside a block, not its first frame (order and links are zero/none)
    FreeHead = 2,  // first frame of a free block of `order`, linked in free list `order`
    AllocHead = 3, // first frame of an allocated block of `order`
};

struct FrameMeta {
    uint32_t next;
    uint32_t prev;
    FrameState state;
    uint8_t order;
    uint16_t reserved;
};
static_assert(sizeof(FrameMeta) == 12 && alignof(FrameMeta) == 4);

// The span is limited to 2^32 - 2 frames (just under 16 TiB) so that links fit in 32 bits.
inline constexpr uint32_t kNoFrame = UINT32_MAX;
inline constexpr uint64_t kMaxSpanFrames = uint64_t(UINT32_MAX) - 1;

// Blocks are aligned in absolute physical frame numbers, so an allocation of order k is always
// aligned to 2^k * 4 KiB whatever the span's base; buddies outside the span never merge.
//
// Invariants (check_invariants() verifies them all):
//  - every managed frame belongs to exactly one block: a head followed by 2^order - 1 Tails;
//  - a free block is aligned to its size and lies in free list `order`, nowhere else;
//  - no free block has a free buddy of the same order (free blocks are maximal);
//  - free_frames() + allocated_frames() = frames ever added by add_free_range.
// Every operation validates all its arguments before changing anything: on error the
// allocator (and the quota) is bit-identical to before.
//
// Locking: none inside. Wrap it in LockedBuddy (below) to share it between CPUs.
class BuddyAllocator {
public:
    BuddyAllocator() = default;
    BuddyAllocator(const BuddyAllocator&) = delete;
    BuddyAllocator& operator=(const BuddyAllocator&) = delete;

    // Bytes of metadata init() needs for `frame_count` frames (alignment 4); SIZE_MAX when the
    // count exceeds kMaxSpanFrames.
    static size_t metadata_bytes(uint64_t frame_count);

    // Takes the span [base, base + frame_count * 4 KiB); every frame starts Reserved.
    //   BadState        already initialized
    //   Misaligned      base not 4 KiB aligned, or metadata not 4-byte aligned
    //   InvalidArgument frame_count is 0 or metadata is null
    //   OutOfRange      frame_count > kMaxSpanFrames, or the span wraps the address space
    //   BufferTooSmall  metadata_size < metadata_bytes(frame_count)
    exo::Result<void> init(uint64_t base, uint64_t frame_count, void* metadata,
                           size_t metadata_size);

    // Frees the Reserved frames of [address, address + length) as maximal aligned blocks,
    // merging with free neighbours. O(length / 4 KiB).
    //   InvalidArgument length is 0;  Misaligned  address or length not 4 KiB aligned;
    //   OutOfRange      not inside the span (or wraps);
    //   BadState        some frame of the range was already added (free or allocated).
    exo::Result<void> add_free_range(uint64_t address, uint64_t length);

    // A block of 2^order frames, aligned to its size. O(kMaxOrder).
    //   InvalidArgument order > kMaxOrder
    //   NoMemory        no free block is large enough, or charging `quota` (if any) with
    //                   2^order frames would pass its limit; nothing is allocated then.
    exo::Result<uint64_t> allocate(unsigned order, FrameQuota* quota = nullptr);

    // Returns a block from allocate(), coalescing with free buddies. O(kMaxOrder).
    //   InvalidArgument order > kMaxOrder, or not the order the block was allocated with
    //   OutOfRange      address outside the span
    //   Misaligned      address not aligned to 4 KiB or to the order's size
    //   BadState        not the head of an allocated block (never allocated, reserved, a tail
    //                   frame, already free), or quota->used_frames < 2^order
    exo::Result<void> free(uint64_t address, unsigned order, FrameQuota* quota = nullptr);

    uint64_t total_frames() const { return frame_count_; }
    uint64_t free_frames() const { return free_frames_; }
    uint64_t allocated_frames() const { return allocated_frames_; }
    uint64_t free_blocks(unsigned order) const;
    // The largest order with a free block; -1 when nothing is free.
    int largest_free_order() const;

    // Unusable free space index (Linux's fragmentation "unusable index"), in per-mille: the
    // share of free frames that sit in blocks smaller than `target_order` and so cannot serve
    // a request of that order:
    //     (free_frames - sum_{k >= target} free_blocks(k) * 2^k) * 1000 / free_frames
    // rounded down; 0 when nothing is free. target_order above kMaxOrder is taken as kMaxOrder.
    // 0 = every free frame can serve the target order, 1000 = none can.
    unsigned fragmentation_permille(unsigned target_order = kMaxOrder) const;

    // Walks all metadata and free lists; true when every invariant above holds. O(frames).
    bool check_invariants() const;

    // Span queries; constant once init() has returned.
    uint64_t base() const { return base_pfn_ << kFrameShift; }
    bool contains(uint64_t address) const {
        return (address >> kFrameShift) - base_pfn_ < frame_count_; // wraps when below base
    }

    // Calls f(address, order) for every free block, list by list (for tests and diagnostics).
    template <typename F>
    void for_each_free_block(F&& f) const {
        for (unsigned order = 0; order < kOrderCount; ++order)
            for (uint32_t i = heads_[order]; i != kNoFrame; i = meta_[i].next)
                f((base_pfn_ + i) << kFrameShift, order);
    }

private:
    void push(uint32_t index, unsigned order);
    void unlink(uint32_t index);
    void make_tail(uint32_t index);
    void release(uint32_t index, unsigned order);
    bool buddy_is_free(uint64_t buddy_pfn, unsigned order) const;
    bool check_lists() const;
    bool check_blocks() const;

    FrameMeta* meta_ = nullptr;
    uint64_t base_pfn_ = 0;
    uint64_t frame_count_ = 0;
    uint64_t free_frames_ = 0;
    uint64_t allocated_frames_ = 0;
    uint32_t heads_[kOrderCount] = {kNoFrame, kNoFrame, kNoFrame, kNoFrame, kNoFrame, kNoFrame,
                                    kNoFrame, kNoFrame, kNoFrame, kNoFrame, kNoFrame};
    uint64_t counts_[kOrderCount] = {};
};

// The buddy shared between CPUs: every call takes `Lock` (any type with lock()/unlock(): the
// kernel's spinlock, std::mutex in tests, a null lock on one CPU). FrameQuota arguments are
// read and charged under the same lock.
template <typename Lock>
class LockedBuddy {
public:
    exo::Result<void> init(uint64_t base, uint64_t frame_count, void* metadata, size_t size) {
        Guard g(lock_);
        return core_.init(base, frame_count, metadata, size);
    }
    exo::Result<void> add_free_range(uint64_t address, uint64_t length) {
        Guard g(lock_);
        return core_.add_free_range(address, length);
    }
    exo::Result<uint64_t> allocate(unsigned order, FrameQuota* quota = nullptr) {
        Guard g(lock_);
        return core_.allocate(order, quota);
    }
    exo::Result<void> free(uint64_t address, unsigned order, FrameQuota* quota = nullptr) {
        Guard g(lock_);
        return core_.free(address, order, quota);
    }

    // Up to n uncharged order-0 frames into out[] under one lock hold; returns how many.
    size_t allocate_batch(uint64_t* out, size_t n) {
        Guard g(lock_);
        size_t got = 0;
        for (; got < n; ++got) {
            auto frame = core_.allocate(0);
            if (!frame.ok())
                break;
            out[got] = frame.value();
        }
        return got;
    }
    // Frees n order-0 frames under one lock hold; returns how many the core rejected (each
    // rejection leaves the core unchanged).
    size_t free_batch(const uint64_t* frames, size_t n) {
        Guard g(lock_);
        size_t rejected = 0;
        for (size_t i = 0; i < n; ++i)
            rejected += core_.free(frames[i], 0).ok() ? 0 : 1;
        return rejected;
    }

    // Runs f(core) under the lock: statistics, check_invariants().
    template <typename F>
    decltype(auto) with_core(F&& f) {
        Guard g(lock_);
        return f(core_);
    }

    // Lock-free: the span is constant once init() has returned (and init happens-before any
    // other CPU uses the allocator, during bring-up).
    bool contains(uint64_t address) const { return core_.contains(address); }

private:
    struct Guard {
        explicit Guard(Lock& l) : lock(l) { lock.lock(); }
        ~Guard() { lock.unlock(); }
        Guard(const Guard&) = delete;
        Guard& operator=(const Guard&) = delete;
        Lock& lock;
    };

    Lock lock_;
    BuddyAllocator core_;
};

// A per-CPU cache of uncharged order-0 frames in front of a LockedBuddy. Owned by one CPU and
// never shared, so it takes no lock itself; it refills and flushes kBatch frames per lock hold.
// Cached frames count as allocated in the buddy. free() catches frames outside the span,
// misaligned ones and a frame already in this cache; any other double free is caught when its
// batch reaches the buddy (counted in rejected(), the buddy stays consistent).
template <typename Lock>
class FrameCache {
public:
    static constexpr size_t kCapacity = 32;
    static constexpr size_t kBatch = kCapacity / 2;

    explicit FrameCache(LockedBuddy<Lock>& source) : source_(source) {}
    FrameCache(const FrameCache&) = delete;
    FrameCache& operator=(const FrameCache&) = delete;

    // NoMemory when the cache is empty and the buddy has no order-0 frame left.
    exo::Result<uint64_t> allocate() {
        if (count_ == 0)
            count_ = source_.allocate_batch(frames_, kBatch);
        if (count_ == 0)
            return exo::Status::NoMemory;
        return frames_[--count_];
    }

    //   OutOfRange outside the span;  Misaligned not 4 KiB aligned;  BadState already cached.
    exo::Result<void> free(uint64_t address) {
        if (!source_.contains(address))
            return exo::Status::OutOfRange;
        if (address % kFrameSize != 0)
            return exo::Status::Misaligned;
        for (size_t i = 0; i < count_; ++i)
            if (frames_[i] == address)
                return exo::Status::BadState;
        if (count_ == kCapacity)
            flush_top(kBatch);
        frames_[count_++] = address;
        return {};
    }

    // Returns every cached frame to the buddy.
    void flush() { flush_top(count_); }

    size_t cached() const { return count_; }
    uint64_t rejected() const { return rejected_; }

private:
    void flush_top(size_t n) {
        count_ -= n;
        rejected_ += source_.free_batch(frames_ + count_, n);
    }

    LockedBuddy<Lock>& source_;
    uint64_t frames_[kCapacity];
    size_t count_ = 0;
    uint64_t rejected_ = 0;
};

} // namespace mk
