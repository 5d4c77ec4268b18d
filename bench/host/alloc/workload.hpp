// What the allocator workloads share (bench/host/alloc/, run by bench/host/alloc_race.py under
// each allocator through LD_PRELOAD). Every workload is plain C++ over malloc and free, so the
// preloaded library decides everything; it prints exactly one result line on stdout:
//   ALLOC-RESULT <workload> key=value key=value ...
// Sizes and seeds are fixed, so two runs do the same operations in the same order. `--quick`
// divides the operation counts (the race's quick mode), nothing else changes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <pthread.h>
#include <sched.h>

namespace alloc_bench {

// Seconds of CLOCK_MONOTONIC.
inline double now_seconds() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// A small seeded generator (SplitMix64): the same sequence on every run and under every
// allocator; it never allocates.
struct Rng {
    uint64_t state;
    explicit Rng(uint64_t seed) : state(seed) {}
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform in [lo, hi].
    size_t range(size_t lo, size_t hi) { return lo + size_t(next() % (hi - lo + 1)); }
};

// Keeps the compiler from proving a block unused and deleting a malloc/free pair.
inline void escape(void* p) {
    asm volatile("" : : "g"(p) : "memory");
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 if absent. Reads with read(2)
// into a stack buffer, so it does not allocate (stdio's FILE would).
long status_kib(const char* field);

// True if argv holds "--quick".
inline bool quick_mode(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--quick") == 0)
            return true;
    return false;
}

// Pins the calling thread to the index-th CPU of the process's affinity mask (taskset's), if
// it has that many; returns whether it did.
bool pin_to_nth_cpu(int index);

} // namespace alloc_bench
