// The allocator core (exo/alloc: thread cache + slab) against a model: 1,000,000 seeded random
// mallocs, frees, reallocs and aligned allocations across every class and large runs. Checks no
// two live objects overlap, contents survive, the core's byte count equals the model's, and that
// freeing everything returns >= 90 % of the pages.
#include "alloc_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>

using namespace exo::alloc;
using exo::test::make_heap;

namespace {

struct Object {
    size_t size;   // requested
    size_t usable; // what the heap says
    uint64_t id;   // stored in the first 8 bytes (when they fit)
    uint8_t fill;  // every other byte
};

void fill(void* p, const Object& o) {
    std::memset(p, o.fill, o.size);
    if (o.size >= 8)
        std::memcpy(p, &o.id, 8);
}

bool intact(const void* p, const Object& o) {
    const uint8_t* bytes = static_cast<const uint8_t*>(p);
    size_t start = 0;
    if (o.size >= 8) {
        uint64_t id;
        std::memcpy(&id, p, 8);
        if (id != o.id)
            return false;
        start = 8;
    }
    uint64_t word;
    std::memset(&word, o.fill, 8);
    size_t i = start;
    for (; i + 8 <= o.size; i += 8) {
        uint64_t got;
        std::memcpy(&got, bytes + i, 8);
        if (got != word)
            return false;
    }
    for (; i < o.size; ++i)
        if (bytes[i] != o.fill)
            return false;
    return true;
}

size_t expected_usable(size_t size, size_t align) {
    if (align > 8 && align <= kPageSize && size <= kMaxClassSize) {
        size_t n = size < align ? align : size;
        size_t pow2 = size_t{1} << (64 - __builtin_clzll(n - 1));
        if (pow2 <= kMaxClassSize)
            return pow2;
    }
    if (size <= kMaxClassSize && align <= 8)
        return class_size(class_of(size));
    return size == 0 ? kPageSize : (size + kPageSize - 1) / kPageSize * kPageSize;
}

// Sizes across every class: mostly small bins, a quarter log-uniform up to 32 KiB, 1 % large.
size_t random_size(std::mt19937_64& rng) {
    uint64_t r = rng() % 100;
    if (r < 70)
        return rng() % 129; // 0..128
    if (r < 99) {
        unsigned bits = 8 + rng() % 8; // 2^7 .. 2^15
        return (size_t{1} << (bits - 1)) + rng() % (size_t{1} << (bits - 1));
    }
    return kMaxClassSize + 1 + rng() % (1 << 20);
}

} // namespace

