// Physical memory manager (see physical.hpp). The memory map comes from the boot loader: every
// region is clamped and page-aligned before use, and the frames the buddy ends up with are
// checked against the map's arithmetic (usable - reserved) at boot.
#include "mm/physical.hpp"

#include "arch/x86_64/layout.h"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "core/log.hpp"
#include "lib/phys_ranges.hpp"

#include <new>

extern "C" const uint8_t __kernel_end[];

namespace mk::pmm {
namespace {

constexpr size_t kMaxReserved = 4 + mb2::kMaxModules;
constexpr uint64_t kLowMemoryEnd = 1 << 20;

LockedBuddy<IrqSpinLock> buddy;
// Each CPU's cache of order-0 frames: uncharged single frames skip the buddy's lock most of the
// time. A cache takes no lock: it is used only by its CPU, with interrupts disabled (so the
// thread cannot migrate in between). Cached frames are free memory for accounting purposes.
using Cache = FrameCache<IrqSpinLock>;
alignas(Cache) constinit unsigned char cache_storage[kMaxCpus][sizeof(Cache)] = {};

Cache& cache(uint32_t cpu) {
    return *std::launder(reinterpret_cast<Cache*>(cache_storage[cpu]));
}

void init_caches() {
    for (uint32_t i = 0; i < kMaxCpus; ++i)
        new (cache_storage[i]) Cache(buddy);
}

uint64_t cached_frames() {
    uint64_t n = 0;
    for (uint32_t i = 0; i < kMaxCpus; ++i)
        n += cache(i).cached();
    return n;
}
constinit Accounting acct{};
constinit const mb2::BootInfo* boot = nullptr;
constinit PhysRange reserved[kMaxReserved] = {};
constinit size_t reserved_count = 0;

bool is_available(const mb2::MemoryRegion& r) {
    return r.type == uint32_t(mb2::RegionType::Available);
}

// Each Available region as whole pages, clipped to [lo, hi).
template <typename Fn>
void for_each_usable_part(uint64_t lo, uint64_t hi, Fn&& fn) {
    for (size_t i = 0; i < boot->memory_count; ++i) {
        const mb2::MemoryRegion& r = boot->memory[i];
        if (!is_available(r))
            continue;
        uint64_t start = align_up(r.base, kFrameSize);
        uint64_t end = align_down(r.base + r.length, kFrameSize);
        if (start < lo)
            start = lo;
        if (end > hi)
            end = hi;
        if (start < end)
            fn(start, end);
    }
}

uint64_t usable_overlap(PhysRange range) {
    uint64_t total = 0;
    for_each_usable_part(range.start, range.end, [&](uint64_t s, uint64_t e) { total += e - s; });
    return total;
}

void add_reserved(PhysRange range, uint64_t* category) {
    range.start = align_down(range.start, kFrameSize);
    range.end = align_up(range.end, kFrameSize);
    reserved[reserved_count++] = range;
    *category += usable_overlap(range);
}

// Adds the free parts of usable memory within [lo, hi) to the buddy.
exo::Result<uint64_t> add_free_memory(uint64_t lo, uint64_t hi) {
    uint64_t added = 0;
    exo::Status status = exo::Status::Ok;
    for_each_usable_part(lo, hi, [&](uint64_t start, uint64_t end) {
        for_each_free_part({start, end}, reserved, reserved_count, kFrameSize,
                           [&](uint64_t s, uint64_t e) {
                               auto r = buddy.add_free_range(s, e - s);
                               if (!r.ok() && status == exo::Status::Ok)
                                   status = r.status();
                               added += e - s;
                           });
    });
    if (status != exo::Status::Ok)
        return status;
    return added;
}

} // namespace

exo::Result<void> init(const mb2::BootInfo& info, uint64_t boot_info_phys, uint64_t limit) {
    boot = &info;
    acct = {};
    reserved_count = 0;
    init_caches();
    uint64_t highest = info.highest_usable_end();
    if (highest == 0)
        return exo::Status::NoMemory;
    acct.span_end = align_up(highest, kFrameSize << kMaxOrder);
    for_each_usable_part(0, UINT64_MAX, [](uint64_t s, uint64_t e) { acct.usable += e - s; });

    add_reserved({0, kLowMemoryEnd}, &acct.low_memory);
    add_reserved({KERNEL_LOAD_PHYS, uint64_t(__kernel_end) - KERNEL_VMA}, &acct.kernel_image);
    add_reserved({boot_info_phys, boot_info_phys + info.info_size}, &acct.boot_info);
    for (size_t i = 0; i < info.module_count; ++i)
        add_reserved({info.modules[i].start, info.modules[i].end}, &acct.modules);

    // The metadata goes in the first free part below `limit` that is large enough.
    uint64_t frames = acct.span_end / kFrameSize;
    uint64_t bytes = align_up(BuddyAllocator::metadata_bytes(frames), kFrameSize);
    uint64_t where = 0;
    for_each_usable_part(0, limit, [&](uint64_t start, uint64_t end) {
        for_each_free_part({start, end}, reserved, reserved_count, kFrameSize,
                           [&](uint64_t s, uint64_t e) {
                               if (where == 0 && e - s >= bytes)
                                   where = s;
                           });
    });
    if (where == 0)
        return exo::Status::NoMemory;
    add_reserved({where, where + bytes}, &acct.metadata);

    TRY(buddy.init(0, frames, reinterpret_cast<void*>(DIRECT_MAP_BASE + where), bytes));
    TRY(add_free_memory(0, limit));
    return {};
}

exo::Result<void> add_memory_above(uint64_t limit) {
    TRY(add_free_memory(limit, UINT64_MAX));
    // Independent of the buddy's own counters: the map's arithmetic.
    uint64_t free_by_map = 0;
    for_each_usable_part(0, UINT64_MAX, [&](uint64_t start, uint64_t end) {
        for_each_free_part({start, end}, reserved, reserved_count, kFrameSize,
                           [&](uint64_t s, uint64_t e) { free_by_map += e - s; });
    });
    acct.reserved = acct.usable - free_by_map;
    return {};
}

exo::Result<uint64_t> allocate(unsigned order, FrameQuota* quota) {
    if (order == 0 && quota == nullptr) {
        bool enabled = cpu::save_and_disable_interrupts();
        auto frame = cache(this_cpu().index).allocate();
        cpu::restore_interrupts(enabled);
        return frame;
    }
    return buddy.allocate(order, quota);
}

exo::Result<void> free(uint64_t address, unsigned order, FrameQuota* quota) {
    if (order == 0 && quota == nullptr) {
        bool enabled = cpu::save_and_disable_interrupts();
        auto freed = cache(this_cpu().index).free(address);
        cpu::restore_interrupts(enabled);
        return freed;
    }
    return buddy.free(address, order, quota);
}

const Accounting& accounting() {
    return acct;
}

bool overlaps_ram(uint64_t start, uint64_t end) {
    for (size_t i = 0; i < boot->memory_count; ++i) {
        const mb2::MemoryRegion& r = boot->memory[i];
        if (r.type == uint32_t(mb2::RegionType::Reserved))
            continue;
        uint64_t r_start = align_down(r.base, kFrameSize);
        uint64_t r_end = align_up(r.base + r.length, kFrameSize);
        if (start < r_end && r_start < end)
            return true;
    }
    return false;
}

uint64_t free_bytes() {
    uint64_t frames = buddy.with_core([](BuddyAllocator& core) { return core.free_frames(); });
    return (frames + cached_frames()) * kFrameSize;
}

FreeStats free_stats() {
    FreeStats s{};
    s.cached_frames = cached_frames();
    buddy.with_core([&](BuddyAllocator& core) {
        for (unsigned order = 0; order < kOrderCount; ++order)
            s.blocks[order] = core.free_blocks(order);
        s.largest_order = core.largest_free_order();
        s.fragmentation_permille = core.fragmentation_permille();
        return 0;
    });
    return s;
}

uint64_t allocated_bytes() {
    uint64_t frames = buddy.with_core([](BuddyAllocator& core) { return core.allocated_frames(); });
    return (frames - cached_frames()) * kFrameSize;
}

bool check_invariants() {
    for (uint32_t i = 0; i < kMaxCpus; ++i)
        if (cache(i).rejected() != 0)
            return false; // a bad free reached the buddy through a cache
    return buddy.with_core([](BuddyAllocator& core) { return core.check_invariants(); });
}

void log_summary() {
    log::info("memory: usable %lu KiB = free %lu KiB + allocated %lu KiB + reserved %lu KiB",
              acct.usable >> 10, free_bytes() >> 10, allocated_bytes() >> 10, acct.reserved >> 10);
    log::info("memory: reserved: low 1 MiB %lu KiB, kernel %lu KiB, modules %lu KiB, "
              "boot info %lu KiB, buddy metadata %lu KiB",
              acct.low_memory >> 10, acct.kernel_image >> 10, acct.modules >> 10,
              acct.boot_info >> 10, acct.metadata >> 10);
    buddy.with_core([](BuddyAllocator& core) {
        log::info("buddy: %lu frames managed, largest free block order %d, unusable free space "
                  "for 4 MiB requests %u per mille",
                  core.total_frames(), core.largest_free_order(), core.fragmentation_permille());
        log::debug("buddy: free blocks per order 0-10: %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu",
                   core.free_blocks(0), core.free_blocks(1), core.free_blocks(2),
                   core.free_blocks(3), core.free_blocks(4), core.free_blocks(5),
                   core.free_blocks(6), core.free_blocks(7), core.free_blocks(8),
                   core.free_blocks(9), core.free_blocks(10));
    });
}

} // namespace mk::pmm
