// Buddy allocator core, LockedBuddy and FrameCache: validation, a randomized run against a model,
// coalescing, error atomicity, quotas, the fragmentation index, and a 2-thread stress.
#include "support.hpp"

#include "lib/buddy.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

using exo::Status;
using mk::BuddyAllocator;
using mk::kFrameSize;
using mk::kMaxOrder;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

uint64_t block_bytes(unsigned order) {
    return kFrameSize << order;
}

// A buddy over [base, base + frames * 4 KiB) with its metadata; nothing free yet.
struct Arena {
    Arena(uint64_t base, uint64_t frames)
        : storage(BuddyAllocator::metadata_bytes(frames) / 8 + 1) {
        REQUIRE(buddy.init(base, frames, storage.data(), storage.size() * 8).ok());
    }
    const mk::FrameMeta* meta() const {
        return reinterpret_cast<const mk::FrameMeta*>(storage.data());
    }
    std::vector<uint64_t> storage;
    BuddyAllocator buddy;
};

// Every byte of the allocator object and of its metadata: "bit-identical" means equal.
std::vector<uint8_t> snapshot(const Arena& a) {
    auto* object = reinterpret_cast<const uint8_t*>(&a.buddy);
    auto* meta = reinterpret_cast<const uint8_t*>(a.storage.data());
    std::vector<uint8_t> bytes(object, object + sizeof a.buddy);
    bytes.insert(bytes.end(), meta, meta + a.storage.size() * 8);
    return bytes;
}

// The state free of list order: sorted free blocks plus each frame's (state, order).
using Canonical = std::pair<std::vector<std::pair<uint64_t, unsigned>>, std::vector<int>>;
Canonical canonical(const Arena& a) {
    Canonical c;
    a.buddy.for_each_free_block(
        [&](uint64_t addr, unsigned order) { c.first.emplace_back(addr, order); });
    std::sort(c.first.begin(), c.first.end());
    for (uint64_t i = 0; i < a.buddy.total_frames(); ++i)
        c.second.push_back(int(a.meta()[i].state) << 8 | a.meta()[i].order);
    return c;
}

std::vector<uint64_t> free_counts(const BuddyAllocator& b) {
    std::vector<uint64_t> counts;
    for (unsigned order = 0; order <= kMaxOrder; ++order)
        counts.push_back(b.free_blocks(order));
    return counts;
}

struct NullLock {
    void lock() {}
    void unlock() {}
};

} // namespace

TEST_CASE("buddy: init validates the span and the metadata") {
    std::vector<uint64_t> buf(64);
    size_t bytes = buf.size() * 8;
    BuddyAllocator b;
    REQUIRE(b.init(0x1234, 4, buf.data(), bytes).status() == Status::Misaligned);
    REQUIRE(b.init(0x1000, 0, buf.data(), bytes).status() == Status::InvalidArgument);
    REQUIRE(b.init(0x1000, 4, nullptr, bytes).status() == Status::InvalidArgument);
    void* odd = reinterpret_cast<uint8_t*>(buf.data()) + 1;
    REQUIRE(b.init(0x1000, 4, odd, bytes - 1).status() == Status::Misaligned);
    REQUIRE(b.init(0x1000, 4, buf.data(), 4 * 12 - 1).status() == Status::BufferTooSmall);
    REQUIRE(b.init(~uint64_t(0xfff) - 0x2000, 3, buf.data(), bytes).status() ==
            Status::OutOfRange); // would end at 2^64
    REQUIRE(b.init(0, mk::kMaxSpanFrames + 1, buf.data(), bytes).status() == Status::OutOfRange);
    REQUIRE(BuddyAllocator::metadata_bytes(mk::kMaxSpanFrames + 1) == SIZE_MAX);
    REQUIRE(BuddyAllocator::metadata_bytes(kMiB * 1024 / kFrameSize) == 3 * kMiB); // per GiB

    // A failed init leaves an empty allocator that refuses everything cleanly.
    REQUIRE(b.total_frames() == 0);
    REQUIRE(b.check_invariants());
    REQUIRE(b.allocate(0).status() == Status::NoMemory);
    REQUIRE(b.free(0x1000, 0).status() == Status::OutOfRange);
    REQUIRE(b.add_free_range(0x1000, 0x1000).status() == Status::OutOfRange);

    // The highest span that does not wrap is accepted; a second init is refused.
    REQUIRE(b.init(~uint64_t(0xfff) - 0x2000, 2, buf.data(), bytes).ok());
    REQUIRE(b.init(0x1000, 4, buf.data(), bytes).status() == Status::BadState);
    REQUIRE(b.total_frames() == 2);
    REQUIRE(b.free_frames() == 0);
    REQUIRE(b.largest_free_order() == -1);
    REQUIRE(b.allocate(0).status() == Status::NoMemory);
    REQUIRE(b.check_invariants());
}

