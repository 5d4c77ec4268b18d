// Benchmark table "memory": the memory layer's basic operations, one at a time, with interrupts
// off (bench.hpp). Each row is the cost of one round trip that leaves the state as it found it,
// so every iteration does the same work:
// - one frame allocated and freed through pmm::allocate/free, on its two paths: the CPU's
//   FrameCache (uncharged order-0 frames, no lock most of the time; its free scans the cached
//   frames for a double free, so the cost grows with how full the cache was left by the boot)
//   and the locked buddy (a charged request, here with an unlimited FrameQuota, skips the cache);
// - a 64-byte object allocated and freed with new (std::nothrow) and sized delete (kernel heap);
// - one kernel page mapped and unmapped (vm::map_kernel_page/unmap_kernel_page, with the TLB
//   flush).
#include "bench/bench.hpp"
#include "core/log.hpp"
#include "lib/page_table.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"

#include <exo/bench/compare.hpp>
#include <new>

namespace mk::bench {
namespace {

using exo::bench::do_not_optimize;
using exo::bench::Row;
using exo::bench::Stats;

// A page of kernel address space nothing else uses (the memory self-test's scratch page is at
// 0xFFFFFE8000000000, 1 GiB below).
constexpr uint64_t kScratchPage = 0xFFFFFE8040000000ull;

struct Object64 {
    uint64_t words[8];
};
static_assert(sizeof(Object64) == 64);

bool report_error(const char* what, exo::Status status) {
    log::error("bench memory: %s failed: %s", what, exo::status_name(status));
    return false;
}

// Each body sets `error` instead of stopping (the Runner has no early exit); checked after.
exo::Result<Stats> frame_via_cache() {
    exo::Status error = exo::Status::Ok;
    Stats s = TRY(measure("memory/frame cache", [&] {
        auto frame = pmm::allocate(0);
        if (!frame.ok() || !pmm::free(frame.value(), 0).ok())
            error = exo::Status::BadState;
    }));
    if (error != exo::Status::Ok)
        return error;
    return s;
}

// With one frame held, the order-0 free list is never empty (its buddy, or another order-0
// block, is on it), and a free order-0 block's buddy is never free (they would have merged): so
// each round trip pops an order-0 block and pushes it back, with no split and no merge, however
// fragmented memory was at boot. Without the anchor the cost would depend on that.
exo::Result<Stats> frame_via_locked_buddy() {
    FrameQuota quota{UINT64_MAX, 0};
    const uint64_t anchor = TRY(pmm::allocate(0, &quota));
    exo::Status error = exo::Status::Ok;
    auto s = measure("memory/locked buddy", [&] {
        auto frame = pmm::allocate(0, &quota);
        if (!frame.ok() || !pmm::free(frame.value(), 0, &quota).ok())
            error = exo::Status::BadState;
    });
    TRY(pmm::free(anchor, 0, &quota));
    if (!s.ok())
        return s.status();
    if (error != exo::Status::Ok)
        return error;
    return s.value();
}

exo::Result<Stats> heap_object() {
    exo::Status error = exo::Status::Ok;
    Stats s = TRY(measure("memory/heap 64 B", [&] {
        Object64* object = new (std::nothrow) Object64;
        do_not_optimize(object); // the pointer escapes: new and delete are not elided
        if (object == nullptr)
            error = exo::Status::NoMemory;
        else
            delete object;
    }));
    if (error != exo::Status::Ok)
        return error;
    return s;
}

exo::Result<Stats> map_page() {
    uint64_t frame = TRY(pmm::allocate(0));
    // The first mapping allocates the page tables down to the scratch page; they stay.
    TRY(vm::map_kernel_page(kScratchPage, frame, kAccessWrite));
    TRY(vm::unmap_kernel_page(kScratchPage));
    exo::Status error = exo::Status::Ok;
    auto s = measure("memory/map+unmap", [&] {
        if (!vm::map_kernel_page(kScratchPage, frame, kAccessWrite).ok() ||
            !vm::unmap_kernel_page(kScratchPage).ok())
            error = exo::Status::BadState;
    });
    TRY(pmm::free(frame, 0));
    if (!s.ok())
        return s.status();
    if (error != exo::Status::Ok)
        return error;
    return s.value();
}

} // namespace

bool memory(const Context&) {
    struct Case {
        const char* name;
        exo::Result<Stats> (*measure)();
    };
    constexpr Case kCases[] = {
        {"frame alloc+free (FrameCache)", frame_via_cache},
        {"frame alloc+free (locked buddy)", frame_via_locked_buddy},
        {"heap new+delete 64 B", heap_object},
        {"kernel page map+unmap", map_page},
    };
    constexpr size_t kCount = sizeof kCases / sizeof kCases[0];
    Row rows[kCount] = {};
    {
        InterruptsOff quiet;
        for (size_t i = 0; i < kCount; ++i) {
            auto stats = kCases[i].measure();
            if (!stats.ok())
                return report_error(kCases[i].name, stats.status());
            rows[i] = {kCases[i].name, "insns", stats.value()};
        }
    }
    // The cache against the locked buddy: ratio = the buddy's median / the cache's.
    rows[0].baseline = rows[1].name;
    rows[0].verdict = exo::bench::compare(rows[0].stats, rows[1].stats, 1000);
    report("memory", rows, kCount);
    return true;
}

} // namespace mk::bench
