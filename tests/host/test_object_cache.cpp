// Slab object cache (libexo, exo/object_cache.hpp) on aligned_alloc'd pages: alignment and
// non-overlap, randomized churn, page-source exhaustion, rejected frees that change nothing,
// poisoning and the typed front end.
#include "support.hpp"

#include <catch2/catch.hpp>
#include <exo/object_cache.hpp>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

using exo::ObjectCache;
using exo::Status;
using exo::TypedCache;

namespace {

// Hands out real 4 KiB pages up to `limit`, and checks that every page comes back.
struct TestPages {
    explicit TestPages(size_t limit) : limit(limit) {}
    ~TestPages() {
        for (void* page : live)
            std::free(page);
    }
    exo::Result<void*> allocate_page() {
        if (live.size() >= limit)
            return Status::NoMemory;
        void* page = std::aligned_alloc(4096, 4096);
        REQUIRE(page != nullptr);
        live.insert(page);
        return page;
    }
    void free_page(void* page) {
        REQUIRE(live.erase(page) == 1);
        std::free(page);
    }
    size_t limit;
    std::set<void*> live;
};

using Cache = ObjectCache<TestPages>;

// The page-source interface is checked when a cache is named, not deep inside its first use.
struct NoFree {
    exo::Result<void*> allocate_page();
};
struct WrongResult {
    void* allocate_page();
    void free_page(void*);
};
static_assert(exo::PageSource<TestPages>);
static_assert(!exo::PageSource<NoFree>);
static_assert(!exo::PageSource<WrongResult>);

bool same_stats(const Cache::Stats& a, const Cache::Stats& b) {
    return a.object_size == b.object_size && a.objects_per_slab == b.objects_per_slab &&
           a.live_objects == b.live_objects && a.slabs == b.slabs && a.empty_slabs == b.empty_slabs;
}

uintptr_t addr(const void* p) {
    return reinterpret_cast<uintptr_t>(p);
}

} // namespace

TEST_CASE("object cache: sizes and alignments give aligned, disjoint slots inside slabs") {
    struct Shape {
        size_t size, align;
    };
    const Shape shapes[] = {{1, 1},      {1, 8},    {8, 8},       {8, 64},   {24, 8},
                            {24, 16},    {64, 64},  {200, 8},     {200, 32}, {1000, 8},
                            {1000, 512}, {2048, 8}, {2048, 2048}, {3, 4},    {100, 128}};
    for (const Shape& shape : shapes) {
        CAPTURE(shape.size, shape.align);
        TestPages pages(64);
        Cache cache("shape", shape.size, shape.align, pages);
        auto stats = cache.stats();
        REQUIRE(stats.object_size >= shape.size);
        REQUIRE(stats.object_size % shape.align == 0);
        REQUIRE(stats.objects_per_slab >= 1);

        size_t count = stats.objects_per_slab * 3 + 1; // spills into a fourth slab
        std::map<uintptr_t, uintptr_t> ranges;         // start -> end of each live object
        std::vector<void*> objects;
        for (size_t i = 0; i < count; ++i) {
            void* p = cache.allocate().value();
            uintptr_t start = addr(p), end = start + shape.size;
            REQUIRE(start % shape.align == 0);
            REQUIRE(pages.live.count(reinterpret_cast<void*>(start & ~uintptr_t(4095))) == 1);
            REQUIRE((end - 1) / 4096 == start / 4096); // the object stays in its slab
            auto next = ranges.lower_bound(start);
            if (next != ranges.end())
                REQUIRE(next->first >= end);
            if (next != ranges.begin())
                REQUIRE(std::prev(next)->second <= start);
            ranges[start] = end;
            std::memset(p, 0xA5, shape.size); // ASan checks the slot is real memory
            objects.push_back(p);
        }
        REQUIRE(cache.stats().slabs == 4);
        REQUIRE(cache.stats().live_objects == count);
        REQUIRE(cache.check_invariants());
        for (void* p : objects)
            REQUIRE(cache.free(p).ok());
        REQUIRE(cache.stats().empty_slabs == 4);
        REQUIRE(cache.release_empty_slabs() == 4);
        REQUIRE(pages.live.empty());
        REQUIRE(cache.check_invariants());
    }
}

