// The slab core as memsrv runs it (servers/memsrv): a page map over one 1 GiB heap window at a
// fixed base, metadata from a separate source, refills answered as runs and flushes taken as
// arrays. The window's pages stay PROT_NONE here, so any access of the core to a client's
// objects would fault: memsrv never touches a client's heap. Also memsrv's page-range
// allocator of a window (WindowSpace) against a model.
#include "../../servers/memsrv/window_space.hpp"

#include <exo/alloc/heap.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <sys/mman.h>
#include <vector>

using namespace exo::alloc;

namespace {

// A fixed base as memsrv has (exo::kHeapArea, which ASan's shadow covers on the host).
constexpr uintptr_t kBase = uintptr_t{0x2000} << 32;
constexpr size_t kWindow = size_t{1} << 30;
using WindowMap = BasicPageMap<Span, kBase, 30, 9>;

struct NoLock {
    void lock() {}
    void unlock() {}
};

// Pages of the window (reserved, never readable or writable) and metadata from the C heap.
struct WindowPages {
    memsrv::WindowSpace<kWindow / kPageSize> space;
    std::vector<void*> meta;
    size_t held = 0;

    exo::Result<void*> allocate_pages(size_t pages, size_t align) {
        int64_t first = space.allocate(pages, align / kPageSize);
        if (first < 0)
            return exo::Status::NoMemory;
        held += pages;
        return reinterpret_cast<void*>(kBase + uint64_t(first) * kPageSize);
    }
    void free_pages(void* base, size_t pages) {
        space.free((reinterpret_cast<uintptr_t>(base) - kBase) / kPageSize, pages);
        held -= pages;
    }
    exo::Result<void*> allocate_meta_pages(size_t pages) {
        void* p = std::aligned_alloc(kPageSize, pages * kPageSize);
        std::memset(p, 0, pages * kPageSize);
        meta.push_back(p);
        return p;
    }
    ~WindowPages() {
        for (void* p : meta)
            std::free(p);
    }
};

using RemoteHeap = Heap<WindowPages, NoLock, WindowMap>;

struct Fixture {
    void* window = nullptr;
    WindowPages pages;
    std::unique_ptr<RemoteHeap> heap = std::make_unique<RemoteHeap>();
    std::vector<std::pair<HeapError, uintptr_t>> errors;

