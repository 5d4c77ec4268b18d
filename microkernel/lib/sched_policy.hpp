// The predictive scheduler policy (portable kernel core, no kernel or OS dependency): an EMA of
// each thread's CPU bursts sorts it into Hot/Normal/Cold; per-CPU run queues pick in O(1) with
// class ageing, cache-affinity placement and balancing. See docs/scheduler.md.
#pragma once

#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>

namespace mk::sched {

// Ordered by urgency: a lower value is served first.
enum class Class : uint8_t { Hot = 0, Normal = 1, Cold = 2 };
inline constexpr uint32_t kClassCount = 3;

inline constexpr uint32_t kNoCpu = UINT32_MAX;
// Bursts, predictions and thresholds saturate here (2^40 ns, about 18 minutes), so that the EMA's
// products stay below 2^57 with alpha_den <= kMaxAlphaDen.
inline constexpr uint64_t kMaxBurstNs = uint64_t(1) << 40;
inline constexpr uint32_t kMaxAlphaDen = 1u << 16;

// Every time is in nanoseconds; `now` arguments come from one monotonic clock shared by all CPUs.
struct Config {
    // EMA weight of the newest burst: alpha = alpha_num / alpha_den (0 < alpha <= 1).
    uint32_t alpha_num = 1;
    uint32_t alpha_den = 4;
    // Class of a predicted burst p: Hot if p < hot_below_ns, Cold if p > cold_above_ns, else
    // Normal.
    uint64_t hot_below_ns = 3'000'000;
    uint64_t cold_above_ns = 10'000'000;
    // A non-empty class that has not been served for longer than this is served before any
    // other (ageing). Must be >= every slice.
    uint64_t age_limit_ns = 100'000'000;
    // A waking thread stays on its last CPU unless that CPU's load exceeds the least-loaded
    // CPU's load by more than this share (200 = 20 %). At most 1000.
    uint32_t affinity_bonus_permille = 200;
    // Time slice by class (indexed by Class): how long a thread picked from that class keeps the
    // CPU once another thread waits. Each nonzero.
    uint64_t slice_ns[kClassCount] = {3'000'000, 10'000'000, 20'000'000};
    // Prediction of a new thread (Normal by default: one short burst makes it Hot).
    uint64_t initial_prediction_ns = 3'000'000;
    // A thread counts as cache-hot on the CPU it last ran on for this long after it stopped
    // there; steal_one() avoids taking cache-hot threads.
    uint64_t cache_hot_ns = 500'000;
};

class RunQueue;

// Why the running thread gave up the CPU. Blocked and Yielded end its burst; Preempted does not.
enum class StopReason : uint8_t { Blocked, Yielded, Preempted };

// The scheduler state the kernel embeds in its Thread (intrusive: no allocation). Policy::init
// sets it up; from then on only Policy and RunQueue write it, the kernel only reads it.
struct Entity {
    uint64_t prediction_ns = 0; // EMA of the thread's completed bursts
    uint64_t burst_ns = 0;      // CPU time of the burst in progress (since it became runnable)
    uint64_t runtime_ns = 0;    // CPU time received in all
    uint64_t enqueued_at = 0;   // when its current wait in a queue began
    uint64_t stopped_at = 0;    // when it last stopped running
    uint64_t slice_used_ns = 0; // of its slice, when preempted before the slice's end
    Entity* next = nullptr;     // links in queue->list of `klass` while queued
    Entity* prev = nullptr;
    RunQueue* queue = nullptr;   // the queue holding it; null while running or blocked
    uint32_t last_cpu = kNoCpu;  // the CPU it last ran on (set when a queue pops it)
    Class klass = Class::Normal; // the class it was queued, and then picked, in
    bool aged = false;           // picked because its class had waited past age_limit_ns
    bool keeps_turn = false;     // preempted before the end of its slice: resumes at the head
};

// The policy proper: parameters and per-thread decisions. Immutable once made, so every CPU may
// call it without a lock; the functions that take queues read or write them as stated.
class Policy {
public:
    // The default Config (valid).
    Policy() = default;
    // InvalidArgument: alpha_den or alpha_num is 0, alpha_num > alpha_den, a slice is 0,
    // hot_below_ns > cold_above_ns, or age_limit_ns is below a slice.
    // OutOfRange: alpha_den > kMaxAlphaDen, affinity_bonus_permille > 1000, or a threshold or
    // the initial prediction above kMaxBurstNs.
    static exo::Result<void> validate(const Config& config);
    static exo::Result<Policy> create(const Config& config);

    const Config& config() const { return config_; }

    // Makes `e` (not queued, not running) a fresh thread: initial prediction, no burst, no
    // CPU yet.
    void init(Entity& e) const;

    // The class of a predicted burst, by the thresholds.
    Class classify_ns(uint64_t prediction_ns) const;
    // The class of `e` by max(prediction, burst in progress): a thread that runs longer than its
    // prediction is reclassified at once (a running hog stops being Hot after 3 ms).
    Class classify(const Entity& e) const;

