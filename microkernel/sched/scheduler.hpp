// The scheduler: per-CPU run queues under the EMA predictive policy (lib/sched_policy.hpp),
// the voluntary and preempting switches, sleeping and waking, the per-CPU idle loop, and the
// timer (tickless when idle: only a running thread's slice end or a sleeper's deadline arms
// it).
//
// Locking: each CPU's run queue has a lock (taken with interrupts disabled). A thread's state
// moves from Blocked only under the lock of the CPU it last ran on, which is also the lock under
// which that CPU stops it: so a wake-up racing with the thread's own switch-out either finds it
// still current (and it simply keeps running) or finds it stopped (and queues it). No code
// holds two run-queue locks at once.
#pragma once

#include "arch/x86_64/percpu.hpp"
#include "lib/sched_policy.hpp"
#include "sched/thread.hpp"

#include <exo/result.hpp>

namespace mk::sched {

// Boot CPU: the policy (from `config`), its run queue and idle thread, and the calling context
// (running on `stack`) becomes the thread "boot". Timer and IPI handlers installed.
exo::Result<void> init(const Config& config, const KernelStack& stack);
// Prepares another CPU's run queue and idle thread (which will run on `stack`), on the boot CPU.
exo::Result<void> prepare_secondary_cpu(Cpu& cpu, const KernelStack& stack);
// On that CPU: marks it online and runs its idle loop.
[[noreturn]] void run_secondary_cpu(Cpu& cpu);

const Policy& policy();

// Makes a new thread runnable (the spawn path): placed like a waking thread.
void enqueue_new(Thread& thread);

// Gives up the CPU; the thread stays runnable (its burst ends).
void yield();
// Loads the current thread's context again after its address space or ports changed.
void reload_context();
// Blocks the calling thread until wake() (or its deadline, if set). Interrupts must be
// disabled by the caller, who has made the thread findable by a waker (wait queue, timer).
void block_current();
// Makes a Blocked thread runnable with `reason`; false if it was not blocked. Without
// `may_preempt` it never takes the waker's CPU before the waker's slice ends or it blocks
// (another CPU still takes it as usual): a ring's producer keeps filling the ring.
bool wake(Thread& thread, WakeReason reason, bool may_preempt = true);
// Switches now if this CPU was asked to reschedule and the caller can be preempted (thread
// context, interrupts enabled); otherwise the next interrupt return does it.
void preempt_if_needed();
// Sleeps for `ns` of monotonic time.
void sleep_ns(uint64_t ns);

// Deadline support for waits (wait_queue.cpp): the thread is woken with TimedOut at `deadline`.
void timer_add(Thread& thread, uint64_t deadline_ns);
void timer_cancel(Thread& thread);

Thread* current();
// The current thread's stack (the panic path's backtrace bounds); unchanged if none.
void current_stack_bounds(uint64_t& low, uint64_t& high);
// Internal to the switch path: a new thread's first act (thread_entry).
void finish_switch_from_new(Thread& prev);

// Statistics of the wake-to-run latency (ns from wake() to the first instruction back on a
// CPU) of threads flagged with `record_latency`. Filled by the scheduler, read by benchmarks.
struct LatencyProbe {
    Thread* thread = nullptr;
    uint64_t* samples = nullptr;
    size_t capacity = 0;
    std::atomic<size_t> count{0};
};
void set_latency_probe(LatencyProbe* probe);

// Logs each CPU's scheduler state (diagnostics; reads without locks).
void log_state();

// For tests and benchmarks: each CPU's count of dispatches (threads switched to).
uint64_t dispatch_count(uint32_t cpu);

} // namespace mk::sched