TEST_CASE("object cache: constructing with impossible geometry asserts") {
    TestPages pages(4);
    REQUIRE_THROWS_AS(Cache("zero", 0, 8, pages), exo::test::AssertionFailure);
    REQUIRE_THROWS_AS(Cache("npot", 8, 24, pages), exo::test::AssertionFailure);
    REQUIRE_THROWS_AS(Cache("huge align", 8, 8192, pages), exo::test::AssertionFailure);
    REQUIRE_THROWS_AS(Cache("page align", 8, 4096, pages), exo::test::AssertionFailure);
    REQUIRE_THROWS_AS(Cache("too big", 4000, 8, pages), exo::test::AssertionFailure);
}

TEST_CASE("object cache: 200k randomized allocations and frees keep the invariants") {
    TestPages pages(1 << 16);
    Cache cache("churn", 48, 16, pages);
    std::mt19937_64 rng(0xE20C0DE);
    std::vector<void*> live;
    std::set<void*> live_set;
    for (int op = 0; op < 200000; ++op) {
        // Drift between growing and shrinking phases so slabs fill, drain and get released.
        bool grow = ((op / 20000) % 2 == 0) ? rng() % 100 < 65 : rng() % 100 < 35;
        if (grow || live.empty()) {
            void* p = cache.allocate().value();
            REQUIRE(addr(p) % 16 == 0);
            REQUIRE(live_set.insert(p).second); // never handed out twice
            std::memset(p, int(op & 0xFF), 48);
            live.push_back(p);
        } else {
            size_t i = rng() % live.size();
            void* p = live[i];
            live[i] = live.back();
            live.pop_back();
            live_set.erase(p);
            REQUIRE(cache.free(p).ok());
        }
        if (op % 5000 == 0) {
            REQUIRE(cache.check_invariants());
            REQUIRE(cache.stats().live_objects == live.size());
            if (op % 20000 == 0)
                cache.release_empty_slabs();
            REQUIRE(cache.stats().slabs == pages.live.size());
        }
    }
    for (void* p : live)
        REQUIRE(cache.free(p).ok());
    REQUIRE(cache.check_invariants());
    REQUIRE(cache.stats().live_objects == 0);
    size_t slabs = pages.live.size();
    REQUIRE(cache.release_empty_slabs() == slabs);
    REQUIRE(pages.live.empty());
    REQUIRE(cache.stats().slabs == 0);
}

TEST_CASE("object cache: page-source exhaustion returns NoMemory and leaks nothing") {
    TestPages pages(3);
    Cache cache("small", 1000, 8, pages);
    size_t per_slab = cache.stats().objects_per_slab;
    std::vector<void*> objects;
    for (size_t i = 0; i < 3 * per_slab; ++i)
        objects.push_back(cache.allocate().value());
    auto before = cache.stats();
    REQUIRE(cache.allocate().status() == Status::NoMemory);
    REQUIRE(cache.allocate().status() == Status::NoMemory);
    REQUIRE(same_stats(before, cache.stats()));
    REQUIRE(pages.live.size() == 3);
    REQUIRE(cache.check_invariants());

    // One free makes room again, in the same slab, without a new page.
    void* freed = objects[per_slab + 1];
    REQUIRE(cache.free(freed).ok());
    void* again = cache.allocate().value();
    REQUIRE(again == freed);
    REQUIRE(pages.live.size() == 3);

    for (void* p : objects)
        REQUIRE(cache.free(p).ok());
    REQUIRE(cache.release_empty_slabs() == 3);
    REQUIRE(pages.live.empty());
    void* fresh = cache.allocate().value(); // the pages are back, so the source has room again
    REQUIRE(pages.live.size() == 1);
    REQUIRE(cache.free(fresh).ok());
    REQUIRE(cache.release_empty_slabs() == 1);
}

