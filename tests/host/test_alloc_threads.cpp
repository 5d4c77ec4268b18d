// Cross-thread frees through the allocator core (built into both host-tests and, under
// ThreadSanitizer, host-tests-tsan): each thread allocates, hands its objects to the next
// thread, which checks and frees them into its own cache; caches flush to the shared slab in
// batches. Afterwards nothing is out and every byte is accounted for.
#include "alloc_support.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace exo::alloc;
using exo::test::make_heap;

namespace {

struct Mailbox {
    std::mutex lock;
    std::vector<std::pair<void*, size_t>> items;
    bool closed = false;
};

} // namespace

TEST_CASE("alloc: threads free each other's objects in batches", "[alloc]") {
    constexpr int kThreads = 4;
    constexpr int kObjectsPerThread = 60000;
    auto h = make_heap();
    Mailbox boxes[kThreads];
    std::atomic<int> bad{0};

    auto drain = [&](HostCache& cache, Mailbox& box) {
        std::vector<std::pair<void*, size_t>> got;
        {
            std::lock_guard guard(box.lock);
            got.swap(box.items);
        }
        for (auto [p, size] : got) {
            const uint8_t* bytes = static_cast<const uint8_t*>(p);
            for (size_t i = 0; i < size; ++i)
                if (bytes[i] != static_cast<uint8_t>(size))
                    bad++;
            cache.free(p);
        }
        return got.size();
    };

    auto worker = [&](int me) {
        HostCache cache;
        cache.attach(&h->heap);
        std::mt19937_64 rng(me + 1);
        Mailbox& out = boxes[(me + 1) % kThreads];
        std::vector<std::pair<void*, size_t>> batch;
        std::vector<void*> mine;
        for (int i = 0; i < kObjectsPerThread; ++i) {
            size_t size = rng() % 8 ? rng() % 129 : rng() % 40000;
            void* p = cache.allocate(size);
            std::memset(p, static_cast<uint8_t>(size), size);
            if (i % 3 == 0) {
                mine.push_back(p); // some stay with their own thread
            } else {
                batch.emplace_back(p, size);
            }
            if (batch.size() == 64) {
                std::lock_guard guard(out.lock);
                out.items.insert(out.items.end(), batch.begin(), batch.end());
                batch.clear();
            }
            if (i % 256 == 0)
                drain(cache, boxes[me]);
            if (mine.size() > 500) {
                cache.free(mine.front());
                mine.erase(mine.begin());
            }
        }
        {
            std::lock_guard guard(out.lock);
            out.items.insert(out.items.end(), batch.begin(), batch.end());
            out.closed = true; // this thread sends nothing more to `out`
        }
        for (void* p : mine)
            cache.free(p);
        // Wait until whoever sends to us is done, then take the rest.
        Mailbox& in = boxes[me];
        for (;;) {
            bool closed;
            {
                std::lock_guard guard(in.lock);
                closed = in.closed;
            }
            drain(cache, in);
            if (closed && drain(cache, in) == 0)
                break;
            std::this_thread::yield();
        }
        cache.flush_all(); // as at thread exit
    };

    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back(worker, t);
    for (auto& t : threads)
        t.join();
    REQUIRE(bad == 0);
    REQUIRE(h->errors.empty());
    auto stats = h->heap.stats();
    for (auto& c : stats.classes)
        REQUIRE(c.objects_out == 0);
    REQUIRE(stats.large_blocks == 0);
    h->heap.trim();
    REQUIRE(h->pages.held() == h->heap.stats().meta_pages);
}
