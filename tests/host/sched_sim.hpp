// A discrete-event simulator of a multi-CPU machine for the scheduler policy's host tests: a
// virtual clock, N CPUs with a periodic timer tick, threads that alternate CPU bursts and sleeps
// drawn from a seeded PRNG. The scheduler is pluggable: the EMA policy (mk::sched) or a plain
// round-robin baseline, run on the same per-thread burst/sleep sequences.
#pragma once

#include "lib/sched_policy.hpp"

#include <deque>
#include <memory>
#include <stdint.h>
#include <vector>

namespace sched_sim {

inline constexpr uint64_t kForever = UINT64_MAX; // a burst that never ends: a CPU hog
inline constexpr uint32_t kNone = UINT32_MAX;
inline constexpr uint64_t kMs = 1'000'000;
inline constexpr uint64_t kUs = 1'000;

// What a thread does: from start_ns on, bursts of CPU time, each followed by a sleep, both drawn
// uniformly from [min, max] (inclusive). A burst of kForever never blocks.
struct Workload {
    uint64_t burst_min_ns = kForever;
    uint64_t burst_max_ns = kForever;
    uint64_t sleep_min_ns = 0;
    uint64_t sleep_max_ns = 0;
    uint64_t start_ns = 0;
};

inline Workload hog(uint64_t start_ns = 0) {
    return {kForever, kForever, 0, 0, start_ns};
}
inline Workload interactive(uint64_t burst_min, uint64_t burst_max, uint64_t sleep_min,
                            uint64_t sleep_max, uint64_t start_ns = 0) {
    return {burst_min, burst_max, sleep_min, sleep_max, start_ns};
}

// splitmix64: small, fast, and the same sequence on every platform and standard library.
struct Rng {
    uint64_t state;
    uint64_t next();
    uint64_t uniform(uint64_t lo, uint64_t hi); // inclusive; lo <= hi
};

// The scheduler under test, seen from the machine. Thread ids are 0..threads-1, CPUs 0..cpus-1.
class Scheduler {
public:
    virtual ~Scheduler() = default;
    // Thread `tid` becomes runnable (its start or a wake-up): queue it; returns the CPU chosen.
    virtual uint32_t wake(uint32_t tid, uint64_t now) = 0;
    // The next thread for `cpu`, which runs nothing (it may steal); kNone to idle.
    virtual uint32_t pick(uint32_t cpu, uint64_t now) = 0;
    // Whether `tid`, running on `cpu` for `ran_ns` since it was picked, must be preempted now:
    // asked at every tick and after a wake-up queued a thread on `cpu`.
    virtual bool should_preempt(uint32_t cpu, uint32_t tid, uint64_t ran_ns, uint64_t now) = 0;
    // `tid` stops running on `cpu` after `ran_ns`; Preempted threads must be queued again.
    virtual void stop(uint32_t cpu, uint32_t tid, uint64_t ran_ns, mk::sched::StopReason why,
                      uint64_t now) = 0;
};

// Parts of the kernel's call sequence that a test may turn off, as a control.
struct EmaOptions {
    bool balance = true; // find_behind()/take_behind() at the end of full slices
    bool steal = true;   // find_busiest()/steal_one() when a CPU goes idle
};

// The EMA policy: one RunQueue per CPU, the kernel's call sequence (see docs/scheduler.md).
class EmaScheduler final : public Scheduler {
public:
    EmaScheduler(const mk::sched::Policy& policy, uint32_t cpus, uint32_t threads,
                 EmaOptions options = {});
    uint32_t wake(uint32_t tid, uint64_t now) override;
    uint32_t pick(uint32_t cpu, uint64_t now) override;
    bool should_preempt(uint32_t cpu, uint32_t tid, uint64_t ran_ns, uint64_t now) override;
    void stop(uint32_t cpu, uint32_t tid, uint64_t ran_ns, mk::sched::StopReason why,
              uint64_t now) override;

