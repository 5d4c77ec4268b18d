// alloc-larson: a server's churn in the manner of Larson and Krishnan's benchmark (as
// mimalloc-bench describes it: threads allocate and free between each other). Each of 2 worker
// threads owns an array of live blocks; one operation frees a randomly chosen block and puts a
// block of a random size (8 to 1000 B) in its place. The run is a series of rounds; at the end of
// a round the workers exit and new ones start, each taking over the array of the other thread's
// predecessor (larson hands a thread's blocks to the thread that succeeds it), so most frees are
// of blocks another thread allocated, and thread exit and start are part of the workload.
//   ALLOC-RESULT alloc-larson seconds=S ops=N ops_per_s=X ns_per_op=X
#include "workload.hpp"

using namespace alloc_bench;

namespace {

constexpr int kThreads = 2;
constexpr size_t kBlocksPerThread = 5000;
constexpr size_t kMinSize = 8;
constexpr size_t kMaxSize = 1000;

struct Work {
    void** blocks;
    uint64_t ops;
    uint64_t seed;
    int cpu;
};

void* worker(void* arg) {
    Work* w = static_cast<Work*>(arg);
    pin_to_nth_cpu(w->cpu);
    Rng rng(w->seed);
    for (uint64_t i = 0; i < w->ops; ++i) {
        const size_t slot = size_t(rng.next() % kBlocksPerThread);
        std::free(w->blocks[slot]);
        const size_t size = rng.range(kMinSize, kMaxSize);
        char* p = static_cast<char*>(std::malloc(size));
        if (p == nullptr)
            std::abort();
        p[0] = char(i);
        p[size - 1] = char(i);
        w->blocks[slot] = p;
    }
    return nullptr;
}

} // namespace

int main(int argc, char** argv) {
    const bool quick = quick_mode(argc, argv);
    const int rounds = quick ? 10 : 40;
    const uint64_t ops_per_round = quick ? 100000 : 250000; // per thread
    static void* arrays[kThreads][kBlocksPerThread];
    Rng init(4141);
    for (int t = 0; t < kThreads; ++t)
        for (size_t i = 0; i < kBlocksPerThread; ++i) {
            const size_t size = init.range(kMinSize, kMaxSize);
            arrays[t][i] = std::malloc(size);
            static_cast<char*>(arrays[t][i])[0] = 1;
        }
    const double t0 = now_seconds();
    for (int r = 0; r < rounds; ++r) {
        pthread_t threads[kThreads];
        Work work[kThreads];
        for (int t = 0; t < kThreads; ++t) {
            // Round r's thread t continues the array that round r-1's other thread used.
            work[t] = {arrays[(t + r) % kThreads], ops_per_round,
                       0x5eed0000ull + uint64_t(r) * kThreads + uint64_t(t), t};
            pthread_create(&threads[t], nullptr, worker, &work[t]);
        }
        for (int t = 0; t < kThreads; ++t)
            pthread_join(threads[t], nullptr);
    }
    const double seconds = now_seconds() - t0;
    for (int t = 0; t < kThreads; ++t)
        for (size_t i = 0; i < kBlocksPerThread; ++i)
            std::free(arrays[t][i]);
    const uint64_t ops = uint64_t(rounds) * kThreads * ops_per_round;
    std::printf("ALLOC-RESULT alloc-larson seconds=%.6f ops=%llu ops_per_s=%.1f ns_per_op=%.3f\n",
                seconds, (unsigned long long)ops, double(ops) / seconds,
                seconds * 1e9 / double(ops));
    return 0;
}
