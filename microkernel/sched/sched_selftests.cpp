// Self-tests of threads, the scheduler, the FPU switch and SMP (test=NAME; run at -smp 1 and 4
// by tests/guest/harness.py).
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/percpu.hpp"
#include "core/log.hpp"
#include "core/selftest.hpp"
#include "mm/kernel_heap.hpp"
#include "mm/kernel_stack.hpp"
#include "mm/physical.hpp"
#include "sched/scheduler.hpp"
#include "sched/wait_queue.hpp"

#include <atomic>

extern "C" void sse_fill(uint64_t seed);
extern "C" bool sse_check(uint64_t seed);
extern "C" void sse_clobber();

namespace mk::selftest {
namespace {

// Counts threads still running and wakes the waiter when the last one is done.
struct Completion {
    std::atomic<uint64_t> remaining{0};
    WaitQueue done;

    void finish_one() {
        done.change_and_wake_all([&] { remaining.fetch_sub(1, std::memory_order_acq_rel); });
    }
    bool wait(uint64_t timeout_ns) {
        uint64_t deadline = clock::now_ns() + timeout_ns;
        return done.wait_until([&] { return remaining.load(std::memory_order_acquire) == 0; },
                               deadline) == exo::Status::Ok;
    }
};

// Waits (sleeping) until every exited thread has been reclaimed.
bool wait_for_reclaim(uint64_t live_target, uint64_t timeout_ns) {
    uint64_t deadline = clock::now_ns() + timeout_ns;
    while (thread::live_count() > live_target) {
        if (clock::now_ns() > deadline)
            return false;
        sched::sleep_ns(1'000'000);
    }
    return true;
}

void count_and_exit(void* arg) {
    static_cast<Completion*>(arg)->finish_one();
}

} // namespace

namespace {

// Creates `count` threads in batches of `batch`; waits for each batch to exit and be reclaimed
// (so at most one batch of stacks is ever mapped).
bool run_batches(uint64_t count, uint64_t batch) {
    uint64_t live_before = thread::live_count();
    for (uint64_t created = 0; created < count; created += batch) {
        Completion done;
        done.remaining.store(batch, std::memory_order_relaxed);
        for (uint64_t i = 0; i < batch; ++i) {
            auto t = thread::spawn(count_and_exit, &done, {.name = "lifecycle"});
            if (!t.ok()) {
                log::error("threads: spawn %lu failed: %s", created + i,
                           exo::status_name(t.status()));
                return false;
            }
        }
        uint64_t t0 = clock::now_ns();
        if (!done.wait(10'000'000'000)) {
            log::error("threads: batch at %lu did not finish", created);
            sched::log_state();
            return false;
        }
        log::debug("threads: batch at %lu done in %lu us", created, (clock::now_ns() - t0) / 1000);
        if (!wait_for_reclaim(live_before, 5'000'000'000)) {
            log::error("threads: batch at %lu: %lu threads never reclaimed", created,
                       thread::live_count() - live_before);
            sched::log_state();
            return false;
        }
    }
    return true;
}

struct Gate {
    WaitQueue queue;
    bool open = false;
    Completion done;
};

void wait_at_gate(void* arg) {
    auto* gate = static_cast<Gate*>(arg);
    (void)gate->queue.wait_until([&] { return gate->open; });
    gate->done.finish_one();
}

// Holds `count` threads alive at once, then lets them exit (many stacks mapped at once, and
// their page tables built and freed).
bool hold_threads(uint64_t count) {
    uint64_t live_before = thread::live_count();
    Gate gate;
    gate.done.remaining.store(count, std::memory_order_relaxed);
    for (uint64_t i = 0; i < count; ++i) {
        if (auto t = thread::spawn(wait_at_gate, &gate, {.name = "held"}); !t.ok()) {
            log::error("threads: held thread %lu: %s", i, exo::status_name(t.status()));
            return false;
        }
    }
    gate.queue.change_and_wake_all([&] { gate.open = true; });
    if (!gate.done.wait(10'000'000'000)) {
        log::error("threads: %lu held threads did not all finish", count);
        sched::log_state();
        return false;
    }
    if (!wait_for_reclaim(live_before, 5'000'000'000)) {
        log::error("threads: %lu held threads never reclaimed", thread::live_count() - live_before);
        sched::log_state();
        return false;
    }
    return true;
}

} // namespace

// 10,000 threads in batches; afterwards every frame is back. First, twice a batch of threads
// is held alive at once, so the stack region's page tables already cover the run.
bool thread_lifecycle(const Context&) {
    constexpr uint64_t kTotal = 10'000, kBatch = 250;
    uint64_t live_before = thread::live_count();
    if (!hold_threads(2 * kBatch))
        return false;
    heap::trim();
    trim_kernel_stacks();
    uint64_t free_before = pmm::free_bytes();
    uint64_t start = clock::now_ns();
    if (!run_batches(kTotal, kBatch))
        return false;
    uint64_t elapsed = clock::now_ns() - start;
    if (thread::live_count() != live_before) {
        log::error("threads: %lu threads alive after the run, %lu before", thread::live_count(),
                   live_before);
        return false;
    }
    heap::trim();
    trim_kernel_stacks();
    uint64_t free_after = pmm::free_bytes();
    log::info("threads: %lu created and exited in %lu ms on %u CPUs; free memory %lu KiB "
              "before, %lu KiB after",
              kTotal, elapsed / 1'000'000, percpu::online_count(), free_before >> 10,
              free_after >> 10);
    if (free_after != free_before) {
        log::error("threads: %ld bytes of memory not returned", int64_t(free_before - free_after));
        return false;
    }
    return pmm::check_invariants();
}

namespace {

struct Spinner {
    std::atomic<uint64_t> count{0};
    std::atomic<bool>* stop;
    Completion* completion;
};

void spin(void* arg) {
    auto* s = static_cast<Spinner*>(arg);
    while (!s->stop->load(std::memory_order_relaxed))
        s->count.fetch_add(1, std::memory_order_relaxed);
    s->completion->finish_one();
}

} // namespace

// Two busy threads that never yield, pinned to one CPU, both make progress in every sampling
// interval: only the timer can switch between them.
bool preemption(const Context&) {
    std::atomic<bool> stop{false};
    Completion completion;
    completion.remaining.store(2, std::memory_order_relaxed);
    Spinner spinners[2];
    uint32_t cpu = percpu::online_count() > 1 ? 1 : 0; // not the boot thread's CPU if possible
    for (Spinner& s : spinners) {
        s.stop = &stop;
        s.completion = &completion;
        if (!thread::spawn(spin, &s, {.name = "spinner", .pinned_cpu = int32_t(cpu)}).ok())
            return false;
    }
    constexpr int kIntervals = 5;
    bool ok = true;
    uint64_t last[2] = {0, 0};
    for (int i = 0; i < kIntervals; ++i) {
        sched::sleep_ns(100'000'000);
        uint64_t now[2] = {spinners[0].count.load(), spinners[1].count.load()};
        log::info("preempt: interval %d: spinner A %lu, spinner B %lu", i, now[0] - last[0],
                  now[1] - last[1]);
        if (now[0] == last[0] || now[1] == last[1])
            ok = false;
        last[0] = now[0];
        last[1] = now[1];
    }
    stop.store(true);
    if (!completion.wait(5'000'000'000))
        return false;
    return ok;
}

namespace {

struct SseWorker {
    uint64_t seed;
    bool clobber; // the other kind of thread: wipes the registers between switches
    std::atomic<bool> failed{false};
    Completion* completion;
};

void sse_worker(void* arg) {
    auto* w = static_cast<SseWorker*>(arg);
    for (int round = 0; round < 200 && !w->failed.load(); ++round) {
        if (w->clobber) {
            sse_clobber();
            sched::yield();
            continue;
        }
        sse_fill(w->seed);
        sched::yield();
        // Busy for a while too, so that preemption (not only yield) switches away.
        for (int spin = 0; spin < 20000; ++spin)
            cpu::pause();
        if (!sse_check(w->seed)) {
            log::error("fpu: thread with seed 0x%lx lost its registers in round %d", w->seed,
                       round);
            w->failed.store(true);
        }
    }
    w->completion->finish_one();
}

} // namespace

// Threads that fill xmm0-15 with their own values keep them across switches to threads that
// fill theirs differently and to threads that zero them.
bool fpu_state(const Context&) {
    Completion completion;
    SseWorker workers[4];
    completion.remaining.store(4, std::memory_order_relaxed);
    uint64_t seeds[4] = {0x1111000000000000, 0x2222000000000000, 0, 0};
    for (int i = 0; i < 4; ++i) {
        workers[i].seed = seeds[i];
        workers[i].clobber = i >= 2;
        workers[i].completion = &completion;
        if (!thread::spawn(sse_worker, &workers[i], {.name = "sse", .pinned_cpu = 0}).ok())
            return false;
    }
    if (!completion.wait(30'000'000'000))
        return false;
    for (SseWorker& w : workers)
        if (w.failed.load())
            return false;
    log::info("fpu: 4 threads x 200 rounds, registers intact");
    return true;
}

namespace {

struct CpuProbe {
    std::atomic<uint64_t> ran_on{~0ull};
    Completion* completion;
};

void report_cpu(void* arg) {
    auto* p = static_cast<CpuProbe*>(arg);
    p->ran_on.store(this_cpu().index);
    p->completion->finish_one();
}

struct Worker {
    std::atomic<uint64_t>* mask;
    Completion* completion;
};

void busy_worker(void* arg) {
    auto* w = static_cast<Worker*>(arg);
    uint64_t start = clock::now_ns();
    while (clock::now_ns() - start < 50'000'000) {
        w->mask->fetch_or(1ull << this_cpu().index, std::memory_order_relaxed);
        cpu::pause();
    }
    w->completion->finish_one();
}

} // namespace

// Every online CPU runs a thread pinned to it, and unpinned busy threads spread over all CPUs
// (placement and stealing).
bool all_cpus(const Context&) {
    uint32_t cpus = percpu::online_count();
    {
        Completion completion;
        completion.remaining.store(cpus, std::memory_order_relaxed);
        CpuProbe probes[kMaxCpus];
        for (uint32_t i = 0; i < cpus; ++i) {
            probes[i].completion = &completion;
            if (!thread::spawn(report_cpu, &probes[i], {.name = "probe", .pinned_cpu = int32_t(i)})
                     .ok())
                return false;
        }
        if (!completion.wait(10'000'000'000))
            return false;
        for (uint32_t i = 0; i < cpus; ++i)
            if (probes[i].ran_on.load() != i) {
                log::error("smp: thread pinned to CPU %u ran on %lu", i, probes[i].ran_on.load());
                return false;
            }
    }
    std::atomic<uint64_t> mask{0};
    Completion completion;
    uint32_t count = cpus * 2;
    completion.remaining.store(count, std::memory_order_relaxed);
    Worker workers[2 * kMaxCpus];
    for (uint32_t i = 0; i < count; ++i) {
        workers[i] = {&mask, &completion};
        if (!thread::spawn(busy_worker, &workers[i], {.name = "worker"}).ok())
            return false;
    }
    if (!completion.wait(20'000'000'000))
        return false;
    uint64_t expected = cpus == 64 ? ~0ull : (1ull << cpus) - 1;
    log::info("smp: %u CPUs online; unpinned workers ran on CPU mask 0x%lx", cpus, mask.load());
    for (uint32_t i = 0; i < cpus; ++i)
        log::info("smp: CPU %u: %lu dispatches, %lu timer interrupts", i, sched::dispatch_count(i),
                  percpu::cpu(i).timer_ticks);
    return mask.load() == expected;
}

// Sleeping and waiting with deadlines.
bool sleep_and_wait(const Context&) {
    uint64_t t0 = clock::now_ns();
    sched::sleep_ns(20'000'000);
    uint64_t slept = clock::now_ns() - t0;
    if (slept < 20'000'000) {
        log::error("sleep: woke after %lu ns, before the 20 ms asked", slept);
        return false;
    }
    WaitQueue queue;
    std::atomic<bool> flag{false};
    uint64_t t1 = clock::now_ns();
    auto status = queue.wait_until([&] { return flag.load(); }, t1 + 10'000'000);
    if (status != exo::Status::TimedOut || clock::now_ns() - t1 < 10'000'000) {
        log::error("wait: expected a timeout after 10 ms, got %s", exo::status_name(status));
        return false;
    }
    struct Setter {
        WaitQueue* queue;
        std::atomic<bool>* flag;
    } setter{&queue, &flag};
    auto t = thread::spawn(
        [](void* arg) {
            auto* s = static_cast<Setter*>(arg);
            sched::sleep_ns(5'000'000);
            s->queue->change_and_wake_all([&] { s->flag->store(true); });
        },
        &setter, {.name = "setter"});
    if (!t.ok())
        return false;
    status = queue.wait_until([&] { return flag.load(); }, clock::now_ns() + 5'000'000'000);
    if (status != exo::Status::Ok) {
        log::error("wait: expected a wake-up, got %s", exo::status_name(status));
        return false;
    }
    log::info("sleep: 20 ms sleep took %lu us; timeout and wake-up both delivered", slept / 1000);
    return true;
}

} // namespace mk::selftest