    Fixture() {
        window = mmap(reinterpret_cast<void*>(kBase), kWindow, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        REQUIRE(window == reinterpret_cast<void*>(kBase));
        heap->init(&pages, 0x1234, &record, this);
    }
    ~Fixture() { munmap(window, kWindow); }
    static void record(void* self, HeapError e, const void* p) {
        static_cast<Fixture*>(self)->errors.emplace_back(e, reinterpret_cast<uintptr_t>(p));
    }
    std::vector<uintptr_t> refill(unsigned cls, uint32_t want) {
        ObjectRun runs[32];
        uint32_t n = 0;
        uint32_t got = heap->refill_runs(cls, want, runs, 32, &n);
        std::vector<uintptr_t> out;
        for (uint32_t i = 0; i < n; ++i)
            for (uint32_t k = 0; k < runs[i].count; ++k)
                out.push_back(runs[i].first + k * class_size(cls));
        REQUIRE(out.size() == got);
        return out;
    }
};

} // namespace

TEST_CASE("alloc: a window heap hands out runs and takes arrays without touching objects",
          "[alloc][memsrv]") {
    Fixture f;
    auto a = f.refill(0, 256);
    REQUIRE(a.size() == 256);
    // A fresh span: one run of consecutive 8-byte objects from the window's first page.
    REQUIRE(a.front() == kBase);
    for (size_t i = 1; i < a.size(); ++i)
        REQUIRE(a[i] == a[i - 1] + 8);
    f.heap->flush_array(0, a.data(), uint32_t(a.size()));
    REQUIRE(f.errors.empty());
    // Runs are capped: a refill with room for 1 run stops at the run's end.
    ObjectRun one[1];
    uint32_t n = 0;
    REQUIRE(f.heap->refill_runs(5, 100, one, 1, &n) == 100);
    REQUIRE(n == 1);
    auto stats = f.heap->stats();
    REQUIRE(stats.classes[5].objects_out == 100);
    REQUIRE(stats.classes[0].objects_out == 0);
}

TEST_CASE("alloc: a window heap reports misuse in flushed arrays", "[alloc][memsrv]") {
    Fixture f;
    auto a = f.refill(3, 10); // 32-byte objects
    uintptr_t twice[2] = {a[0], a[0]};
    f.heap->flush_array(3, twice, 2);
    REQUIRE(f.errors.size() == 1);
    REQUIRE(f.errors[0] == std::make_pair(HeapError::DoubleFree, a[0]));
    f.errors.clear();
    uintptr_t bad[4] = {a[1] + 8, a[2] + kWindow, kBase + 512 * 1024 * 1024, a[3]};
    f.heap->flush_array(3, bad, 4);
    // Interior, outside the window, in no span: each is "no object of this class"; a[3] went.
    REQUIRE(f.errors.size() == 3);
    for (auto& e : f.errors)
        REQUIRE(e.first == HeapError::CorruptLink);
    f.errors.clear();
    uintptr_t wrong_class[1] = {a[4]};
    f.heap->flush_array(4, wrong_class, 1);
    REQUIRE(f.errors.size() == 1);
    REQUIRE(f.heap->stats().classes[3].objects_out == 10 - 2);
}

TEST_CASE("alloc: a window heap against a model, then every page back", "[alloc][memsrv]") {
    Fixture f;
    std::mt19937_64 rng(20261202);
    std::map<uintptr_t, unsigned> live; // object -> class
    std::vector<uintptr_t> order;
    for (int op = 0; op < 20000; ++op) {
        unsigned cls = unsigned(rng() % kClasses);
        if (rng() % 2 == 0) {
            auto got = f.refill(cls, uint32_t(1 + rng() % 64));
            for (uintptr_t p : got) {
                // Inside the window, aligned to its class in its span, and new.
                REQUIRE(p >= kBase);
                REQUIRE(p + class_size(cls) <= kBase + kWindow);
                auto [it, fresh] = live.emplace(p, cls);
                REQUIRE(fresh);
                order.push_back(p);
            }
        } else if (!order.empty()) {
            // Free a random batch of one class.
            std::vector<uintptr_t> batch;
            unsigned c = live[order[rng() % order.size()]];
            for (size_t i = 0; i < order.size() && batch.size() < 128; ++i)
                if (live.count(order[i]) && live[order[i]] == c && rng() % 3 == 0)
                    batch.push_back(order[i]);
            f.heap->flush_array(c, batch.data(), uint32_t(batch.size()));
            for (uintptr_t p : batch)
                live.erase(p);
            std::erase_if(order, [&](uintptr_t p) { return !live.count(p); });
        }
    }
    REQUIRE(f.errors.empty());
    // No two live objects overlap.
    uintptr_t end = 0;
    for (auto [p, cls] : live) {
        REQUIRE(p >= end);
        end = p + class_size(cls);
    }
    std::map<unsigned, std::vector<uintptr_t>> by_class;
    for (auto [p, cls] : live)
        by_class[cls].push_back(p);
    for (auto& [cls, v] : by_class)
        for (size_t i = 0; i < v.size(); i += 128)
            f.heap->flush_array(cls, v.data() + i, uint32_t(std::min<size_t>(128, v.size() - i)));
    f.heap->trim();
    REQUIRE(f.errors.empty());
    REQUIRE(f.pages.held == 0);
    REQUIRE(f.pages.space.top() == 0);
}

TEST_CASE("memsrv: window ranges against a model", "[memsrv]") {
    constexpr uint64_t kPages = 4096;
    memsrv::WindowSpace<kPages, 16> space;
    std::mt19937_64 rng(7);
    std::map<uint64_t, uint64_t> used; // first -> pages
    for (int op = 0; op < 100000; ++op) {
        if (rng() % 2 == 0 || used.empty()) {
            uint64_t pages = 1 + rng() % 40, align = uint64_t{1} << (rng() % 5);
            int64_t first = space.allocate(pages, align);
            if (first < 0)
                continue;
            REQUIRE(uint64_t(first) % align == 0);
            REQUIRE(uint64_t(first) + pages <= kPages);
            auto next = used.lower_bound(uint64_t(first));
            if (next != used.end())
                REQUIRE(uint64_t(first) + pages <= next->first);
            if (next != used.begin()) {
                auto prev = std::prev(next);
                REQUIRE(prev->first + prev->second <= uint64_t(first));
            }
            used[uint64_t(first)] = pages;
        } else {
            auto it = std::next(used.begin(), long(rng() % used.size()));
            space.free(it->first, it->second);
            used.erase(it);
        }
    }
    for (auto [first, pages] : used)
        space.free(first, pages);
    // Everything merged back, unless a free found no room for its range.
    if (space.lost() == 0) {
        REQUIRE(space.top() == 0);
        REQUIRE(space.ranges() == 0);
    }
    // A full window says so; an empty one serves the largest request.
    memsrv::WindowSpace<64, 4> small;
    REQUIRE(small.allocate(64, 1) == 0);
    REQUIRE(small.allocate(1, 1) == -1);
    small.free(0, 64);
    REQUIRE(small.allocate(3, 0) == -1);
    REQUIRE(small.allocate(3, 3) == -1); // alignment not a power of two
    REQUIRE(small.allocate(65, 1) == -1);
}
