// alloc-rss: how much memory an allocator holds at its peak and how much it gives back by itself.
// One thread allocates 200 MiB in a fixed mix of blocks (90 % of them 8 to 256 B, 9 % 257 B to
// 4 KiB, 1 % 4 KiB to 256 KiB), writing every byte of each, then frees them all in a fixed
// shuffled order. It reads VmRSS and VmHWM from /proc/self/status before, at the peak and right
// after the last free, then once more after the process has idled 250 ms and made 1000 small
// malloc/free pairs: some allocators return memory only after a delay, on a later call
// (mimalloc's and jemalloc's deferred purging). malloc_trim is never called: both figures are
// what the allocator returned to the system on its own. The array of block pointers is mmap'ed,
// outside the allocator under test, and unmapped before the figures after freeing.
//   ALLOC-RESULT alloc-rss seconds=S ops=N rss_before_kib=K peak_rss_kib=K hwm_kib=K
//                rss_after_free_kib=K rss_settled_kib=K
#include "workload.hpp"

#include <sys/mman.h>
#include <time.h>

using namespace alloc_bench;

int main(int, char**) {
    // The same 200 MiB in both modes: the figures are sizes, not times, and they depend on it.
    constexpr size_t kTotal = size_t(200) << 20;
    constexpr size_t kMaxBlocks = kTotal / 8;
    const long before = status_kib("VmRSS");
    void** blocks = static_cast<void**>(mmap(nullptr, kMaxBlocks * sizeof(void*),
                                             PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (blocks == MAP_FAILED)
        return 1;
    Rng rng(0x255);
    const double t0 = now_seconds();
    size_t count = 0, bytes = 0;
    while (bytes < kTotal) {
        const uint64_t pick = rng.next() % 100;
        const size_t size = pick < 90 ? rng.range(8, 256)
                            : pick < 99 ? rng.range(257, 4096)
                                        : rng.range(4097, 256 * 1024);
        void* p = std::malloc(size);
        if (p == nullptr)
            std::abort();
        std::memset(p, int(count), size);
        blocks[count++] = p;
        bytes += size;
    }
    const long peak = status_kib("VmRSS");
    // Fisher-Yates with the same generator: the same order on every run.
    for (size_t i = count - 1; i > 0; --i) {
        const size_t j = size_t(rng.next() % (i + 1));
        void* t = blocks[i];
        blocks[i] = blocks[j];
        blocks[j] = t;
    }
    for (size_t i = 0; i < count; ++i)
        std::free(blocks[i]);
    const double seconds = now_seconds() - t0;
    // The pointer array is ours, not the allocator's: drop it before measuring what is left.
    munmap(blocks, kMaxBlocks * sizeof(void*));
    const long after = status_kib("VmRSS");
    const long hwm = status_kib("VmHWM");
    const timespec idle = {0, 250 * 1000 * 1000};
    nanosleep(&idle, nullptr);
    for (int i = 0; i < 1000; ++i) {
        void* p = std::malloc(64);
        escape(p);
        std::free(p);
    }
    const long settled = status_kib("VmRSS");
    std::printf("ALLOC-RESULT alloc-rss seconds=%.6f ops=%zu rss_before_kib=%ld peak_rss_kib=%ld "
                "hwm_kib=%ld rss_after_free_kib=%ld rss_settled_kib=%ld\n",
                seconds, count, before, peak, hwm, after, settled);
    return 0;
}
