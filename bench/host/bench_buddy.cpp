// Host benchmark of the buddy allocator core (microkernel/lib/buddy) against naive free lists,
// in the same run: nanoseconds per alloc+free pair, and the fragmentation left after
// 1,000,000 random operations. Prints Markdown; writes CSV to the path given as argv[1].
#include "lib/buddy.hpp"

#include "support.hpp"
#include <algorithm>

#include <cstdio>
#include <ctime>
#include <exo/bench/compare.hpp>
#include <exo/bench/report.hpp>
#include <exo/bench/runner.hpp>
#include <random>
#include <vector>

using namespace exo::bench;
using mk::BuddyAllocator;
using mk::kFrameSize;
using mk::kMaxOrder;

namespace {

constexpr uint64_t kFrames = 1 << 18; // a 1 GiB span

using exo::bench::host::MonotonicClock;

constexpr size_t kLive = 1024; // blocks kept allocated while measuring

struct Buddy {
    std::vector<uint8_t> metadata = std::vector<uint8_t>(BuddyAllocator::metadata_bytes(kFrames));
    BuddyAllocator core;
    Buddy() {
        (void)core.init(0, kFrames, metadata.data(), metadata.size());
        (void)core.add_free_range(0, kFrames * kFrameSize);
    }
    uint64_t allocate(unsigned order) { return core.allocate(order).value(); }
    void free(uint64_t address, unsigned order) { (void)core.free(address, order); }
};

// Baseline for order 0: a stack of free frames (what a naive kernel keeps).
struct FrameStack {
    std::vector<uint64_t> free_frames;
    FrameStack() {
        for (uint64_t i = kFrames; i > 0; --i)
            free_frames.push_back((i - 1) * kFrameSize);
    }
    uint64_t allocate(unsigned) {
        uint64_t f = free_frames.back();
        free_frames.pop_back();
        return f;
    }
    void free(uint64_t address, unsigned) { free_frames.push_back(address); }
};

// Baseline for mixed orders: an address-ordered list of free extents, first fit with alignment,
// merged with neighbours on free (what a naive allocator without size classes does).
struct FirstFit {
    struct Extent {
        uint64_t start, end;
    };
    std::vector<Extent> extents{{0, kFrames* kFrameSize}};
    uint64_t allocate(unsigned order) {
        uint64_t size = kFrameSize << order;
        for (size_t i = 0; i < extents.size(); ++i) {
            Extent e = extents[i];
            uint64_t start = (e.start + size - 1) & ~(size - 1);
            if (start + size > e.end)
                continue;
            extents.erase(extents.begin() + long(i));
            if (start + size < e.end)
                extents.insert(extents.begin() + long(i), {start + size, e.end});
            if (e.start < start)
                extents.insert(extents.begin() + long(i), {e.start, start});
            return start;
        }
        std::abort();
    }
    void free(uint64_t address, unsigned order) {
        Extent x{address, address + (kFrameSize << order)};
        auto it =
            std::lower_bound(extents.begin(), extents.end(), x,
                             [](const Extent& a, const Extent& b) { return a.start < b.start; });
        it = extents.insert(it, x);
        if (it + 1 != extents.end() && it->end == (it + 1)->start) {
            it->end = (it + 1)->end;
            extents.erase(it + 1);
        }
        if (it != extents.begin() && (it - 1)->end == it->start) {
            (it - 1)->end = it->end;
            extents.erase(it);
        }
    }
};

// Orders biased to small ones, as a kernel's requests are: P(order k) ~ 2^-(k+1).
std::vector<unsigned> order_sequence(size_t n, unsigned max_order, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<unsigned> orders(n);
    for (auto& o : orders)
        o = std::min<unsigned>(__builtin_ctz(rng() | 0x80000000u), max_order);
    return orders;
}

// One iteration frees the oldest of kLive live blocks and allocates a new one in its place.
template <typename Allocator>
Stats measure(Allocator& allocator, unsigned max_order, std::vector<uint64_t>& samples) {
    auto orders = order_sequence(1 << 16, max_order, 7);
    std::vector<std::pair<uint64_t, unsigned>> live(kLive);
    for (size_t i = 0; i < kLive; ++i)
        live[i] = {allocator.allocate(orders[i]), orders[i]};
    size_t cursor = 0, next = kLive;
    RunConfig config;
    config.batch = 256;
    config.warmup = 16;
    config.min_samples = 64;
    Runner<MonotonicClock> runner(samples.data(), samples.size(), config);
    runner.calibrate();
    auto m = runner.run([&] {
        auto& slot = live[cursor];
        allocator.free(slot.first, slot.second);
        unsigned order = orders[next++ & (orders.size() - 1)];
        slot = {allocator.allocate(order), order};
        cursor = (cursor + 1) % kLive;
    });
    for (auto& [address, order] : live)
        allocator.free(address, order);
    return m.value().stats;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<uint64_t> samples(4096);
    Buddy buddy;
    FrameStack stack;
    FirstFit first_fit;
    Stats buddy0 = measure(buddy, 0, samples);
    Stats stack0 = measure(stack, 0, samples);
    Stats buddy_mixed = measure(buddy, kMaxOrder, samples);
    Stats first_fit_mixed = measure(first_fit, kMaxOrder, samples);

    // Ratio = baseline median / buddy median: above 1 means the buddy is faster; "pass" means at
    // least as fast as the baseline.
    constexpr uint64_t kAtLeastAsFast = 1000;
    Row rows[] = {
        {"buddy order-0 alloc+free", "ns", buddy0, "free-frame stack",
         compare(buddy0, stack0, kAtLeastAsFast)},
        {"free-frame stack order-0 alloc+free", "ns", stack0},
        {"buddy mixed-order alloc+free", "ns", buddy_mixed, "first-fit extent list",
         compare(buddy_mixed, first_fit_mixed, kAtLeastAsFast)},
        {"first-fit extent list mixed-order alloc+free", "ns", first_fit_mixed},
    };
    exo::FormatSink out = exo::bench::host::file_sink(stdout);
    printf("## Buddy allocator vs naive free lists (host, ns per alloc+free pair)\n\n");
    write_markdown(out, rows, sizeof rows / sizeof rows[0]);

    // Fragmentation after 1,000,000 random operations (the same mix as the host test).
    Buddy fresh;
    auto orders = order_sequence(1000000, kMaxOrder, 20240607);
    std::mt19937 rng(1);
    std::vector<std::pair<uint64_t, unsigned>> live;
    for (size_t op = 0; op < orders.size(); ++op) {
        bool allocate = live.empty() || rng() % 100 < ((op / 50000) % 2 == 0 ? 65 : 35);
        if (allocate) {
            auto r = fresh.core.allocate(orders[op]);
            if (r.ok())
                live.emplace_back(r.value(), orders[op]);
        } else {
            size_t i = rng() % live.size();
            fresh.free(live[i].first, live[i].second);
            live[i] = live.back();
            live.pop_back();
        }
    }
    printf("\nAfter 1,000,000 random alloc/free operations (orders 0-10, P(k) ~ 2^-(k+1)), "
           "%zu blocks live, %.1f%% of the span free:\n",
           live.size(), 100.0 * double(fresh.core.free_frames()) / double(kFrames));
    for (unsigned target : {1u, 4u, 10u})
        printf("- unusable free space for order-%u (%llu KiB) requests: %.1f%%\n", target,
               (unsigned long long)(4u << target),
               fresh.core.fragmentation_permille(target) / 10.0);

    if (argc > 1) {
        FILE* csv = fopen(argv[1], "w");
        if (!csv)
            return 1;
        write_csv(exo::bench::host::file_sink(csv), rows, sizeof rows / sizeof rows[0]);
        fclose(csv);
    }
    return 0;
}
