// alloc-scratch: passive false sharing, in the manner of Berger's cache-scratch (from the Hoard
// work, as mimalloc-bench describes it). The main thread allocates small objects (8 B) back to
// back and hands them out alternately to 2 worker threads pinned to different CPUs: 4 each, so
// that whatever the alignment, some cache line holds objects of both workers. Each worker frees
// the objects it was given, then repeatedly allocates 4 small objects of its own, writes every
// byte of them many times, and frees them. An allocator that gives a worker back the blocks it
// just freed (which sit next to the other worker's) makes the two CPUs fight over cache lines;
// one that keeps each thread's blocks apart does not. The figure is the wall time of the
// workers; one operation is one pass of writes over one object.
//   ALLOC-RESULT alloc-scratch seconds=S ops=N ns_per_op=X
#include "workload.hpp"

using namespace alloc_bench;

namespace {

constexpr int kThreads = 2;
constexpr size_t kObjectSize = 8;
constexpr int kObjects = 4; // per worker

struct Work {
    char* given[kObjects];
    int cpu;
    int iterations;
    int repetitions;
};

void* worker(void* arg) {
    Work* w = static_cast<Work*>(arg);
    pin_to_nth_cpu(w->cpu);
    for (int k = 0; k < kObjects; ++k)
        std::free(w->given[k]);
    for (int i = 0; i < w->iterations; ++i) {
        volatile char* p[kObjects];
        for (int k = 0; k < kObjects; ++k) {
            p[k] = static_cast<volatile char*>(std::malloc(kObjectSize));
            if (p[k] == nullptr)
                std::abort();
        }
        for (int r = 0; r < w->repetitions; ++r)
            for (int k = 0; k < kObjects; ++k)
                for (size_t b = 0; b < kObjectSize; ++b)
                    p[k][b] = char(p[k][b] + 1);
        for (int k = 0; k < kObjects; ++k)
            std::free(const_cast<char*>(p[k]));
    }
    return nullptr;
}

} // namespace

int main(int argc, char** argv) {
    const bool quick = quick_mode(argc, argv);
    const int iterations = quick ? 200 : 1000;
    const int repetitions = 2500;
    Work work[kThreads];
    for (int k = 0; k < kObjects; ++k)
        for (int t = 0; t < kThreads; ++t) {
            work[t].given[k] = static_cast<char*>(std::malloc(kObjectSize));
            work[t].given[k][0] = 0;
        }
    for (int t = 0; t < kThreads; ++t) {
        work[t].cpu = t;
        work[t].iterations = iterations;
        work[t].repetitions = repetitions;
    }
    const double t0 = now_seconds();
    pthread_t threads[kThreads];
    for (int t = 0; t < kThreads; ++t)
        pthread_create(&threads[t], nullptr, worker, &work[t]);
    for (int t = 0; t < kThreads; ++t)
        pthread_join(threads[t], nullptr);
    const double seconds = now_seconds() - t0;
    const uint64_t ops =
        uint64_t(kThreads) * uint64_t(iterations) * uint64_t(repetitions) * kObjects;
    std::printf("ALLOC-RESULT alloc-scratch seconds=%.6f ops=%llu ns_per_op=%.3f\n", seconds,
                (unsigned long long)ops, seconds * 1e9 / double(ops));
    return 0;
}
