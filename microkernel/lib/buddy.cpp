// Physical-frame buddy allocator core (see buddy.hpp for the contract and invariants).
// Portable and unlocked: the caller serializes every call.
#include "lib/buddy.hpp"

#include <new>

namespace mk {

using exo::Result;
using exo::Status;

size_t BuddyAllocator::metadata_bytes(uint64_t frame_count) {
    if (frame_count > kMaxSpanFrames)
        return SIZE_MAX;
    return size_t(frame_count) * sizeof(FrameMeta);
}

Result<void> BuddyAllocator::init(uint64_t base, uint64_t frame_count, void* metadata,
                                  size_t metadata_size) {
    if (meta_ != nullptr)
        return Status::BadState;
    if (base % kFrameSize != 0)
        return Status::Misaligned;
    if (frame_count == 0 || metadata == nullptr)
        return Status::InvalidArgument;
    uint64_t base_pfn = base >> kFrameShift;
    // The last frame's end, (base_pfn + frame_count) << 12, must not wrap: every pfn below it
    // then shifts back to an address without loss.
    if (frame_count > kMaxSpanFrames || frame_count > (UINT64_MAX >> kFrameShift) - base_pfn)
        return Status::OutOfRange;
    if (reinterpret_cast<uintptr_t>(metadata) % alignof(FrameMeta) != 0)
        return Status::Misaligned;
    if (metadata_size < metadata_bytes(frame_count))
        return Status::BufferTooSmall;

    auto* meta = static_cast<FrameMeta*>(metadata);
    for (uint64_t i = 0; i < frame_count; ++i)
        new (&meta[i]) FrameMeta{kNoFrame, kNoFrame, FrameState::Reserved, 0, 0};
    meta_ = meta;
    base_pfn_ = base_pfn;
    frame_count_ = frame_count;
    return {};
}

Result<void> BuddyAllocator::add_free_range(uint64_t address, uint64_t length) {
    if (length == 0)
        return Status::InvalidArgument;
    if (address % kFrameSize != 0 || length % kFrameSize != 0)
        return Status::Misaligned;
    uint64_t first_pfn = address >> kFrameShift;
    uint64_t count = length >> kFrameShift;
    uint64_t start = first_pfn - base_pfn_;
    if (first_pfn < base_pfn_ || start > frame_count_ || count > frame_count_ - start)
        return Status::OutOfRange;
    // Validate the whole range before changing anything.
    for (uint64_t i = start; i < start + count; ++i)
        if (meta_[i].state != FrameState::Reserved)
            return Status::BadState;

    for (uint64_t i = start; i < start + count; ++i)
        make_tail(uint32_t(i));
    free_frames_ += count;
    // Carve maximal blocks aligned in absolute frame numbers; release() merges each with any
    // free buddy, including blocks from earlier ranges.
    uint64_t pfn = first_pfn;
    uint64_t end = first_pfn + count;
    while (pfn < end) {
        unsigned order = 0;
        while (order < kMaxOrder && pfn % (uint64_t(2) << order) == 0 &&
               end - pfn >= (uint64_t(2) << order))
            ++order;
        release(uint32_t(pfn - base_pfn_), order);
        pfn += uint64_t(1) << order;
    }
    return {};
}

Result<uint64_t> BuddyAllocator::allocate(unsigned order, FrameQuota* quota) {
    if (order > kMaxOrder)
        return Status::InvalidArgument;
    uint64_t frames = uint64_t(1) << order;
    if (quota != nullptr &&
        (frames > quota->limit_frames || quota->used_frames > quota->limit_frames - frames))
        return Status::NoMemory;
    unsigned k = order;
    while (k < kOrderCount && heads_[k] == kNoFrame)
        ++k;
    if (k == kOrderCount)
        return Status::NoMemory;

    // Nothing can fail from here on.
    uint32_t index = heads_[k];
    unlink(index);
    // Split: keep the lower half, free the upper half at each order on the way down.
    while (k > order) {
        --k;
        push(index + (uint32_t(1) << k), k);
    }
    meta_[index] = FrameMeta{kNoFrame, kNoFrame, FrameState::AllocHead, uint8_t(order), 0};
    free_frames_ -= frames;
    allocated_frames_ += frames;
    if (quota != nullptr)
        quota->used_frames += frames;
    return (base_pfn_ + index) << kFrameShift;
}

Result<void> BuddyAllocator::free(uint64_t address, unsigned order, FrameQuota* quota) {
    if (order > kMaxOrder)
        return Status::InvalidArgument;
    if (!contains(address))
        return Status::OutOfRange;
    uint64_t frames = uint64_t(1) << order;
    if (address % (frames << kFrameShift) != 0)
        return Status::Misaligned;
    uint32_t index = uint32_t((address >> kFrameShift) - base_pfn_);
    const FrameMeta& m = meta_[index];
    if (m.state != FrameState::AllocHead)
        return Status::BadState;
    if (m.order != order)
        return Status::InvalidArgument;
    if (quota != nullptr && quota->used_frames < frames)
        return Status::BadState;

    // Nothing can fail from here on.
    allocated_frames_ -= frames;
    free_frames_ += frames;
    if (quota != nullptr)
        quota->used_frames -= frames;
    release(index, order);
    return {};
}

uint64_t BuddyAllocator::free_blocks(unsigned order) const {
    return order < kOrderCount ? counts_[order] : 0;
}

int BuddyAllocator::largest_free_order() const {
    for (int order = kMaxOrder; order >= 0; --order)
        if (counts_[order] != 0)
            return order;
    return -1;
}

unsigned BuddyAllocator::fragmentation_permille(unsigned target_order) const {
    if (target_order > kMaxOrder)
        target_order = kMaxOrder;
    if (free_frames_ == 0)
        return 0;
    uint64_t usable = 0;
    for (unsigned order = target_order; order < kOrderCount; ++order)
        usable += counts_[order] << order;
    // free_frames_ < 2^32, so the product cannot overflow.
    return unsigned((free_frames_ - usable) * 1000 / free_frames_);
}

// Makes `index` the head of a free block of `order` at the front of its list.
void BuddyAllocator::push(uint32_t index, unsigned order) {
    uint32_t head = heads_[order];
    meta_[index] = FrameMeta{head, kNoFrame, FrameState::FreeHead, uint8_t(order), 0};
    if (head != kNoFrame)
        meta_[head].prev = index;
    heads_[order] = index;
    ++counts_[order];
}

// Removes the free block headed by `index` from its list; its state is left for the caller.
void BuddyAllocator::unlink(uint32_t index) {
    FrameMeta& m = meta_[index];
    if (m.prev != kNoFrame)
        meta_[m.prev].next = m.next;
    else
        heads_[m.order] = m.next;
    if (m.next != kNoFrame)
        meta_[m.next].prev = m.prev;
    m.next = m.prev = kNoFrame;
    --counts_[m.order];
}

void BuddyAllocator::make_tail(uint32_t index) {
    meta_[index] = FrameMeta{kNoFrame, kNoFrame, FrameState::Tail, 0, 0};
}

bool BuddyAllocator::buddy_is_free(uint64_t buddy_pfn, unsigned order) const {
    if (buddy_pfn < base_pfn_ || buddy_pfn - base_pfn_ >= frame_count_)
        return false;
    const FrameMeta& m = meta_[buddy_pfn - base_pfn_];
    return m.state == FrameState::FreeHead && m.order == order;
}

// Frees the block headed by `index` (counters already updated), merging upwards while its
// buddy is a free block of the same order; the absorbed head becomes a Tail.
void BuddyAllocator::release(uint32_t index, unsigned order) {
    uint64_t pfn = base_pfn_ + index;
    while (order < kMaxOrder) {
        uint64_t buddy = pfn ^ (uint64_t(1) << order);
        if (!buddy_is_free(buddy, order))
            break;
        uint32_t buddy_index = uint32_t(buddy - base_pfn_);
        unlink(buddy_index);
        make_tail(buddy_index > index ? buddy_index : index);
        pfn &= ~(uint64_t(1) << order);
        index = uint32_t(pfn - base_pfn_);
        ++order;
    }
    push(index, order);
}

// Each list: heads of the right order and state, consistent back links, aligned, inside the
// span, no free buddy left unmerged, length equal to its counter; no cycles.
bool BuddyAllocator::check_lists() const {
    uint64_t free_sum = 0;
    for (unsigned order = 0; order < kOrderCount; ++order) {
        uint64_t seen = 0;
        uint64_t size = uint64_t(1) << order;
        uint32_t prev = kNoFrame;
        for (uint32_t i = heads_[order]; i != kNoFrame; i = meta_[i].next) {
            if (i >= frame_count_ || ++seen > frame_count_)
                return false;
            const FrameMeta& m = meta_[i];
            if (m.state != FrameState::FreeHead || m.order != order || m.prev != prev)
                return false;
            uint64_t pfn = base_pfn_ + i;
            if (pfn % size != 0 || i + size > frame_count_)
                return false;
            if (order < kMaxOrder && buddy_is_free(pfn ^ size, order))
                return false;
            prev = i;
        }
        if (seen != counts_[order])
            return false;
        free_sum += seen << order;
    }
    return free_sum == free_frames_;
}

// The frames partition into Reserved frames and blocks (a head then 2^order Tails); the
// FreeHeads per order and the frames per state match the counters.
bool BuddyAllocator::check_blocks() const {
    uint64_t heads[kOrderCount] = {};
    uint64_t free_sum = 0;
    uint64_t allocated_sum = 0;
    for (uint64_t i = 0; i < frame_count_;) {
        const FrameMeta& m = meta_[i];
        if (m.state == FrameState::Reserved) {
            ++i;
            continue;
        }
        bool is_free = m.state == FrameState::FreeHead;
        if ((!is_free && m.state != FrameState::AllocHead) || m.order > kMaxOrder)
            return false;
        uint64_t size = uint64_t(1) << m.order;
        if ((base_pfn_ + i) % size != 0 || size > frame_count_ - i)
            return false;
        for (uint64_t j = i + 1; j < i + size; ++j)
            if (meta_[j].state != FrameState::Tail || meta_[j].order != 0)
                return false;
        if (is_free) {
            ++heads[m.order];
            free_sum += size;
        } else {
            allocated_sum += size;
        }
        i += size;
    }
    for (unsigned order = 0; order < kOrderCount; ++order)
        if (heads[order] != counts_[order])
            return false;
    return free_sum == free_frames_ && allocated_sum == allocated_frames_;
}

bool BuddyAllocator::check_invariants() const {
    if (meta_ == nullptr)
        return frame_count_ == 0 && free_frames_ == 0 && allocated_frames_ == 0;
    return check_lists() && check_blocks();
}

} // namespace mk