TEST_CASE("buddy: add_free_range validates and never half-applies") {
    Arena a(0x100000, 64);
    BuddyAllocator& b = a.buddy;
    REQUIRE(b.add_free_range(0x100000, 0).status() == Status::InvalidArgument);
    REQUIRE(b.add_free_range(0x100800, 0x1000).status() == Status::Misaligned);
    REQUIRE(b.add_free_range(0x100000, 0x800).status() == Status::Misaligned);
    REQUIRE(b.add_free_range(0xff000, 0x2000).status() == Status::OutOfRange);
    REQUIRE(b.add_free_range(0x100000, 65 * kFrameSize).status() == Status::OutOfRange);
    REQUIRE(b.add_free_range(0x100000 + 63 * kFrameSize, 0x2000).status() == Status::OutOfRange);
    REQUIRE(b.add_free_range(~uint64_t(0xfff), 0x2000).status() == Status::OutOfRange);

    REQUIRE(b.add_free_range(0x108000, 8 * kFrameSize).ok());
    REQUIRE(b.free_blocks(3) == 1);
    auto before = snapshot(a);
    REQUIRE(b.add_free_range(0x100000, 16 * kFrameSize).status() == Status::BadState);
    REQUIRE(b.add_free_range(0x10f000, kFrameSize).status() == Status::BadState);
    REQUIRE(snapshot(a) == before);
    // Allocated frames count as added too.
    uint64_t frame = b.allocate(3).value();
    REQUIRE(b.add_free_range(frame, kFrameSize).status() == Status::BadState);
    REQUIRE(b.free(frame, 3).ok());
    REQUIRE(b.check_invariants());
}

TEST_CASE("buddy: a memory map with holes becomes maximal aligned blocks") {
    Arena a(0, 128 * kMiB / kFrameSize);
    BuddyAllocator& b = a.buddy;
    REQUIRE(b.add_free_range(0x400000, 0x2000000 - 0x400000).ok());   // 7 x 4 MiB
    REQUIRE(b.add_free_range(0x2200000, 0x7fe0000 - 0x2200000).ok()); // 2 MiB-aligned start
    REQUIRE(b.free_frames() == (0x1c00000 + 0x5de0000) / kFrameSize);
    REQUIRE(free_counts(b) == std::vector<uint64_t>{0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 29});
    REQUIRE(b.check_invariants());
    // Filling the hole merges across the two earlier ranges.
    REQUIRE(b.add_free_range(0x2000000, 0x200000).ok());
    REQUIRE(free_counts(b) == std::vector<uint64_t>{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 30});
    REQUIRE(b.allocated_frames() == 0);
    REQUIRE(b.check_invariants());

    // Blocks align to physical addresses, not to the span's base.
    Arena c(0x3000, 2048);
    REQUIRE(c.buddy.add_free_range(0x3000, 2048 * kFrameSize).ok());
    REQUIRE(c.buddy.free_blocks(10) == 1);
    REQUIRE(c.buddy.allocate(10).value() == 0x400000);
    REQUIRE(c.buddy.allocate(10).status() == Status::NoMemory);
    REQUIRE(c.buddy.largest_free_order() == 9);
    REQUIRE(c.buddy.check_invariants());
}

