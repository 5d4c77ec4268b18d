// Root of the `user-malloc` guest tests (docs/memsrv.md): libexo's malloc over memsrv. The root
// starts memsrv itself and wires every connection (its own into kSlotMemsrvTx/Rx, as a creator
// does for a child). It checks the malloc family and operator new, runs 1,000,000 seeded random
// operations against a model and reports the free space in spans, gives everything back, and
// then: two children cannot see each other's heap; five kinds of misuse each end their child
// alone with malloc's message while memsrv and this process go on; a child killed with a full
// heap returns every byte of its quota; memsrv killed and started again leaves this process's
// old blocks intact, their frees counted as orphans, and malloc working on a fresh connection.
#include "expect.hpp"
#include "malloc_modes.hpp"
#include "wiring.hpp"

#include <exo/alloc/size_class.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/malloc.hpp>
#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/wait.hpp>

#include <new>

using namespace exo;
using namespace exo::test;
namespace wire = exo::proto::memsrv;

namespace {

constexpr uint64_t kTimeout = 120'000'000'000;
const BootInfo* boot;

using Memsrv = StartedServer;

Status start_memsrv(Memsrv& m) {
    return start_server(*boot, "memsrv", 4 << 20, m);
}

Result<RingPair> connect(Memsrv& m, uint64_t id) {
    return wire_connection(m.wiring, id, wire::kProtocol, wire::kVersion, "memsrv", 14, kTimeout);
}

struct Started {
    Child child;
    Cap<Ring> signal; // consumer end, when the mode signals
};

Result<Started> start_child(Memsrv& m, MallocMode mode, uint64_t quota = 1 << 20) {
    const BootModule* module = find_module(*boot, "malloc-child");
    if (module == nullptr)
        return Status::NotFound;
    RingPair ends = TRY(connect(m, 100 + uint64_t(mode)));
    auto signal = TRY(ring_create(kSlotMemory, 12));
    SpawnGrant grants[3] = {{ends.producer.slot(), kSlotMemsrvTx, kRightsAll},
                            {ends.consumer.slot(), kSlotMemsrvRx, kRightsAll},
                            {signal.producer.slot(), kSlotMallocSignal, kRightsAll}};
    SpawnOptions o;
    o.name = "malloc-child";
    o.quota_bytes = quota;
    o.grants = grants;
    o.grant_count = 3;
    o.arg = uint64_t(mode);
    Started s{TRY(spawn(reinterpret_cast<const void*>(module->address), module->size, o)),
              static_cast<Cap<Ring>&&>(signal.consumer)};
    return s;
}

Result<uint64_t> wait_signal(Started& s) {
    auto rx = TRY(RingConsumer::attach(static_cast<Cap<Ring>&&>(s.signal)));
    auto m = TRY(rx.receive(sys::clock_ns() + kTimeout));
    uint64_t value = 0;
    if (m.length == sizeof value)
        memcpy(&value, m.data, sizeof value);
    rx.release();
    return value;
}

uint64_t rng_state = 0x243F6A8885A308D3ull;
uint64_t next_random() { // xorshift64*
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

bool aligned(const void* p, size_t a) {
    return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0;
}

// ---- The malloc family ------------------------------------------------------------------------

void check_family() {
    EXPECT_TRUE(malloc_usable_size(nullptr) == 0);
    free(nullptr);
    // Every size up to 70,000 bytes by a growing step: usable, writable, its own.
    void* held[128];
    size_t sizes[128];
    uint32_t n = 0;
    for (size_t size = 0; size <= 70'000 && n < 128; size += 1 + size / 3, ++n) {
        held[n] = malloc(size);
        sizes[n] = size;
        EXPECT_TRUE(held[n] != nullptr && aligned(held[n], 8));
        EXPECT_TRUE(malloc_usable_size(held[n]) >= size);
        memset(held[n], int(n), size);
    }
    for (uint32_t i = 0; i < n; ++i) {
        bool intact = true;
        for (size_t k = 0; k < sizes[i]; ++k)
            intact = intact && static_cast<uint8_t*>(held[i])[k] == uint8_t(i);
        EXPECT_TRUE(intact);
        free(held[i]);
    }
    // calloc zeroes, also memory that was used before; overflow fails.
    for (int round = 0; round < 2; ++round) {
        auto* z = static_cast<uint8_t*>(calloc(100, 37));
        EXPECT_TRUE(z != nullptr);
        bool zero = true;
        for (int i = 0; z && i < 3700; ++i)
            zero = zero && z[i] == 0;
        EXPECT_TRUE(zero);
        if (z)
            memset(z, 0xFF, 3700);
        free(z);
    }
    volatile size_t huge = size_t{1} << 33; // count * size overflows
    EXPECT_TRUE(calloc(huge, huge) == nullptr);
    // realloc keeps the contents while growing through classes and into page runs, and back.
    auto* r = static_cast<uint8_t*>(malloc(10));
    for (int i = 0; i < 10; ++i)
        r[i] = uint8_t(i);
    size_t size = 10;
    bool kept = true;
    for (size_t grow : {24, 200, 5000, 40'000, 300'000, 100, 7}) {
        r = static_cast<uint8_t*>(realloc(r, grow));
        EXPECT_TRUE(r != nullptr);
        size_t keep = size < grow ? size : grow;
        for (size_t i = 0; r && i < keep; ++i)
            kept = kept && r[i] == uint8_t(i);
        for (size_t i = 0; r && i < grow; ++i)
            r[i] = uint8_t(i);
        size = grow;
    }
    EXPECT_TRUE(kept);
    EXPECT_TRUE(realloc(r, 0) == nullptr);
    // Alignments from 16 bytes to 64 KiB, small and large.
    for (size_t a = 16; a <= 65536; a *= 2) {
        void* p = aligned_alloc(a, 24);
        void* q = aligned_alloc(a, 50'000);
        EXPECT_TRUE(p && q && aligned(p, a) && aligned(q, a));
        free(p);
        free(q);
    }
    void* out = nullptr;
    EXPECT_TRUE(posix_memalign(&out, 3, 16) == 22);
    EXPECT_TRUE(posix_memalign(&out, 256, 1000) == 0 && aligned(out, 256));
    free(out);
    EXPECT_TRUE(aligned_alloc(48, 10) == nullptr);
    // operator new and delete, with arrays, sizes and alignment.
    struct alignas(128) Wide {
        uint64_t v[20];
    };
    auto* w = new Wide{};
    EXPECT_TRUE(aligned(w, 128) && w->v[19] == 0);
    delete w;
    auto* a = new uint32_t[1000]();
    bool zero = true;
    for (int i = 0; i < 1000; ++i)
        zero = zero && a[i] == 0;
    EXPECT_TRUE(zero);
    delete[] a;
    auto* nothrow = new (std::nothrow) char[100];
    EXPECT_TRUE(nothrow != nullptr);
    delete[] nothrow;
}

// ---- 1,000,000 random operations against a model ----------------------------------------------

constexpr uint32_t kSlots = 65536;
struct Live {
    uint8_t* p;
    uint32_t size;
    uint8_t tag;
};
Live live[kSlots];

// Small allocations: 1 to 128 bytes, the 16 bins of the cache.
size_t random_size() {
    return 1 + (next_random() >> 8) % 128;
}

// Every block is filled with its tag and checked whole when freed: two live blocks that
// overlapped would have overwritten each other's bytes.
void fill(const Live& l) {
    memset(l.p, l.tag, l.size);
}
bool intact(const Live& l) {
    for (size_t i = 0; i < l.size; ++i)
        if (l.p[i] != l.tag)
            return false;
    return true;
}

void random_operations() {
    constexpr uint32_t kOperations = 1'000'000;
    uint32_t corrupted = 0, failed = 0, live_count = 0;
    for (uint32_t op = 0; op < kOperations; ++op) {
        Live& l = live[next_random() % kSlots];
        if (l.p) {
            corrupted += !intact(l);
            free(l.p);
            l.p = nullptr;
            --live_count;
            continue;
        }
        l.size = uint32_t(random_size());
        l.tag = uint8_t(op | 1);
        l.p = static_cast<uint8_t*>(malloc(l.size));
        if (!l.p || malloc_usable_size(l.p) < l.size) {
            ++failed;
            l.p = nullptr;
            continue;
        }
        fill(l);
        ++live_count;
    }
    for (const Live& l : live)
        corrupted += l.p && !intact(l);
    EXPECT_TRUE(corrupted == 0 && failed == 0);

    // How the live set sits in memsrv's spans (the cache flushed first).
    uint64_t requested = 0, in_classes = 0;
    for (const Live& l : live) {
        if (!l.p)
            continue;
        requested += l.size;
        in_classes += alloc::class_size(alloc::class_of(l.size));
    }
    auto stats = malloc_stats(true);
    EXPECT_OK(stats.status());
    if (stats.ok()) {
        const auto& s = stats.value();
        uint64_t out_bytes = 0, span_bytes = s.span_pages * kPageSize;
        for (unsigned c = 0; c < alloc::kClasses; ++c)
            out_bytes += uint64_t(s.classes[c].objects_out) * alloc::class_size(c);
        EXPECT_TRUE(out_bytes == in_classes); // memsrv's count agrees with ours
        uint64_t free_bytes = span_bytes - out_bytes;
        print("malloc-test: %u random operations, %u blocks live (%lu bytes asked, %lu in their "
              "classes): %lu pages of spans, free space in them %lu.%lu %%, rounding %lu.%lu %%",
              kOperations, live_count, requested, in_classes, s.span_pages,
              free_bytes * 100 / span_bytes, free_bytes * 1000 / span_bytes % 10,
              (in_classes - requested) * 100 / in_classes,
              (in_classes - requested) * 1000 / in_classes % 10);
    }
    for (Live& l : live) {
        free(l.p);
        l.p = nullptr;
    }
    // Everything freed: after a trim the heap holds only memsrv's metadata for it.
    EXPECT_OK(malloc_trim());
    auto after = malloc_stats(true);
    EXPECT_OK(after.status());
    if (after.ok()) {
        const auto& s = after.value();
        uint32_t out = 0;
        for (const auto& c : s.classes)
            out += c.objects_out;
        EXPECT_TRUE(out == 0 && s.span_pages == 0 && s.large_pages == 0);
        print("malloc-test: everything freed and trimmed: %lu pages returned, %lu pages of "
              "metadata kept, %lu of %lu KiB donated in use",
              s.pages_returned, s.meta_pages, s.quota_used / 1024, s.quota_limit / 1024);
    }
}

// ---- Children ---------------------------------------------------------------------------------

void check_isolation(Memsrv& m) {
    auto fill = start_child(m, MallocMode::Fill);
    EXPECT_OK(fill.status());
    if (!fill.ok())
        return;
    auto first = wait_signal(fill.value());
    EXPECT_OK(first.status());
    auto probe = start_child(m, MallocMode::Probe);
    EXPECT_OK(probe.status());
    if (probe.ok()) {
        ExitInfo exit{};
        EXPECT_OK(
            wait_process(probe.value().child.process.slot(), sys::clock_ns() + kTimeout, &exit));
        EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Exited) && exit.code == 0);
    }
    EXPECT_OK(sys::process_kill(fill.value().child.process.slot()));
    EXPECT_OK(wait_process(fill.value().child.process.slot(), sys::clock_ns() + kTimeout, nullptr));
}

void check_misuse(Memsrv& m) {
    const MallocMode modes[] = {MallocMode::DoubleFree, MallocMode::DoubleFreeLate,
                                MallocMode::Interior, MallocMode::Foreign,
                                MallocMode::WriteAfterFree};
    for (MallocMode mode : modes) {
        auto c = start_child(m, mode);
        EXPECT_OK(c.status());
        if (!c.ok())
            continue;
        ExitInfo exit{};
        EXPECT_OK(wait_process(c.value().child.process.slot(), sys::clock_ns() + kTimeout, &exit));
        EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Exited) && exit.code == kMallocFaultExit);
        c.value().child.process.reset();
        EXPECT_TRUE(settled_quota_use(c.value().child.quota.slot()) == 0);
        // We and memsrv go on.
        void* p = malloc(64);
        EXPECT_TRUE(p != nullptr);
        free(p);
    }
    ProcessInfo info{};
    EXPECT_OK(sys::process_info(m.child.process.slot(), &info));
    EXPECT_TRUE(info.state == uint32_t(ProcessState::Running));
    print("malloc-test: 5 misusing children ended alone; memsrv runs");
}

