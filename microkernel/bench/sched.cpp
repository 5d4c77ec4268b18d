// Scheduler benchmarks: the raw context switch (callee-saved, and the full-save baseline), a
// yield ping-pong through the scheduler, pick-next on a run queue, a wake-up that preempts, and
// the wake-to-run latency of a Hot thread with and without CPU hogs on its CPU.
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/percpu.hpp"
#include "bench/bench.hpp"
#include "core/log.hpp"
#include "sched/scheduler.hpp"
#include "sched/wait_queue.hpp"

#include <atomic>
#include <exo/bench/compare.hpp>
#include <exo/bench/stats.hpp>

extern "C" mk::Thread* switch_context(mk::Thread* prev, mk::Thread* next);
extern "C" mk::Thread* switch_context_full(mk::Thread* prev, mk::Thread* next);

namespace mk::bench {
namespace {

using exo::bench::Row;
using exo::bench::Stats;

bool report_error(const char* what, exo::Status status) {
    log::error("bench sched: %s: %s", what, exo::status_name(status));
    return false;
}

// --- Raw switches between two contexts (no scheduler): A switches to B, B straight back. ---

constexpr size_t kCoStackWords = 1024;
alignas(16) constinit uint64_t co_stack[kCoStackWords] = {};
constinit Thread* co_main = nullptr;
constinit Thread* co_peer = nullptr;
using SwitchFn = Thread* (*)(Thread*, Thread*);
constinit SwitchFn co_switch = nullptr;

[[noreturn]] void co_loop() {
    for (;;)
        co_switch(co_peer, co_main);
}

// Lays out the peer's stack as switch_context (6 saved registers) or switch_context_full (15
// registers and the flags) expects, returning into co_loop with an ABI-aligned stack.
void prepare_peer(Thread& peer, bool full) {
    uint64_t* top = co_stack + kCoStackWords;
    size_t saved = full ? 16 : 6;
    uint64_t* frame = top - (saved + 2);
    for (size_t i = 0; i < saved; ++i)
        frame[i] = 0;
    if (full)
        frame[15] = 0x2; // rflags: interrupts off, as in the measurement
    frame[saved] = reinterpret_cast<uint64_t>(&co_loop);
    frame[saved + 1] = 0;
    peer.saved_rsp = reinterpret_cast<uint64_t>(frame);
}

exo::Result<Stats> raw_switch(bool full) {
    Thread main{}, peer{};
    co_main = &main;
    co_peer = &peer;
    co_switch = full ? switch_context_full : switch_context;
    prepare_peer(peer, full);
    InterruptsOff quiet;
    return measure(full ? "sched/raw full-save" : "sched/raw callee-saved",
                   [&] { co_switch(&main, &peer); });
}

// --- Through the scheduler. ---

struct Partner {
    std::atomic<bool> stop{false};
    std::atomic<bool> exited{false};
    WaitQueue queue;
    bool go = false;
};

void yield_partner(void* arg) {
    auto* p = static_cast<Partner*>(arg);
    while (!p->stop.load(std::memory_order_relaxed))
        sched::yield();
    p->exited.store(true);
}

// Waits for `p`'s thread to finish (it runs on this CPU: yield until it has).
void join(Partner& p) {
    p.queue.change_and_wake_all([&] { p.stop.store(true); });
    while (!p.exited.load())
        sched::yield();
}

exo::Result<Stats> yield_ping_pong() {
    Partner p;
    TRY(thread::spawn(yield_partner, &p,
                      {.name = "yield-partner", .pinned_cpu = int32_t(this_cpu().index)}));
    sched::yield(); // let it start
    auto s = measure("sched/yield ping-pong", [] { sched::yield(); });
    join(p);
    return s;
}

// The partner blocks until `go`; the measuring thread (made Cold by a long burst) wakes it, the
// Hot partner preempts it, consumes `go` and blocks again: one preempting switch there and one
// voluntary switch back per iteration.
void wake_partner(void* arg) {
    auto* p = static_cast<Partner*>(arg);
    for (;;) {
        (void)p->queue.wait_until([&] { return p->go || p->stop.load(); });
        if (p->stop.load())
            break;
        p->go = false;
    }
    p->exited.store(true);
}

void burn_ns(uint64_t ns) {
    uint64_t start = clock::now_ns();
    while (clock::now_ns() - start < ns)
        cpu::pause();
}

exo::Result<Stats> wake_preempt() {
    Partner p;
    TRY(thread::spawn(wake_partner, &p,
                      {.name = "wake-partner", .pinned_cpu = int32_t(this_cpu().index)}));
    sched::yield();
    // A burst past the Cold threshold, never ended by a yield or a block from here on (the
    // preemptions below do not end it), keeps this thread Cold and the partner more urgent.
    burn_ns(sched::policy().config().cold_above_ns + 1'000'000);
    auto s =
        measure("sched/wake-preempt", [&] { p.queue.change_and_wake_all([&] { p.go = true; }); });
    join(p);
    return s;
}

exo::Result<Stats> pick_next() {
    constexpr size_t kQueued = 64;
    static sched::Entity entities[kQueued];
    sched::RunQueue queue(sched::policy(), 0);
    uint64_t now = 1;
    for (sched::Entity& e : entities) {
        sched::policy().init(e);
        queue.push(e, now);
    }
    InterruptsOff quiet;
    auto s = measure("sched/pick-next", [&] {
        ++now;
        sched::Entity* e = queue.pop(now);
        queue.stop(*e, 1000, sched::StopReason::Yielded, now);
        queue.push(*e, now);
    });
    while (sched::Entity* e = queue.pop(now)) // leave nothing linked to the stack queue
        queue.stop(*e, 0, sched::StopReason::Blocked, now);
    return s;
}

// --- Wake-to-run latency of a Hot sleeper. ---

constexpr size_t kLatencySamples = 64;

struct Sleeper {
    std::atomic<bool> done{false};
    WaitQueue finished;
};

void sleeper(void* arg) {
    auto* s = static_cast<Sleeper*>(arg);
    for (size_t i = 0; i < kLatencySamples + 4; ++i)
        sched::sleep_ns(200'000);
    s->finished.change_and_wake_all([&] { s->done.store(true); });
}

struct Hog {
    std::atomic<bool>* stop;
    std::atomic<uint32_t>* running;
};

void hog(void* arg) {
    auto* h = static_cast<Hog*>(arg);
    while (!h->stop->load(std::memory_order_relaxed))
        cpu::pause();
    h->running->fetch_sub(1);
}

exo::Result<Stats> wake_latency(uint32_t hogs) {
    static uint64_t samples[kLatencySamples + 4];
    int32_t cpu = int32_t(this_cpu().index);
    std::atomic<bool> stop{false};
    std::atomic<uint32_t> running{hogs};
    Hog hog_args[8];
    for (uint32_t i = 0; i < hogs; ++i) {
        hog_args[i] = {&stop, &running};
        TRY(thread::spawn(hog, &hog_args[i], {.name = "hog", .pinned_cpu = cpu}));
    }
    Sleeper s;
    sched::LatencyProbe probe;
    probe.samples = samples;
    probe.capacity = kLatencySamples + 4;
    Thread* t = TRY(thread::spawn(sleeper, &s, {.name = "hot-sleeper", .pinned_cpu = cpu}));
    probe.thread = t;
    sched::set_latency_probe(&probe);
    (void)s.finished.wait_until([&] { return s.done.load(); });
    sched::set_latency_probe(nullptr);
    stop.store(true);
    while (running.load() != 0)
        sched::sleep_ns(1'000'000);
    size_t n = probe.count.load();
    if (n < kLatencySamples)
        return exo::Status::BadState;
    // The first wake-ups train the prediction (a new thread starts Normal): keep the last 64.
    return exo::bench::compute_stats(samples + (n - kLatencySamples), kLatencySamples);
}

} // namespace

bool sched(const Context&) {
    struct Case {
        const char* name;
        const char* unit;
        exo::Result<Stats> result;
    };
    Case cases[] = {
        {"switch round trip, callee-saved", "insns", raw_switch(false)},
        {"switch round trip, full save (baseline)", "insns", raw_switch(true)},
        {"yield ping-pong round trip", "insns", yield_ping_pong()},
        {"wake + preempting switch + block back", "insns", wake_preempt()},
        {"pick-next + requeue, 64 queued", "insns", pick_next()},
        {"Hot wake-to-run latency, idle CPU", "ns", wake_latency(0)},
        {"Hot wake-to-run latency, 3 CPU hogs", "ns", wake_latency(3)},
    };
    constexpr size_t kCount = sizeof cases / sizeof cases[0];
    Row rows[kCount] = {};
    for (size_t i = 0; i < kCount; ++i) {
        if (!cases[i].result.ok())
            return report_error(cases[i].name, cases[i].result.status());
        rows[i] = {cases[i].name, cases[i].unit, cases[i].result.value()};
    }
    rows[0].baseline = rows[1].name;
    rows[0].verdict = exo::bench::compare(rows[0].stats, rows[1].stats, 1000);
    rows[6].baseline = rows[5].name;
    rows[6].verdict = exo::bench::compare(rows[6].stats, rows[5].stats, 0);
    report("sched", rows, kCount);
    return true;
}

} // namespace mk::bench