TEST_CASE("buddy: a million random operations agree with a model") {
    const uint64_t base = 0x100000, frames = 16384; // 64 MiB at 1 MiB: not 4 MiB aligned
    const std::vector<std::pair<uint64_t, uint64_t>> ranges = {
        {0x103000, 0x1000000}, {0x1200000, 0x3000000}, {0x3005000, base + frames * kFrameSize}};
    Arena a(base, frames);
    BuddyAllocator& b = a.buddy;
    for (auto [start, end] : ranges)
        REQUIRE(b.add_free_range(start, end - start).ok());
    const uint64_t initial_free = b.free_frames();
    const Canonical initial = canonical(a);
    const auto initial_counts = free_counts(b);

    auto in_ranges = [&](uint64_t addr, uint64_t size) {
        return std::any_of(ranges.begin(), ranges.end(),
                           [&](auto r) { return addr >= r.first && addr + size <= r.second; });
    };
    std::mt19937 rng(20240607);
    std::map<uint64_t, unsigned> live;
    std::vector<std::pair<uint64_t, unsigned>> live_list;
    uint64_t model_free = initial_free;
    for (int op = 0; op < 1000000; ++op) {
        unsigned alloc_percent = (op / 50000) % 2 == 0 ? 65 : 35; // fill, then drain
        if (live_list.empty() || rng() % 100 < alloc_percent) {
            unsigned order = std::min<unsigned>(__builtin_ctz(rng() | 0x80000000u), kMaxOrder);
            auto r = b.allocate(order);
            if (!r.ok()) {
                if (r.status() != Status::NoMemory || b.largest_free_order() >= int(order))
                    FAIL("allocate(" << order << ") failed with free blocks left");
                continue;
            }
            uint64_t addr = r.value(), size = block_bytes(order);
            if (addr % size != 0 || !in_ranges(addr, size))
                FAIL("bad block " << addr << " order " << order);
            auto next = live.lower_bound(addr);
            if (next != live.end() && next->first < addr + size)
                FAIL("overlap after " << addr);
            if (next != live.begin() &&
                std::prev(next)->first + block_bytes(std::prev(next)->second) > addr)
                FAIL("overlap before " << addr);
            live.emplace(addr, order);
            live_list.emplace_back(addr, order);
            model_free -= size / kFrameSize;
        } else {
            size_t i = rng() % live_list.size();
            auto [addr, order] = live_list[i];
            live_list[i] = live_list.back();
            live_list.pop_back();
            live.erase(addr);
            if (!b.free(addr, order).ok())
                FAIL("free failed");
            model_free += uint64_t(1) << order;
        }
        if (op % 101 == 0) { // a bogus free must fail and change nothing
            uint64_t addr = base + rng() % frames * kFrameSize;
            unsigned order = rng() % 12;
            auto it = live.find(addr);
            if ((it == live.end() || it->second != order) && b.free(addr, order).ok())
                FAIL("bogus free of " << addr << " order " << order << " succeeded");
        }
        if (b.free_frames() != model_free || b.allocated_frames() != initial_free - model_free)
            FAIL("counters disagree with the model at op " << op);
        if (op % 10000 == 0)
            REQUIRE(b.check_invariants());
    }
    for (auto [addr, order] : live_list)
        REQUIRE(b.free(addr, order).ok());
    REQUIRE(b.check_invariants());
    REQUIRE(b.free_frames() == initial_free);
    REQUIRE(free_counts(b) == initial_counts);
    REQUIRE(canonical(a) == initial);
}

