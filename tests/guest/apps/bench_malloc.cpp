// The ring-3 benchmark table "malloc" (bench=malloc): libexo's malloc over memsrv, in
// instructions under `qemu -icount shift=0`. It runs as the root process, starts memsrv itself
// and wires its own connection (as malloc-test does), then measures:
// - a malloc+free pair that hits the thread cache, for each of the 16 small bins;
// - a refill: 128 mallocs of 64 B from an empty cache, one round trip to memsrv that brings 128
//   objects (as runs); every 8th also makes a new span (a frame moved and mapped), so the
//   median is a refill from a span in place and the maximum one with a new span;
// - a batch of frees: 128 frees of 64 B and the one Flush message that takes them to memsrv;
// - the free space in memsrv's spans after 1,000,000 random operations on 1 to 128 bytes
//   (about 33,000 blocks live at the end), and after 1,000,000 small allocations all kept.
#include "wiring.hpp"

#include <exo/alloc/size_class.hpp>
#include <exo/bench/measure.hpp>
#include <exo/bench/table.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/malloc.hpp>
#include <exo/runtime.hpp>

using namespace exo;
using namespace exo::test;
using exo::bench::Row;
using exo::bench::Stats;

// 1,000,000 blocks of up to 128 B (about 70 MB with their classes) stay live at once.
extern "C" const uint64_t exo_malloc_quota = uint64_t{88} << 20;

namespace {

constexpr uint32_t kBatch = 128;
constexpr uint32_t kMillion = 1'000'000;
void* volatile sink;
void* blocks[kMillion];

Stats single(uint64_t value) {
    exo::bench::user_samples[0] = value;
    auto s = exo::bench::compute_stats(exo::bench::user_samples, 1);
    return s.ok() ? s.value() : Stats{};
}

uint64_t rng_state = 0x9E3779B97F4A7C15ull;
uint64_t next_random() {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

// Per mille of memsrv's span bytes that hold no live block (the cache flushed first).
Result<uint64_t> free_space_permille(uint64_t* live_blocks) {
    auto s = TRY(malloc_stats(true));
    uint64_t out = 0, count = 0;
    for (unsigned c = 0; c < alloc::kClasses; ++c) {
        out += uint64_t(s.classes[c].objects_out) * alloc::class_size(c);
        count += s.classes[c].objects_out;
    }
    *live_blocks = count;
    uint64_t span_bytes = s.span_pages * alloc::kPageSize;
    return span_bytes ? (span_bytes - out) * 1000 / span_bytes : 0;
}

char names[alloc::kSmallBins][48];

Status run() {
    Row rows[alloc::kSmallBins + 4] = {};
    uint32_t n = 0;

    // Cache hits, one bin at a time (the first pair refills the bin).
    for (unsigned b = 0; b < alloc::kSmallBins; ++b) {
        const size_t size = alloc::class_size(b);
        snprintf(names[b], sizeof names[b], "malloc/malloc+free %zu B, cache hit", size);
        rows[n++] = {names[b], "insns", TRY(exo::bench::measure([size] {
                         void* p = malloc(size);
                         sink = p;
                         free(p);
                     }))};
    }

    // A refill: the cache's 64 B bin empty at the start of each sample, so its first malloc
    // asks memsrv for 128 objects. The blocks go back afterwards, not measured.
    malloc_flush();
    uint32_t used = 0;
    const MallocInfo before_refills = malloc_info();
    rows[n++] = {"malloc/refill: 128 mallocs of 64 B from an empty cache (1 round trip to memsrv)",
                 "insns", TRY(exo::bench::measure([&used] {
                     for (uint32_t i = 0; i < kBatch; ++i)
                         blocks[used++ % kMillion] = malloc(64);
                 }))};
    const uint64_t refills = malloc_info().refills - before_refills.refills;
    const uint32_t allocated = used;
    for (uint32_t i = 0; i < allocated; ++i)
        free(blocks[i]);
    malloc_flush();
    if (refills * kBatch != allocated) {
        print("bench-malloc: %lu refills for %u mallocs: not one per 128", refills, allocated);
        return Status::BadState;
    }

    // A batch of frees: 128 frees into the cache, then one Flush message with all of them.
    for (uint32_t i = 0; i < allocated; ++i)
        blocks[i] = malloc(64);
    malloc_flush(); // the cache's own refill surplus goes back first
    uint32_t freed = 0;
    const MallocInfo before_flushes = malloc_info();
    rows[n++] = {"malloc/flush: 128 frees of 64 B, then 1 message to memsrv", "insns",
                 TRY(exo::bench::measure([&freed, allocated] {
                     for (uint32_t i = 0; i < kBatch && freed < allocated; ++i)
                         free(blocks[freed++]);
                     malloc_flush();
                 }))};
    const uint64_t flushes = malloc_info().flushes - before_flushes.flushes;
    for (uint32_t i = freed; i < allocated; ++i)
        free(blocks[i]);
    malloc_flush();
    if (freed != flushes * kBatch) {
        print("bench-malloc: %lu flushes for %u frees: not one per 128", flushes, freed);
        return Status::BadState;
    }

    // Free space in spans: 1,000,000 random operations over 65,536 slots...
    for (uint32_t i = 0; i < kMillion; ++i)
        blocks[i] = nullptr;
    for (uint32_t op = 0; op < kMillion; ++op) {
        void*& slot = blocks[next_random() % 65536];
        if (slot) {
            free(slot);
            slot = nullptr;
        } else {
            slot = malloc(1 + (next_random() >> 8) % 128);
        }
    }
    uint64_t live = 0;
    rows[n++] = {"malloc/free space in spans after 1,000,000 random mallocs and frees of 1-128 B",
                 "permille", single(TRY(free_space_permille(&live)))};
    print("bench-malloc: %lu blocks live after the random operations", live);
    for (uint32_t i = 0; i < 65536; ++i)
        free(blocks[i]);
    TRY(malloc_trim());

    // ...and 1,000,000 small allocations, all kept.
    for (uint32_t i = 0; i < kMillion; ++i) {
        blocks[i] = malloc(1 + (next_random() >> 8) % 128);
        if (!blocks[i]) {
            print("bench-malloc: out of memory after %u blocks", i);
            return Status::NoMemory;
        }
    }
    rows[n++] = {"malloc/free space in spans with 1,000,000 random blocks of 1-128 B live",
                 "permille", single(TRY(free_space_permille(&live)))};
    for (uint32_t i = 0; i < kMillion; ++i)
        free(blocks[i]);
    TRY(malloc_trim());
    return exo::bench::print_table("malloc", rows, n);
}

alignas(StartedServer) unsigned char memsrv_storage[sizeof(StartedServer)];

} // namespace

int exo_main(uint64_t arg) {
    const auto* boot = reinterpret_cast<const BootInfo*>(arg);
    auto& memsrv = *new (memsrv_storage) StartedServer();
    Status s = start_server(*boot, "memsrv", 4 << 20, memsrv);
    if (s == Status::Ok)
        s = wire_own_malloc(memsrv);
    if (s == Status::Ok)
        s = run();
    if (s != Status::Ok)
        print("bench-malloc: failed: %s", status_name(s));
    return s == Status::Ok ? 0 : 1;
}
