// Host benchmark of the scheduler policy's run queue (microkernel/lib/sched_policy) against a
// linear scan, in the same run: nanoseconds per pick-next plus requeue, with 64 and 1024
// runnable threads. Prints Markdown; writes CSV to the path given as argv[1].
#include "lib/sched_policy.hpp"

#include "support.hpp"

#include <cstdio>
#include <ctime>
#include <exo/bench/compare.hpp>
#include <exo/bench/report.hpp>
#include <exo/bench/runner.hpp>
#include <vector>

using namespace exo::bench;
using mk::sched::Entity;
using mk::sched::Policy;
using mk::sched::RunQueue;
using Stop = mk::sched::StopReason;

namespace {

using exo::bench::host::MonotonicClock;

constexpr uint64_t kStepNs = 10'000; // virtual time between two picks

// Thread i's bursts: a third each of Hot (1 ms), Normal (5 ms) and Cold (20 ms) threads, so that
// every class list is in use and ageing triggers now and then.
uint64_t burst_of(size_t i) {
    static constexpr uint64_t kBursts[] = {1'000'000, 5'000'000, 20'000'000};
    return kBursts[i % 3];
}

// The policy's run queue: pop the next thread, account its burst, queue it again.
struct EmaQueue {
    const Policy& policy;
    RunQueue queue;
    std::vector<Entity> threads;
    std::vector<uint64_t> bursts;
    uint64_t now = 0;

    EmaQueue(const Policy& p, size_t n) : policy(p), queue(p, 0), threads(n), bursts(n) {
        for (size_t i = 0; i < n; ++i) {
            policy.init(threads[i]);
            threads[i].prediction_ns = bursts[i] = burst_of(i);
            queue.push(threads[i], now);
        }
    }
    void pick_and_requeue() {
        now += kStepNs;
        Entity* e = queue.pop(now);
        queue.stop(*e, bursts[size_t(e - threads.data())], Stop::Yielded, now);
        queue.push(*e, now);
    }
};

// Baseline: every runnable thread in an array; pick-next scans them all for the least
// (class, enqueue time), as a scheduler without per-class lists does. Same EMA accounting.
struct LinearScan {
    const Policy& policy;
    std::vector<Entity> threads;
    std::vector<uint64_t> bursts;
    uint64_t now = 0;

    LinearScan(const Policy& p, size_t n) : policy(p), threads(n), bursts(n) {
        for (size_t i = 0; i < n; ++i) {
            policy.init(threads[i]);
            threads[i].prediction_ns = bursts[i] = burst_of(i);
            threads[i].klass = policy.classify(threads[i]);
        }
    }
    void pick_and_requeue() {
        now += kStepNs;
        size_t best = 0;
        for (size_t i = 1; i < threads.size(); ++i) {
            const Entity& a = threads[i];
            const Entity& b = threads[best];
            if (a.klass < b.klass || (a.klass == b.klass && a.enqueued_at < b.enqueued_at))
                best = i;
        }
        Entity& e = threads[best];
        policy.ran(e, bursts[best], Stop::Yielded);
        e.klass = policy.classify(e);
        e.enqueued_at = now;
    }
};

template <typename Queue>
Stats measure(Queue& queue, std::vector<uint64_t>& samples) {
    RunConfig config;
    config.batch = 256;
    config.warmup = 16;
    config.min_samples = 64;
    Runner<MonotonicClock> runner(samples.data(), samples.size(), config);
    runner.calibrate();
    auto m = runner.run([&] { queue.pick_and_requeue(); });
    return m.value().stats;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<uint64_t> samples(4096);
    Policy policy;
    EmaQueue ema64(policy, 64), ema1024(policy, 1024);
    LinearScan scan64(policy, 64), scan1024(policy, 1024);
    Stats e64 = measure(ema64, samples);
    Stats s64 = measure(scan64, samples);
    Stats e1024 = measure(ema1024, samples);
    Stats s1024 = measure(scan1024, samples);

    // Ratio = baseline median / run queue median: above 1 means the run queue is faster; "pass"
    // means at least as fast as the baseline.
    constexpr uint64_t kAtLeastAsFast = 1000;
    Row rows[] = {
        {"run queue pick+requeue, 64 threads", "ns", e64, "linear scan, 64 threads",
         compare(e64, s64, kAtLeastAsFast)},
        {"linear scan, 64 threads", "ns", s64},
        {"run queue pick+requeue, 1024 threads", "ns", e1024, "linear scan, 1024 threads",
         compare(e1024, s1024, kAtLeastAsFast)},
        {"linear scan, 1024 threads", "ns", s1024},
    };
    exo::FormatSink out = exo::bench::host::file_sink(stdout);
    printf("## Scheduler run queue vs linear scan (host, ns per pick-next + requeue)\n\n");
    write_markdown(out, rows, sizeof rows / sizeof rows[0]);
    printf("\nRun queue: O(1) pop from per-class FIFO lists (class bitmap, ageing check); "
           "linear scan: O(n) search for the least (class, enqueue time).\n");

    if (argc > 1) {
        FILE* csv = fopen(argv[1], "w");
        if (!csv)
            return 1;
        write_csv(exo::bench::host::file_sink(csv), rows, sizeof rows / sizeof rows[0]);
        fclose(csv);
    }
    return 0;
}