TEST_CASE("buddy: freeing every frame of 4 MiB in random order coalesces into one block") {
    Arena a(12 * kMiB, 1024);
    BuddyAllocator& b = a.buddy;
    REQUIRE(b.add_free_range(12 * kMiB, 4 * kMiB).ok());
    std::vector<uint64_t> frames;
    for (int i = 0; i < 1024; ++i)
        frames.push_back(b.allocate(0).value());
    REQUIRE(b.allocate(0).status() == Status::NoMemory);
    REQUIRE(b.free_frames() == 0);
    std::shuffle(frames.begin(), frames.end(), std::mt19937(7));
    for (size_t i = 0; i < frames.size(); ++i) {
        REQUIRE(b.free(frames[i], 0).ok());
        if (i % 64 == 0)
            REQUIRE(b.check_invariants());
    }
    REQUIRE(free_counts(b) == std::vector<uint64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    REQUIRE(b.check_invariants());
}

TEST_CASE("buddy: every bad free is reported and changes nothing") {
    const uint64_t base = 0x200000, frames = 2048;
    Arena a(base, frames);
    BuddyAllocator& b = a.buddy;
    REQUIRE(b.add_free_range(base + 16 * kFrameSize, (frames - 16) * kFrameSize).ok());
    uint64_t one = b.allocate(0).value();
    uint64_t four = b.allocate(2).value();
    uint64_t eight = b.allocate(3).value();
    uint64_t gone = b.allocate(0).value();
    REQUIRE(b.free(gone, 0).ok());
    uint64_t free_head = 0;
    unsigned free_order = 0;
    b.for_each_free_block([&](uint64_t addr, unsigned order) {
        if (order >= free_order)
            free_head = addr, free_order = order;
    });
    const auto before = snapshot(a);
    mk::FrameQuota low{100, 3};

    const std::vector<std::pair<Status, exo::Result<void>>> cases = {
        {Status::BadState, b.free(gone, 0)},                         // double free
        {Status::Misaligned, b.free(one + 0x10, 0)},                 // not 4 KiB aligned
        {Status::Misaligned, b.free(eight + kFrameSize, 1)},         // not aligned to its order
        {Status::OutOfRange, b.free(base - kFrameSize, 0)},          // below the span
        {Status::OutOfRange, b.free(base + frames * kFrameSize, 0)}, // past its end
        {Status::OutOfRange, b.free(~uint64_t(0xfff), 0)},
        {Status::InvalidArgument, b.free(one, kMaxOrder + 1)}, // order too large
        {Status::InvalidArgument, b.free(four, 1)},            // wrong order
        {Status::InvalidArgument, b.free(eight, 2)},
        {Status::BadState, b.free(eight + kFrameSize, 0)},     // tail frame
        {Status::BadState, b.free(eight + 4 * kFrameSize, 2)}, // aligned tail
        {Status::BadState, b.free(base, 0)},                   // reserved
        {Status::BadState, b.free(free_head, free_order)},     // never allocated
        {Status::BadState, b.free(free_head + kFrameSize, 0)},
        {Status::BadState, b.free(four, 2, &low)}, // quota charged less than the block
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        INFO("case " << i);
        REQUIRE(cases[i].second.status() == cases[i].first);
    }
    REQUIRE(b.allocate(kMaxOrder + 1).status() == Status::InvalidArgument);
    REQUIRE(snapshot(a) == before);
    REQUIRE(low.used_frames == 3);
    REQUIRE(b.check_invariants());
    REQUIRE(b.free(one, 0).ok());
    REQUIRE(b.free(four, 2).ok());
    REQUIRE(b.free(eight, 3).ok());
    REQUIRE(b.allocated_frames() == 0);
}

TEST_CASE("buddy: check_invariants notices corrupt metadata") {
    Arena a(0, 64);
    REQUIRE(a.buddy.add_free_range(0, 64 * kFrameSize).ok());
    auto* meta = reinterpret_cast<mk::FrameMeta*>(a.storage.data());
    REQUIRE(a.buddy.check_invariants());
    meta[5].state = mk::FrameState::FreeHead; // a stray head inside the order-6 block
    REQUIRE_FALSE(a.buddy.check_invariants());
    meta[5].state = mk::FrameState::Tail;
    meta[0].next = 0; // a cycle
    REQUIRE_FALSE(a.buddy.check_invariants());
    meta[0].next = mk::kNoFrame;
    REQUIRE(a.buddy.check_invariants());
}

TEST_CASE("buddy: exhaustion hands out exactly the free frames, and all come back") {
    Arena a(0x1000, 3000);
    BuddyAllocator& b = a.buddy;
    REQUIRE(b.add_free_range(0x5000, 1000 * kFrameSize).ok());
    REQUIRE(b.add_free_range(0x5000 + 1100 * kFrameSize, 1800 * kFrameSize).ok());
    const uint64_t initial_free = b.free_frames();
    const Canonical initial = canonical(a);
    std::vector<std::pair<uint64_t, unsigned>> blocks;
    for (unsigned order : {5u, 0u}) { // large blocks first, then every remaining frame
        for (;;) {
            auto r = b.allocate(order);
            if (!r.ok()) {
                REQUIRE(r.status() == Status::NoMemory);
                break;
            }
            blocks.emplace_back(r.value(), order);
        }
    }
    uint64_t handed_out = 0;
    for (auto [addr, order] : blocks)
        handed_out += uint64_t(1) << order;
    REQUIRE(handed_out == initial_free);
    REQUIRE(b.free_frames() == 0);
    REQUIRE(b.largest_free_order() == -1);
    REQUIRE(b.fragmentation_permille() == 0);
    REQUIRE(b.check_invariants());
    for (auto [addr, order] : blocks)
        REQUIRE(b.free(addr, order).ok());
    REQUIRE(canonical(a) == initial);
    REQUIRE(b.check_invariants());
}

TEST_CASE("buddy: quota charging honours the limit and uncharges on free") {
    Arena a(0, 1024);
    BuddyAllocator& b = a.buddy;
    REQUIRE(b.add_free_range(0, 1024 * kFrameSize).ok());
    mk::FrameQuota q{10, 0};
    uint64_t x = b.allocate(2, &q).value();
    uint64_t y = b.allocate(2, &q).value();
    REQUIRE(q.used_frames == 8);
    auto before = snapshot(a);
    REQUIRE(b.allocate(2, &q).status() == Status::NoMemory);
    REQUIRE(b.allocate(kMaxOrder, &q).status() == Status::NoMemory);
    REQUIRE(snapshot(a) == before);
    REQUIRE(q.used_frames == 8);
    uint64_t z = b.allocate(1, &q).value();
    REQUIRE(q.used_frames == 10);
    REQUIRE(b.allocate(0, &q).status() == Status::NoMemory);
    REQUIRE(b.allocated_frames() == 10);
    REQUIRE(b.free(x, 2, &q).ok());
    REQUIRE(q.used_frames == 6);
    REQUIRE(b.allocate(1, &q).ok());
    REQUIRE(q.used_frames == 8);

    mk::FrameQuota none{0, 0};
    REQUIRE(b.allocate(0, &none).status() == Status::NoMemory);
    mk::FrameQuota nearly_full{UINT64_MAX, UINT64_MAX - 1}; // no wrap-around in the check
    REQUIRE(b.allocate(1, &nearly_full).status() == Status::NoMemory);
    REQUIRE(b.allocate(0, &nearly_full).ok());
    REQUIRE(nearly_full.used_frames == UINT64_MAX);
    (void)y, (void)z;
    REQUIRE(b.check_invariants());
}

TEST_CASE("buddy: fragmentation index in per-mille") {
    Arena whole(0, 2048);
    REQUIRE(whole.buddy.fragmentation_permille() == 0); // nothing free
    REQUIRE(whole.buddy.add_free_range(0, 2048 * kFrameSize).ok());
    REQUIRE(whole.buddy.fragmentation_permille() == 0); // all in order-10 blocks

    Arena a(0, 1024);
    BuddyAllocator& b = a.buddy;
    REQUIRE(b.add_free_range(0, 1024 * kFrameSize).ok());
    for (int i = 0; i < 1024; ++i)
        REQUIRE(b.allocate(0).ok());
    for (uint64_t i = 0; i < 1024; i += 2) // isolated order-0 frames only
        REQUIRE(b.free(i * kFrameSize, 0).ok());
    REQUIRE(b.fragmentation_permille() == 1000);
    REQUIRE(b.fragmentation_permille(1) == 1000);
    REQUIRE(b.fragmentation_permille(0) == 0);
    for (uint64_t i = 0; i < 1024; i += 2)
        REQUIRE(b.allocate(0).ok());

    // Frames [0, 512) -> one order-9 block, [512, 768) -> order 8, frame 1000 alone: 769 free.
    for (uint64_t i = 0; i < 768; ++i)
        REQUIRE(b.free(i * kFrameSize, 0).ok());
    REQUIRE(b.free(1000 * kFrameSize, 0).ok());
    REQUIRE(free_counts(b) == std::vector<uint64_t>{1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0});
    REQUIRE(b.fragmentation_permille() == 1000);   // nothing serves order 10
    REQUIRE(b.fragmentation_permille(9) == 334);   // 257 * 1000 / 769 = 334.2
    REQUIRE(b.fragmentation_permille(8) == 1);     // 1 * 1000 / 769 = 1.3
    REQUIRE(b.fragmentation_permille(99) == 1000); // clamped to kMaxOrder
    REQUIRE(b.largest_free_order() == 9);
}

TEST_CASE("buddy: FrameCache refills and flushes in batches") {
    using Cache = mk::FrameCache<NullLock>;
    std::vector<uint64_t> storage(BuddyAllocator::metadata_bytes(1024) / 8 + 1);
    mk::LockedBuddy<NullLock> locked;
    REQUIRE(locked.init(0, 1024, storage.data(), storage.size() * 8).ok());
    REQUIRE(locked.add_free_range(0, 1024 * kFrameSize).ok());
    auto core_allocated = [&] {
        return locked.with_core([](auto& b) { return b.allocated_frames(); });
    };
    Cache cache(locked);

    std::vector<uint64_t> frames;
    for (size_t i = 0; i < 3 * Cache::kBatch; ++i) {
        frames.push_back(cache.allocate().value());
        REQUIRE(cache.cached() == Cache::kBatch - 1 - i % Cache::kBatch);
        REQUIRE(core_allocated() == (i / Cache::kBatch + 1) * Cache::kBatch);
    }
    REQUIRE(cache.free(frames[0]).ok());
    REQUIRE(cache.free(frames[0]).status() == Status::BadState); // already cached
    REQUIRE(cache.free(1024 * kFrameSize).status() == Status::OutOfRange);
    REQUIRE(cache.free(frames[1] + 8).status() == Status::Misaligned);
    for (size_t i = 1; i < frames.size(); ++i) {
        REQUIRE(cache.free(frames[i]).ok());
        size_t n = i + 1; // frames freed so far; a full cache flushes kBatch first
        REQUIRE(cache.cached() == (n <= Cache::kCapacity ? n : n - Cache::kBatch));
        REQUIRE(core_allocated() == frames.size() - n + cache.cached()); // flushed ones back
    }
    cache.flush();
    REQUIRE(cache.cached() == 0);
    REQUIRE(core_allocated() == 0);
    REQUIRE(locked.with_core([](auto& b) { return b.free_blocks(kMaxOrder); }) == 1);

    // A double free past the cache is caught by the buddy at flush time.
    uint64_t frame = cache.allocate().value();
    REQUIRE(cache.free(frame).ok());
    cache.flush();
    REQUIRE(cache.free(frame).ok());
    cache.flush();
    REQUIRE(cache.rejected() == 1);
    REQUIRE(locked.with_core([](auto& b) { return b.check_invariants(); }));

    // Exhaustion through the cache.
    size_t got = 0;
    while (cache.allocate().ok())
        ++got;
    REQUIRE(got == 1024);
    REQUIRE(cache.allocate().status() == Status::NoMemory);
}

TEST_CASE("buddy: two threads with their own FrameCache share a LockedBuddy") {
    const uint64_t frames = 4096;
    std::vector<uint64_t> storage(BuddyAllocator::metadata_bytes(frames) / 8 + 1);
    mk::LockedBuddy<std::mutex> locked;
    REQUIRE(locked.init(0, frames, storage.data(), storage.size() * 8).ok());
    REQUIRE(locked.add_free_range(0, frames * kFrameSize).ok());
    std::vector<std::atomic<uint8_t>> owned(frames); // 1 while some thread holds the frame
    std::atomic<int> errors{0};

    auto claim = [&](uint64_t addr, unsigned order, uint8_t value) {
        for (uint64_t f = addr / kFrameSize; f < addr / kFrameSize + (1u << order); ++f)
            if (owned[f].exchange(value) == value)
                errors++;
    };
    std::atomic<bool> go{false};
    auto worker = [&](unsigned seed) {
        mk::FrameCache<std::mutex> cache(locked);
        std::mt19937 rng(seed);
        std::vector<std::pair<uint64_t, unsigned>> live; // order 99: a frame from the cache
        auto release = [&](uint64_t addr, unsigned order) {
            claim(addr, order == 99 ? 0 : order, 0);
            errors += (order == 99 ? cache.free(addr) : locked.free(addr, order)).ok() ? 0 : 1;
        };
        while (!go)
            std::this_thread::yield();
        for (int op = 0; op < 200000; ++op) {
            if (live.empty() || rng() % 100 < 55) { // drifts towards exhaustion
                bool small = rng() % 4 != 0;
                unsigned order = small ? 0 : rng() % 5;
                auto r = small ? cache.allocate() : locked.allocate(order);
                if (r.ok()) {
                    claim(r.value(), order, 1);
                    live.emplace_back(r.value(), small ? 99 : order);
                }
            } else {
                size_t i = rng() % live.size();
                release(live[i].first, live[i].second);
                live[i] = live.back();
                live.pop_back();
            }
        }
        for (auto [addr, order] : live)
            release(addr, order);
        cache.flush();
        errors += int(cache.rejected());
    };
    std::thread t1(worker, 1), t2(worker, 2);
    go = true;
    t1.join();
    t2.join();
    REQUIRE(errors == 0);
    locked.with_core([&](BuddyAllocator& b) {
        REQUIRE(b.check_invariants());
        REQUIRE(b.free_frames() == frames);
        REQUIRE(b.free_blocks(kMaxOrder) == frames / 1024);
    });
}