    // The EMA step: prediction + alpha * (burst - prediction), in integers, rounded to nearest
    // (halves up): (prediction * (den - num) + burst * num + den / 2) / den. Both arguments
    // saturate at kMaxBurstNs.
    uint64_t ema(uint64_t prediction_ns, uint64_t burst_ns) const;

    // Accounts `ran_ns` of CPU time to the burst in progress and to the runtime. Blocked and
    // Yielded then end the burst: the prediction takes its EMA step and the burst restarts at
    // 0. Touches only `e`.
    void ran(Entity& e, uint64_t ran_ns, StopReason why) const;

    // The slice of the class `e` was picked from. A thread preempted before the end of its
    // slice keeps its turn and the rest of the slice (keeps_turn; slice_used_ns counts what it
    // used): it returns to the head of its class on its CPU and resumes.
    uint64_t slice_ns(const Entity& e) const { return config_.slice_ns[uint32_t(e.klass)]; }
    // What is left of the slice of `e` when it is popped (a resumed thread has used some): when
    // a tickless kernel arms its timer. slice_ns(e) - slice_used_ns, at least 0.
    uint64_t slice_left_ns(const Entity& e) const;
    // Whether `running`, picked ran_ns ago, has used up its slice.
    bool slice_used_up(const Entity& running, uint64_t ran_ns) const;

    // Whether the thread running on `queue`'s CPU, picked `ran_ns` ago, must give up the CPU
    // now. True when a thread waits there and either the slice is used up, or the next pick is
    // of a more urgent class than the running thread's current one (by max(prediction,
    // burst_ns + ran_ns): a hog picked as Hot is preempted as soon as it stops being Hot),
    // unless `running` was picked by ageing. Call it at every timer tick and after pushing a
    // woken thread (an IPI carries the answer to another CPU). Reads `queue` only.
    bool should_preempt(const Entity& running, uint64_t ran_ns, const RunQueue& queue,
                        uint64_t now) const;

    // Where a waking thread goes: its last CPU, unless that CPU's load exceeds the least-loaded
    // CPU's load by more than the affinity bonus, i.e.
    //     load(last) * 1000 > load(least) * (1000 + affinity_bonus_permille);
    // then the least-loaded CPU (the lowest index among equals). A thread without a valid
    // last CPU goes to the least-loaded one. Reads load() of every queue (cross-queue, read
    // only; a stale value only makes the placement worse, never wrong). count must be >= 1.
    uint32_t choose_cpu(const Entity& e, const RunQueue* const* queues, uint32_t count) const;

    // Balance at the end of a full slice on CPU `self`, whose next thread of class `c` has
    // waited since `since` and received `runtime_ns` of CPU: the CPU (not self) whose oldest
    // thread of class `c` is behind it, i.e. queued no later (enqueued_at <= since) and with
    // less CPU by more than half a class-`c` slice (runtime + slice / 2 < runtime_ns); the one
    // with the least runtime, kNoCpu if none. The caller takes it with take_behind() and runs it
    // next (push_front). Uneven thread counts so stay fair; balanced queues move nothing.
    // Reads the oldest_*() hints of every queue (cross-queue, read only).
    uint32_t find_behind(const RunQueue* const* queues, uint32_t count, uint32_t self, Class c,
                         uint64_t since, uint64_t runtime_ns) const;
    // The test of find_behind() for one thread `e` of class `c`.
    bool is_behind(const Entity& e, Class c, uint64_t since, uint64_t runtime_ns) const;

    // The queue an idle CPU `self` steals from: the busiest (highest load(), lowest index among
    // equals) that has a queued thread and a load above queues[self]'s; kNoCpu when there is
    // none. Reads load() of every queue (cross-queue, read only); the caller then locks the
    // victim alone for steal_one().
    uint32_t find_busiest(const RunQueue* const* queues, uint32_t count, uint32_t self) const;

    // Whether `e` is cache-hot on `cpu`: it last ran there, less than cache_hot_ns ago.
    bool is_cache_hot(const Entity& e, uint32_t cpu, uint64_t now) const;

private:
    explicit Policy(const Config& config) : config_(config) {}