void check_killed_hog(Memsrv& m) {
    auto hog = start_child(m, MallocMode::Hog, 2 << 20);
    EXPECT_OK(hog.status());
    if (!hog.ok())
        return;
    auto blocks = wait_signal(hog.value());
    EXPECT_TRUE(blocks.ok() && blocks.value() > 500);
    MemoryInfo full{};
    EXPECT_OK(sys::memory_info(hog.value().child.quota.slot(), &full));
    EXPECT_OK(sys::process_kill(hog.value().child.process.slot()));
    EXPECT_OK(wait_process(hog.value().child.process.slot(), sys::clock_ns() + kTimeout, nullptr));
    hog.value().child.process.reset();
    uint64_t left = settled_quota_use(hog.value().child.quota.slot());
    EXPECT_TRUE(left == 0);
    print("malloc-test: a child killed with %lu blocks in its heap (%lu KiB of its quota in "
          "use): %lu bytes of its quota still charged after its end",
          blocks.ok() ? blocks.value() : 0, full.used / 1024, left);
}

void check_memsrv_restart(Memsrv& m) {
    constexpr uint32_t kKept = 200;
    uint8_t* kept[kKept];
    for (uint32_t i = 0; i < kKept; ++i) {
        kept[i] = static_cast<uint8_t*>(malloc(8 + i * 40));
        if (kept[i])
            memset(kept[i], int(i), 8 + i * 40);
    }
    EXPECT_OK(sys::process_kill(m.child.process.slot()));
    EXPECT_OK(wait_process(m.child.process.slot(), sys::clock_ns() + kTimeout, nullptr));
    m.child.process.reset();
    EXPECT_TRUE(settled_quota_use(m.child.quota.slot()) == 0);
    EXPECT_OK(start_memsrv(m));
    EXPECT_OK(wire_own_malloc(m));

    // Frees of the old blocks go nowhere; new ones come from a fresh window.
    uint32_t intact_blocks = 0;
    for (uint32_t i = 0; i < kKept; ++i) {
        bool ok = kept[i] != nullptr;
        for (uint32_t k = 0; ok && k < 8 + i * 40; ++k)
            ok = kept[i][k] == uint8_t(i);
        intact_blocks += ok;
        free(kept[i]);
    }
    EXPECT_TRUE(intact_blocks == kKept);
    EXPECT_OK(malloc_trim()); // flushes the old frees (memsrv is gone: orphans), reconnects
    void* fresh[kKept];
    bool all = true;
    for (auto& f : fresh) {
        f = malloc(100);
        all = all && f != nullptr;
        if (f)
            memset(f, 0x77, 100);
    }
    EXPECT_TRUE(all);
    MallocInfo info = malloc_info();
    EXPECT_TRUE(info.connected && info.generation == 2 && info.orphaned_frees >= kKept);
    EXPECT_TRUE(reinterpret_cast<uint64_t>(fresh[0]) >= kHeapArea + wire::kWindowBytes);
    for (auto* f : fresh)
        free(f);
    print("malloc-test: memsrv restarted: %u old blocks intact, %lu frees of old blocks "
          "orphaned, heap window %u at %p",
          intact_blocks, info.orphaned_frees, info.generation, fresh[0]);
}

alignas(Memsrv) unsigned char memsrv_storage[sizeof(Memsrv)];

} // namespace

int exo_main(uint64_t arg) {
    boot = reinterpret_cast<const BootInfo*>(arg);
    Memsrv& m = *new (memsrv_storage) Memsrv();
    EXPECT_OK(start_memsrv(m));
    EXPECT_OK(wire_own_malloc(m));
    if (tally.failures)
        return summary("malloc-test");

    check_family();
    random_operations();
    check_isolation(m);
    check_misuse(m);
    check_killed_hog(m);
    check_memsrv_restart(m);

    EXPECT_OK(sys::process_kill(m.child.process.slot()));
    EXPECT_OK(wait_process(m.child.process.slot(), sys::clock_ns() + kTimeout, nullptr));
    m.child.process.reset();
    EXPECT_TRUE(settled_quota_use(m.child.quota.slot()) == 0);
    return summary("malloc-test");
}
