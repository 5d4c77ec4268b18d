// memsrv's page source for one client (client_heap.hpp).
#include "client_heap.hpp"

#include <exo/layout.hpp>
#include <exo/sys.hpp>

namespace memsrv {

using namespace exo;

void ClientPages::start(Slot memory, Slot tx, uint64_t delta, uint64_t meta_base) {
    memory_ = memory;
    tx_ = tx;
    delta_ = delta;
    meta_base_ = meta_base;
    meta_chunks_ = 0;
    meta_left_ = 0;
    space_.reset();
    changes_ = nullptr;
}

void ClientPages::stop() {
    for (uint64_t i = 0; i < meta_chunks_; ++i)
        (void)sys::frame_unmap(kSlotAddressSpace, meta_base_ + i * kMetaChunkPages * kPageSize);
    if (memory_ != kNullSlot) {
        (void)sys::cap_delete(memory_);
        free_slot(memory_);
    }
    memory_ = kNullSlot;
    meta_chunks_ = meta_left_ = 0;
}

uint64_t ClientPages::frame_pages(uint64_t pages) {
    if (pages <= 1024)
        return pages; // at most 11 frames: its binary digits
    return (pages + 1023) / 1024 * 1024;
}

Result<void*> ClientPages::allocate_pages(size_t pages, size_t align) {
    if (changes_ == nullptr)
        return Status::BadState;
    uint64_t run = frame_pages(pages);
    uint32_t frames = wire::frame_split(run, [](uint64_t, uint64_t) {});
    if (frames > wire::kMaxFrames || changes_->frames + frames > wire::kMaxFrames ||
        changes_->map_count == wire::kMaxMaps)
        return Status::NoMemory; // this reply has moved all it can: the next request goes on
    int64_t first = space_.allocate(run, align / kPageSize);
    if (first < 0)
        return Status::NoMemory;
    uint64_t base = kHeapArea + uint64_t(first) * kPageSize;

    // Every frame first, so that a spent quota sends none of them.
    Slot slots[wire::kMaxFrames];
    uint32_t made = 0;
    Status status = Status::Ok;
    wire::frame_split(run, [&](uint64_t, uint64_t n) {
        if (status != Status::Ok)
            return;
        auto slot = allocate_slot();
        if (!slot.ok()) {
            status = slot.status();
            return;
        }
        status = sys::frame_alloc(memory_, n, slot.value());
        if (status != Status::Ok) {
            free_slot(slot.value());
            return;
        }
        slots[made++] = slot.value();
    });
    for (uint32_t i = 0; i < made; ++i) {
        if (status == Status::Ok) {
            Status sent = sys::ring_send_cap(tx_, slots[i]);
            if (sent == Status::Ok) {
                free_slot(slots[i]); // moved into the ring
                continue;
            }
            changes_->broken = true; // its capability queue is full: it took none we sent
            status = sent;
        }
        (void)sys::cap_delete(slots[i]);
        free_slot(slots[i]);
    }
    if (status != Status::Ok) {
        space_.free(uint64_t(first), run);
        return Status::NoMemory;
    }
    changes_->frames += frames;
    changes_->maps[changes_->map_count++] = {base + delta_, uint32_t(run), 0};
    return reinterpret_cast<void*>(base);
}

void ClientPages::free_pages(void* base, size_t pages) {
    uint64_t b = reinterpret_cast<uint64_t>(base);
    uint64_t run = frame_pages(pages);
    if (changes_ && changes_->unmap_count < wire::kMaxUnmaps)
        changes_->unmaps[changes_->unmap_count++] = {b + delta_, uint32_t(run), 0};
    else if (changes_)
        changes_->broken = true; // cannot happen: a request frees at most kMaxUnmaps runs
    space_.free((b - kHeapArea) / kPageSize, run);
}

Result<void*> ClientPages::allocate_meta_pages(size_t pages) {
    if (pages > kMetaChunkPages)
        return Status::NoMemory;
    if (meta_left_ < pages) {
        auto frame = TRY(frame_alloc(memory_, kMetaChunkPages));
        uint64_t at = meta_base_ + meta_chunks_ * kMetaChunkPages * kPageSize;
        TRY(sys::frame_map(kSlotAddressSpace, frame.slot(), at, kMapWrite));
        ++meta_chunks_; // the mapping keeps the frame; our capability goes with `frame`
        meta_left_ = kMetaChunkPages;
    }
    uint64_t at = meta_base_ + (meta_chunks_ * kMetaChunkPages - meta_left_) * kPageSize;
    meta_left_ -= pages;
    return reinterpret_cast<void*>(at);
}

} // namespace memsrv
