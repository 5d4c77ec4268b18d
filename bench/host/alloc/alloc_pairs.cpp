// alloc-pairs: the cost of one malloc immediately followed by the free of the same block, one
// thread, one size at a time (8 B to 64 KiB). This is the fast path of every allocator: a
// thread cache hit. Each block gets one byte written so the pair cannot be optimized away and
// the memory is really touched. Each size is timed in 16 chunks and the median chunk is its
// figure, so a moment when another process had the CPU does not move it.
//   ALLOC-RESULT alloc-pairs seconds=S ops=N ns_8=X ns_16=X ... ns_65536=X
#include "workload.hpp"

#include <algorithm>

using namespace alloc_bench;

int main(int argc, char** argv) {
    static constexpr size_t kSizes[] = {8, 16, 32, 64, 128, 256, 1024, 4096, 65536};
    const bool quick = quick_mode(argc, argv);
    constexpr int kChunks = 16;
    const uint64_t iterations = quick ? 1000000 : 4000000;
    double ns[sizeof kSizes / sizeof kSizes[0]];
    const double start = now_seconds();
    for (size_t s = 0; s < sizeof kSizes / sizeof kSizes[0]; ++s) {
        const size_t size = kSizes[s];
        // Warm-up: the first pairs of a size fill the allocator's caches for it.
        for (int i = 0; i < 1000; ++i) {
            void* p = std::malloc(size);
            escape(p);
            std::free(p);
        }
        double chunk_ns[kChunks];
        for (int c = 0; c < kChunks; ++c) {
            const double t0 = now_seconds();
            for (uint64_t i = 0; i < iterations / kChunks; ++i) {
                char* p = static_cast<char*>(std::malloc(size));
                if (p == nullptr)
                    std::abort();
                p[0] = char(i);
                escape(p);
                std::free(p);
            }
            chunk_ns[c] = (now_seconds() - t0) * 1e9 / double(iterations / kChunks);
        }
        std::sort(chunk_ns, chunk_ns + kChunks);
        ns[s] = (chunk_ns[kChunks / 2 - 1] + chunk_ns[kChunks / 2]) / 2;
    }
    const double seconds = now_seconds() - start;
    std::printf("ALLOC-RESULT alloc-pairs seconds=%.6f ops=%llu", seconds,
                (unsigned long long)(iterations * (sizeof kSizes / sizeof kSizes[0])));
    for (size_t s = 0; s < sizeof kSizes / sizeof kSizes[0]; ++s)
        std::printf(" ns_%zu=%.3f", kSizes[s], ns[s]);
    std::printf("\n");
    return 0;
}