    const mk::sched::Entity& entity(uint32_t tid) const { return entities_[tid]; }
    // As if `tid` had last run on `cpu` (before it starts).
    void set_last_cpu(uint32_t tid, uint32_t cpu) { entities_[tid].last_cpu = cpu; }
    const mk::sched::RunQueue& queue(uint32_t cpu) const { return *queues_[cpu]; }
    uint64_t steals() const { return steals_; }
    uint64_t pulls() const { return pulls_; }

private:
    const mk::sched::Policy& policy_;
    std::vector<std::unique_ptr<mk::sched::RunQueue>> queues_;
    std::vector<mk::sched::RunQueue*> queue_ptrs_;
    std::vector<mk::sched::Entity> entities_;
    EmaOptions options_;
    uint64_t steals_ = 0;
    uint64_t pulls_ = 0;
};

// Plain round robin: one FIFO per CPU, a fixed slice, no preemption on wake-up. A woken thread
// goes to the CPU with the fewest runnable threads (its last CPU among equals); an idle CPU
// takes the head of the longest queue.
class RoundRobin final : public Scheduler {
public:
    RoundRobin(uint64_t slice_ns, uint32_t cpus, uint32_t threads);
    uint32_t wake(uint32_t tid, uint64_t now) override;
    uint32_t pick(uint32_t cpu, uint64_t now) override;
    bool should_preempt(uint32_t cpu, uint32_t tid, uint64_t ran_ns, uint64_t now) override;
    void stop(uint32_t cpu, uint32_t tid, uint64_t ran_ns, mk::sched::StopReason why,
              uint64_t now) override;

private:
    size_t load(uint32_t cpu) const { return queues_[cpu].size() + (running_[cpu] ? 1 : 0); }

    uint64_t slice_ns_;
    std::vector<std::deque<uint32_t>> queues_;
    std::vector<bool> running_;
    std::vector<uint32_t> last_cpu_;
};

struct ThreadStats {
    uint64_t cpu_ns = 0; // CPU time received
    // Waits end when the thread receives CPU time (a run preempted after 0 ns does not count).
    uint64_t max_wait_ns = 0;              // longest stretch runnable without running
    std::vector<uint64_t> wake_latency_ns; // per wake-up: from the wake to running
    uint64_t dispatches = 0;
    uint64_t migrations = 0; // dispatches on another CPU than the previous one
    uint32_t last_cpu = kNone;
};

struct Machine {
    uint32_t cpus = 1;
    uint64_t tick_ns = kMs; // the preemption timer's period
    uint64_t seed = 1;
};

class Simulator {
public:
    Simulator(const Machine& machine, Scheduler& scheduler, std::vector<Workload> workloads);
    // Advances the virtual clock to `end_ns`, processing every event up to it.
    void run_until(uint64_t end_ns);

    uint64_t now() const { return now_; }
    const ThreadStats& stats(uint32_t tid) const { return threads_[tid].stats; }
    // CPU time received by `tid` so far, counting a run still in progress.
    uint64_t cpu_time_ns(uint32_t tid) const;
    // The longest wait of `tid` so far, counting a wait still in progress.
    uint64_t longest_wait_ns(uint32_t tid) const;
    uint32_t threads() const { return uint32_t(threads_.size()); }
    // Summed over all CPUs: time spent idle while some thread was queued somewhere.
    uint64_t idle_while_queued_ns() const { return idle_while_queued_ns_; }

private:
    enum class State : uint8_t { Sleeping, Runnable, Running };
    struct Thread {
        Workload workload;
        Rng rng;
        State state = State::Sleeping;
        uint64_t wake_at = 0;
        uint64_t remaining_ns = 0; // of the burst in progress
        uint64_t runnable_since = 0;
        uint64_t woke_at = 0;
        bool waiting = false; // runnable_since opens a wait not yet closed by CPU time
        bool pending_latency = false;
        ThreadStats stats;
    };
    struct Cpu {
        uint32_t running = kNone;
        uint64_t picked_at = 0;
    };

    uint64_t next_event() const;
    void end_run(uint32_t cpu, mk::sched::StopReason why);
    void wake(uint32_t tid);
    void dispatch(uint32_t cpu);
    void close_wait(Thread& t, uint64_t ran_from);

    Machine machine_;
    Scheduler& scheduler_;
    std::vector<Thread> threads_;
    std::vector<Cpu> cpus_;
    uint64_t now_ = 0;
    uint64_t next_tick_;
    uint64_t idle_while_queued_ns_ = 0;
};

} // namespace sched_sim