    Config config_;
};

// One CPU's run queue: an intrusive FIFO list per class, a bitmap of the non-empty ones, the
// running thread. Not thread-safe: the kernel holds this queue's lock around every call on it.
// Every member touches only this queue and the entities in (or entering or leaving) it.
//
// Pick order (pop): if a non-empty class has gone unserved for longer than age_limit_ns, the
// class that has waited the longest is served; otherwise the most urgent non-empty class. A
// class is served when one of its threads completes a service: blocks, yields or uses up its
// slice (stop()); a thread preempted earlier does not count. A thread picked for its class's
// age (`aged`) is not preempted for urgency before its slice ends, so that pick completes a
// service. O(kClassCount), whatever the thread count.
//
// Within a class, threads are ordered by enqueued_at, oldest first (FIFO): a thread preempted
// before the end of its slice returns to the head keeping its enqueued_at (it keeps its turn),
// and a thread pulled from another CPU (push_front) goes in its place by enqueued_at (at the
// head, normally).
//
// Invariants (check_invariants() verifies them): each list is a well-linked chain, ordered by
// enqueued_at, of entities whose `queue` is this and `klass` is that list's; bit c of the
// bitmap is set iff list c is non-empty; size() is the sum of the list lengths; the oldest_*()
// hints match the heads; the current thread is not queued.
class RunQueue {
public:
    // `policy` must outlive the queue.
    RunQueue(const Policy& policy, uint32_t cpu) : policy_(policy), cpu_(cpu) {}
    RunQueue(const RunQueue&) = delete;
    RunQueue& operator=(const RunQueue&) = delete;

    // Queues a runnable thread (woken, preempted, yielded, stolen) at the tail of the list of
    // classify(e), enqueued_at = now; at its head if `e` was preempted here before the end of
    // its slice and its class has not changed (otherwise the rest of its slice is dropped).
    // `e` must be neither queued nor this queue's current thread. O(1).
    void push(Entity& e, uint64_t now);

    // Removes and returns the next thread to run (see the pick order) and makes it this CPU's
    // current thread; null when the queue is empty. There must be no current thread. O(1).
    Entity* pop(uint64_t now);
    // What pop(now) would return, without changing anything. O(1).
    const Entity* peek(uint64_t now) const;

    // The current thread `e` stops after running `ran_ns` since it was popped: accounts it
    // (Policy::ran) and clears the current thread. Preempted before the end of its slice, it
    // keeps its turn (keeps_turn); otherwise it completed a service of its class, which resets
    // that class's age. The caller then push()es `e` back here if it is still runnable
    // (yielded or preempted). O(1).
    void stop(Entity& e, uint64_t ran_ns, StopReason why, uint64_t now);

    // Takes one queued thread for an idle CPU, or null when none is queued. Candidates, in
    // order: the tail then the head of each non-empty class, from the least urgent class to the
    // most; the first that is not cache-hot here is taken. If all are, the tail of the least
    // urgent class is taken anyway (an idle CPU costs more than a cache refill). The caller
    // pushes it on its own queue. O(kClassCount).
    Entity* steal_one(uint64_t now);

    // For find_behind(): takes the oldest thread of class `c` if it is still behind
    // (Policy::is_behind), else null. The caller push_front()s it on its own queue. O(1).
    Entity* take_behind(Class c, uint64_t since, uint64_t runtime_ns);
    // Queues `e` from take_behind() keeping its enqueued_at (its wait goes on): at the head of
    // its class, where it is normally older than every thread here; if this queue gained an
    // older one since the caller looked (no lock is held across the move), in its place by
    // enqueued_at. O(1) in the first case, O(class length) in the second.
    void push_front(Entity& e);

    // Takes queued `e` out of this queue (exit, suspend, migration); false, and nothing
    // changes, when `e` is not queued here. O(1).
    bool remove(Entity& e);

    uint32_t cpu() const { return cpu_; }
    // Queued threads (the current one excluded), in all classes or in one.
    size_t size() const { return size_; }
    size_t size(Class c) const { return lists_[uint32_t(c)].size; }
    // Runnable threads on this CPU: queued plus the running one.
    uint64_t load() const { return size_ + (current_ != nullptr ? 1 : 0); }
    const Entity* current() const { return current_; }
    // The oldest queued thread of class `c` (its list's head), null if none.
    const Entity* oldest(Class c) const { return lists_[uint32_t(c)].head; }
    // Its enqueued_at and runtime_ns (UINT64_MAX when the class is empty): plain copies, so
    // other CPUs may read them without this queue's lock, as hints.
    uint64_t oldest_since(Class c) const { return lists_[uint32_t(c)].head_since; }
    uint64_t oldest_runtime(Class c) const { return lists_[uint32_t(c)].head_runtime; }

    // Walks every list; true when the invariants above hold. O(size).
    bool check_invariants() const;

private:
    struct List {
        Entity* head = nullptr;
        Entity* tail = nullptr;
        size_t size = 0;
        uint64_t served_at = 0; // last completed service, or when the list became non-empty
        uint64_t head_since = UINT64_MAX;
        uint64_t head_runtime = UINT64_MAX;
    };

    // The list pop() takes from, and whether it was chosen for its age.
    uint32_t pick_class(uint64_t now, bool* aged) const;
    void link(Entity& e, uint64_t now, bool at_head);
    void unlink(Entity& e);
    static void update_hints(List& list);

    const Policy& policy_;
    uint32_t cpu_;
    List lists_[kClassCount];
    uint8_t nonempty_ = 0; // bit c: lists_[c] is non-empty
    size_t size_ = 0;
    Entity* current_ = nullptr;
};

} // namespace mk::sched
