// Wait queues: where threads sleep until an event (a ring filling, an IRQ, a thread exiting),
// optionally with a deadline.
#pragma once

#include "arch/x86_64/spinlock.hpp"
#include "sched/thread.hpp"

#include <exo/status.hpp>

namespace mk {

class WaitQueue {
public:
    // Sleeps until `ready()` is true, checked under the queue's lock before each sleep, so a
    // wake between the check and the sleep is never lost. `deadline_ns` (monotonic; 0: none)
    // bounds the wait: TimedOut then. Thread context, interrupts enabled.
    template <typename Ready>
    exo::Status wait_until(Ready&& ready, uint64_t deadline_ns = 0) {
        for (;;) {
            bool enabled = cpu::save_and_disable_interrupts();
            lock_.lock();
            if (ready()) {
                lock_.unlock();
                cpu::restore_interrupts(enabled);
                return exo::Status::Ok;
            }
            WakeReason why = sleep_locked(deadline_ns);
            cpu::restore_interrupts(enabled);
            if (why == WakeReason::TimedOut) {
                // A wake-up may have raced with the deadline: the condition decides.
                LockGuard guard(lock_);
                return ready() ? exo::Status::Ok : exo::Status::TimedOut;
            }
        }
    }

    // Runs `change()` (what makes waiters' conditions true) under the queue's lock, then wakes
    // every waiter. A waiter cannot see the change before the lock is released, so the queue may
    // be destroyed as soon as a waiter returns (e.g. a completion on the waiter's stack).
    template <typename Change>
    size_t change_and_wake_all(Change&& change) {
        size_t woken;
        {
            LockGuard guard(lock_);
            change();
            woken = wake_all_locked();
        }
        preempt_if_needed();
        return woken;
    }

    // Wakes every waiter without preempting the caller (sched::wake's may_preempt): for a
    // notification whose sender has more to do, like a ring producer mid-stream.
    size_t wake_all_deferred();

private:
    // Queues the current thread, releases the lock and blocks; returns why it woke.
    WakeReason sleep_locked(uint64_t deadline_ns);
    bool remove_locked(Thread& t);
    size_t wake_all_locked(bool may_preempt = true);
    static void preempt_if_needed();

    IrqSpinLock lock_;
    Thread* head_ = nullptr;
    Thread* tail_ = nullptr;
};

} // namespace mk