TEST_CASE("object cache: every bad free returns its status and changes nothing") {
    TestPages pages(16);
    Cache cache("victim", 64, 16, pages);
    Cache other("other", 64, 16, pages);
    void* a = cache.allocate().value();
    void* b = cache.allocate().value();
    void* c = cache.allocate().value();
    REQUIRE(cache.free(b).ok());
    void* foreign = other.allocate().value();

    // A page that no cache made, full of arbitrary bytes (not the slab magic).
    void* plain = std::aligned_alloc(4096, 4096);
    REQUIRE(plain != nullptr);
    std::memset(plain, 0x5A, 4096);

    auto before = cache.stats();
    auto other_before = other.stats();
    uintptr_t a_addr = addr(a);
    auto bad = [&](void* p, Status expected) {
        CAPTURE(p);
        REQUIRE(cache.free(p).status() == expected);
        REQUIRE(cache.check_live(p).status() == expected);
        REQUIRE(same_stats(before, cache.stats()));
        REQUIRE(same_stats(other_before, other.stats()));
        REQUIRE(cache.check_invariants());
        REQUIRE(other.check_invariants());
    };
    bad(nullptr, Status::InvalidArgument);
    bad(b, Status::BadState);                                                    // double free
    bad(reinterpret_cast<void*>(a_addr + 8), Status::Misaligned);                // interior
    bad(reinterpret_cast<void*>(a_addr & ~uintptr_t(4095)), Status::Misaligned); // header
    bad(reinterpret_cast<void*>((a_addr & ~uintptr_t(4095)) + 4095), Status::Misaligned);
    bad(foreign, Status::OutOfRange);                         // another cache's slab
    bad(static_cast<char*>(plain) + 128, Status::OutOfRange); // not a slab at all
    REQUIRE(*static_cast<unsigned char*>(plain) == 0x5A);     // untouched
    std::free(plain);

    // Everything still frees normally afterwards.
    REQUIRE(cache.free(a).ok());
    REQUIRE(cache.free(c).ok());
    REQUIRE(other.free(foreign).ok());
    REQUIRE(other.free(foreign).status() == Status::BadState);
    REQUIRE(cache.release_empty_slabs() == 1);
    REQUIRE(other.release_empty_slabs() == 1);
    REQUIRE(pages.live.empty());
}

TEST_CASE("object cache: freed slots are poisoned, fresh ones are not zeroed") {
    TestPages pages(2);
    // The slab stays with the cache until released, so reading the freed slot is valid memory.
    Cache cache("poison", 40, 8, pages);
    auto* p = static_cast<unsigned char*>(cache.allocate().value());
    REQUIRE(p[0] == Cache::kPoison); // fresh slab: poisoned, not zeroed
    std::memset(p, 0x11, 40);
    REQUIRE(cache.free(p).ok());
    size_t slot = cache.stats().object_size;
    for (size_t i = 0; i < slot; ++i)
        REQUIRE(p[i] == Cache::kPoison);
    REQUIRE(cache.release_empty_slabs() == 1);
}

namespace {

struct Counted {
    static inline int constructed = 0;
    static inline int destroyed = 0;
    Counted(int id, double weight) : id(id), weight(weight) { ++constructed; }
    ~Counted() { ++destroyed; }
    int id;
    double weight;
    alignas(32) char payload[40];
};

} // namespace

TEST_CASE("typed cache: create and destroy run constructors and destructors") {
    Counted::constructed = Counted::destroyed = 0;
    TestPages pages(2);
    TypedCache<Counted, TestPages> cache("counted", pages);
    std::vector<Counted*> objects;
    for (int i = 0;; ++i) {
        auto made = cache.create(i, i * 0.5);
        if (!made.ok()) {
            REQUIRE(made.status() == Status::NoMemory);
            break;
        }
        Counted* obj = made.value();
        REQUIRE(addr(obj) % alignof(Counted) == 0);
        REQUIRE(obj->id == i);
        objects.push_back(obj);
    }
    REQUIRE(Counted::constructed == int(objects.size()));
    REQUIRE(objects.size() == 2 * cache.stats().objects_per_slab);
    REQUIRE(cache.check_invariants());

    // A rejected destroy never runs the destructor.
    REQUIRE(cache.destroy(nullptr).status() == Status::InvalidArgument);
    REQUIRE(cache.destroy(reinterpret_cast<Counted*>(addr(objects[0]) + 8)).status() ==
            Status::Misaligned);
    REQUIRE(Counted::destroyed == 0);

    for (Counted* obj : objects)
        REQUIRE(cache.destroy(obj).ok());
    REQUIRE(cache.destroy(objects[0]).status() == Status::BadState);
    REQUIRE(Counted::destroyed == int(objects.size()));
    REQUIRE(cache.stats().live_objects == 0);
    REQUIRE(cache.release_empty_slabs() == 2);
    REQUIRE(pages.live.empty());
}