TEST_CASE("alloc: 1,000,000 random operations against a model", "[alloc]") {
    auto h = make_heap();
    HostCache cache;
    cache.attach(&h->heap);
    std::mt19937_64 rng(20240516);
    std::map<uintptr_t, Object> live;
    std::vector<uintptr_t> order; // live addresses, for picking one at random
    uint64_t next_id = 1;
    size_t model_bytes = 0;
    size_t peak_bytes = 0;

    // `usable`: what the model expects the heap to report (0: the class of size and align).
    auto insert = [&](void* p, size_t size, size_t align, size_t usable = 0) {
        REQUIRE(p != nullptr);
        uintptr_t a = reinterpret_cast<uintptr_t>(p);
        REQUIRE(a % (align < 8 ? 8 : align) == 0);
        Object o{size, cache.usable_size(p), next_id++, static_cast<uint8_t>(rng())};
        REQUIRE(o.usable == (usable ? usable : expected_usable(size, align)));
        auto after = live.lower_bound(a);
        if (after != live.end())
            REQUIRE(a + o.usable <= after->first);
        if (after != live.begin()) {
            auto before = std::prev(after);
            REQUIRE(before->first + before->second.usable <= a);
        }
        fill(p, o);
        live.emplace(a, o);
        order.push_back(a);
        model_bytes += o.usable;
        peak_bytes = std::max(peak_bytes, model_bytes);
    };
    auto take = [&](size_t slot) {
        uintptr_t a = order[slot];
        order[slot] = order.back();
        order.pop_back();
        auto it = live.find(a);
        Object o = it->second;
        live.erase(it);
        model_bytes -= o.usable;
        return std::pair{a, o};
    };

    constexpr size_t kTarget = 20000; // live objects the walk hovers around
    for (int op = 0; op < 1'000'000; ++op) {
        uint64_t r = rng() % 100;
        bool grow = order.size() < kTarget / 2 || (order.size() < 2 * kTarget && r < 50);
        if (order.empty() || (grow && r < 45)) {
            size_t size = random_size(rng);
            insert(cache.allocate(size), size, 1);
        } else if (grow) {
            size_t align = size_t{1} << (3 + rng() % 11); // 8 .. 8 KiB
            size_t size = rng() % 2 ? rng() % 512 : random_size(rng);
            insert(cache.allocate_aligned(align, size), size, align);
        } else if (r < 85) {
            auto [a, o] = take(rng() % order.size());
            REQUIRE(intact(reinterpret_cast<void*>(a), o));
            cache.free(reinterpret_cast<void*>(a));
        } else {
            auto [a, o] = take(rng() % order.size());
            REQUIRE(intact(reinterpret_cast<void*>(a), o));
            size_t size = random_size(rng);
            void* p = cache.reallocate(reinterpret_cast<void*>(a), size);
            REQUIRE(p != nullptr);
            // The common prefix moved with it (the id word only when both sizes hold it).
            size_t kept = std::min(o.size, size);
            size_t id_bytes = o.size >= 8 ? std::min<size_t>(kept, 8) : 0;
            REQUIRE(std::memcmp(p, &o.id, id_bytes) == 0);
            bool prefix_kept = true;
            for (size_t i = id_bytes; i < kept; ++i)
                prefix_kept &= static_cast<uint8_t*>(p)[i] == o.fill;
            REQUIRE(prefix_kept);
            // In place (the old block still fits well) or moved to the new size's class.
            insert(p, size, 1, reinterpret_cast<uintptr_t>(p) == a ? o.usable : 0);
        }
        if (op % 50'000 == 0)
            REQUIRE(h->live_bytes(cache) == model_bytes);
    }
    REQUIRE(h->errors.empty());
    REQUIRE(h->live_bytes(cache) == model_bytes);
    INFO("peak live bytes " << peak_bytes << ", pages at peak " << h->pages.peak());

    for (auto& [a, o] : live) {
        REQUIRE(intact(reinterpret_cast<void*>(a), o));
        cache.free(reinterpret_cast<void*>(a));
    }
    cache.flush_all();
    auto stats = h->heap.stats();
    for (auto& c : stats.classes)
        REQUIRE(c.objects_out == 0);
    REQUIRE(stats.large_blocks == 0);
    REQUIRE(h->errors.empty());
}

TEST_CASE("alloc: freeing everything returns at least 90 % of the pages", "[alloc]") {
    auto h = make_heap();
    HostCache cache;
    cache.attach(&h->heap);
    std::mt19937_64 rng(7);
    std::vector<void*> blocks;
    size_t bytes = 0;
    while (bytes < (size_t{128} << 20)) { // 128 MiB across every class
        size_t size = random_size(rng);
        void* p = cache.allocate(size);
        REQUIRE(p != nullptr);
        std::memset(p, 0xA5, size); // touch it: real pages
        blocks.push_back(p);
        bytes += size;
    }
    std::shuffle(blocks.begin(), blocks.end(), rng);
    size_t peak = h->pages.held();
    for (void* p : blocks)
        cache.free(p);
    cache.flush_all();
    size_t after = h->pages.held();
    auto stats = h->heap.stats();
    INFO("pages held at peak " << peak << ", after freeing everything " << after
                               << " (metadata and page-map leaves " << stats.meta_pages << ")");
    REQUIRE(after * 10 <= peak);
    REQUIRE(stats.pages_returned >= peak - after - stats.meta_pages);
    h->heap.trim(); // without the hysteresis: only metadata stays
    REQUIRE(h->pages.held() == h->heap.stats().meta_pages);
    REQUIRE(h->errors.empty());
}
